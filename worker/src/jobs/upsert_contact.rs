//! `upsert_contact`: one RingCentral personal contact → one Snapshots lead.
//!
//! - Mapped with `lead_from_contact` (its `contact_id` links the lead to the contact).
//! - Duplicates by email: the first contact synced with an email owns the lead
//!   (`claim_lead_email`); a later one with the same email makes no lead and the job
//!   records "duplicate of contact N".
//! - Owner: sent only when the lead is created (`OnCreate`), so a lead that exists keeps
//!   its owner; a new lead gets one from the routing rules (rule → owner or team
//!   round-robin, else the fallback team), with the decision logged. The lead is not read
//!   first: the upsert's write state or its create's 409 tells whether it exists (a new
//!   lead costs one `POST`, plus the owners list once a minute; a changed one a `PATCH`).
//! - A contact deleted at the source gets the configured action (tag `deleted`; Snapshots
//!   cannot delete leads) and gives up its email claim so the next contact can take over.
//! - `location_id`: the location of the owning extension's site, once `sync_locations` wrote it.
//! - No stale overwrite: the payload's `read_at` (the sync's `syncTime`) is the lead's source
//!   version; an upsert of an older read than the one last written is skipped.
//! - After a write, the lead's phone is indexed (`{prefix}:lead:phone:<e164>` → external id)
//!   so a voicemail from that number finds the lead and its owner.

use redis::AsyncCommands;
use serde_json::{Map, Value};
use snapsync::jobs::UpsertContact;
use snapsync::mapping::{claim_lead_email, release_lead_email, EmailClaim, Resource};
use snapsync::snapshots::{state, Collection, OnCreate, SourceVersion};

use super::context::Context;
use super::deletions;
use super::failure::{job_error, HandlerError};
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

pub async fn run(ctx: &Context, payload: UpsertContact, job: &JobMeta) -> Result<(), JobError> {
    let name = format!("contact {} (extension {})", payload.contact_id, payload.extension_id);
    let contact = match payload.contact.clone() {
        Some(c) => c,
        None => read_contact(ctx, &payload).await.map_err(|e| job_error(&name, &e))?,
    };
    let result = upsert(ctx, &payload, &contact, &payload.contact_id, job).await.map_err(|e| job_error(&name, &e));
    match &result {
        Ok(field) => super::sync_results::count(ctx, payload.run.as_deref(), field).await,
        Err(e) => super::sync_results::count_failure(ctx, payload.run.as_deref(), job, e).await,
    }
    result.map(|_| ())
}

/// The contact from RingCentral (`address-book/contact/{id}`, Heavy) when the payload does
/// not carry it; a contact that is gone (404) is handled as deleted.
async fn read_contact(ctx: &Context, payload: &UpsertContact) -> Result<Value, HandlerError> {
    let check = |what, id: &str| {
        let ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '~');
        if ok {
            Ok(())
        } else {
            Err(HandlerError::Payload(format!("{what} {id:?} is not a RingCentral id")))
        }
    };
    check("extension_id", &payload.extension_id)?;
    check("contact_id", &payload.contact_id)?;
    let path = format!(
        "/restapi/v1.0/account/~/extension/{}/address-book/contact/{}",
        payload.extension_id, payload.contact_id
    );
    match ctx.rc.get_json::<Value>(&path, &[]).await {
        Ok(answer) => Ok(answer.value),
        Err(e) if e.status() == Some(404) => {
            Ok(serde_json::json!({"id": payload.contact_id, "availability": "Deleted"}))
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes the lead (or applies the deletion); returns the sync results' field it counts in.
async fn upsert(
    ctx: &Context,
    payload: &UpsertContact,
    contact: &Value,
    id: &str,
    job: &JobMeta,
) -> Result<&'static str, HandlerError> {
    let deleted = matches!(contact.get("availability").and_then(Value::as_str), Some("Deleted" | "Purged"));
    if deleted {
        return delete(ctx, id, job).await.map(|_| "deleted");
    }
    let mapped = ctx.mapping().map(Resource::LeadFromContact, contact)?;
    for note in &mapped.notes {
        tracing::info!(contact_id = %id, note = %note, "mapping note");
    }
    let mut record = mapped.record;
    let email = record.get("email").and_then(Value::as_str).map(str::to_owned);
    let mut conn = ctx.redis.clone();
    // The email claim and the site's location do not depend on each other: both are sent at
    // once on the multiplexed connection, one round trip of waiting instead of two. The
    // claim's answer is looked at first (a duplicate makes no lead, whatever the location).
    let (claim, location) = tokio::join!(
        claim_lead_email(&mut conn, &ctx.state_prefix, email.as_deref(), id),
        site_location(ctx, payload.site_id.as_deref()),
    );
    if let EmailClaim::DuplicateOf { contact_id } = claim? {
        tracing::info!(contact_id = %id, "duplicate of contact {contact_id} (same email); no second lead");
        return Ok("unchanged");
    }
    if let Some(location_id) = location? {
        record.insert("location_id".into(), Value::String(location_id));
    }
    let phone = record.get("phone").and_then(Value::as_str).map(str::to_owned);
    // The owner is sent only when the lead is created (an existing lead keeps its own), so
    // it is routed only then: no read of the lead to learn whether it exists.
    let on_create = OnCreate {
        idempotency_key: |body: &Map<String, Value>| super::idempotency_key(job, &mapped.external_id, body),
        fields: || async {
            let owners = ctx.owners().await?;
            let routed = ctx.router.route(contact, payload.site_id.as_deref(), &owners).await?;
            tracing::info!(contact_id = %id, owner = %routed.owner, rule = %routed.rule, reason = %routed.reason, "new lead routed");
            Ok::<_, HandlerError>(Map::from_iter([("owner".to_string(), Value::String(routed.owner))]))
        },
    };
    // An older read of the contact than the one last written is skipped (`Stale`): a job
    // delayed behind a newer one (a retry, a crashed worker's job) cannot undo its change.
    let version = payload.read_at.as_deref().and_then(SourceVersion::from_timestamp);
    // The contact's email (what a deletion gives up) is recorded alongside the upsert's first
    // round trip, not before it: sent first, it is in Redis long before the lead is written,
    // and should it fail the job fails and its retry records it (the lead then unchanged).
    let recorded = async {
        match &email {
            Some(email) => conn.set(contact_email_key(ctx, id), email).await,
            None => Ok(()),
        }
    };
    let upsert =
        ctx.snapshots.upsert_with(&job.locks, Collection::Leads, &mapped.external_id, record, version, on_create);
    let (recorded, outcome) = tokio::join!(recorded, upsert);
    let outcome = outcome?;
    recorded?;
    if let Some(phone) = phone {
        let _: () = conn.set(phone_key(ctx, &phone), &mapped.external_id).await?;
    }
    tracing::info!(contact_id = %id, outcome = ?outcome, "lead upserted");
    use snapsync::snapshots::UpsertOutcome;
    Ok(match outcome {
        UpsertOutcome::Created { .. } => "created",
        UpsertOutcome::Updated { .. } => "updated",
        UpsertOutcome::Unchanged { .. } | UpsertOutcome::Stale { .. } => "unchanged",
    })
}

async fn delete(ctx: &Context, id: &str, job: &JobMeta) -> Result<(), HandlerError> {
    // The mapping's external id needs only the id; the fallback is the default file's form.
    let external_id = ctx
        .mapping()
        .map(Resource::LeadFromContact, &serde_json::json!({ "id": id }))
        .map(|m| m.external_id)
        .unwrap_or_else(|_| format!("ringcentral:contact:{id}"));
    let done = deletions::apply(ctx, &job.locks, Collection::Leads, &external_id).await?;
    let mut conn = ctx.redis.clone();
    let email: Option<String> = conn.get(contact_email_key(ctx, id)).await?;
    if let Some(email) = email {
        release_lead_email(&mut conn, &ctx.state_prefix, &email, id).await?;
        let _: i64 = conn.del(contact_email_key(ctx, id)).await?;
    }
    tracing::info!(contact_id = %id, action = ?done, "contact deleted at the source");
    Ok(())
}

/// The Snapshots id of the location of `site` (from the write state `sync_locations` kept),
/// when that location was written; `None` leaves the lead's `location_id` as it is.
async fn site_location(ctx: &Context, site: Option<&str>) -> Result<Option<String>, HandlerError> {
    let Some(site) = site else { return Ok(None) };
    let Ok(location) = ctx.mapping().map(Resource::LocationFromSite, &serde_json::json!({ "id": site })) else {
        return Ok(None);
    };
    let mut conn = ctx.redis.clone();
    Ok(state::load(&mut conn, &ctx.state_prefix, Collection::Locations, &location.external_id).await?.id)
}

fn contact_email_key(ctx: &Context, contact_id: &str) -> String {
    ctx.key(&format!("lead:contact-email:{contact_id}"))
}

/// The key of the phone → lead index (`phone` in E.164).
pub fn phone_key(ctx: &Context, phone: &str) -> String {
    ctx.key(&format!("lead:phone:{phone}"))
}
