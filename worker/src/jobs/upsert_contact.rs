//! `upsert_contact`: one RingCentral personal contact → one Snapshots lead.
//!
//! - Mapped with `lead_from_contact` (its `contact_id` links the lead to the contact).
//! - Duplicates by email: the first contact synced with an email owns the lead
//!   (`claim_lead_email`); a later one with the same email makes no lead and the job
//!   records "duplicate of contact N".
//! - Owner: a lead that exists keeps its owner; a new lead gets one from the routing rules
//!   (rule → owner or team round-robin, else the fallback team), with the decision logged.
//! - A contact deleted at the source gets the configured action (tag `deleted`; Snapshots
//!   cannot delete leads) and gives up its email claim so the next contact can take over.
//! - After a write, the lead's phone is indexed (`{prefix}:lead:phone:<e164>` → external id)
//!   so a voicemail from that number finds the lead and its owner.

use redis::AsyncCommands;
use serde_json::Value;
use snapsync::mapping::{claim_lead_email, release_lead_email, EmailClaim, Resource};
use snapsync::snapshots::Collection;

use super::context::Context;
use super::deletions;
use super::failure::{job_error, HandlerError};
use super::payload::UpsertContact;
use crate::error::JobError;
use crate::job::JobMeta;

pub async fn run(ctx: &Context, payload: UpsertContact, job: &JobMeta) -> Result<(), JobError> {
    let contact = &payload.contact;
    let id = match contact.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            let e = HandlerError::Payload("the contact in the payload has no id".into());
            return Err(job_error(&format!("upsert_contact job {}", job.id), &e));
        }
    };
    let name = format!("contact {id} (extension {})", payload.extension_id);
    upsert(ctx, &payload, &id, job).await.map_err(|e| job_error(&name, &e))
}

async fn upsert(ctx: &Context, payload: &UpsertContact, id: &str, job: &JobMeta) -> Result<(), HandlerError> {
    let contact = &payload.contact;
    let deleted = matches!(contact.get("availability").and_then(Value::as_str), Some("Deleted" | "Purged"));
    if deleted {
        return delete(ctx, id).await;
    }
    let mapped = ctx.mapping.map(Resource::LeadFromContact, contact)?;
    for note in &mapped.notes {
        tracing::info!(contact_id = %id, note = %note, "mapping note");
    }
    let mut record = mapped.record;
    let email = record.get("email").and_then(Value::as_str).map(str::to_owned);
    let mut conn = ctx.redis.clone();
    if let EmailClaim::DuplicateOf { contact_id } =
        claim_lead_email(&mut conn, &ctx.prefix, email.as_deref(), id).await?
    {
        tracing::info!(contact_id = %id, "duplicate of contact {contact_id} (same email); no second lead");
        return Ok(());
    }
    if let Some(email) = &email {
        let _: () = conn.set(contact_email_key(ctx, id), email).await?;
    }
    let existing = ctx.snapshots.find_by_external_id(Collection::Leads, &mapped.external_id).await?;
    let kept = existing.as_ref().and_then(|r| r.fields.get("owner")).and_then(Value::as_str).map(str::to_owned);
    let owner = match kept {
        Some(owner) => owner,
        None => {
            let owners = ctx.owners().await?;
            let routed = ctx.router.route(contact, payload.site_id.as_deref(), &owners).await?;
            tracing::info!(contact_id = %id, owner = %routed.owner, rule = %routed.rule, reason = %routed.reason, "lead routed");
            routed.owner
        }
    };
    record.insert("owner".into(), Value::String(owner));
    let phone = record.get("phone").and_then(Value::as_str).map(str::to_owned);
    let key = super::idempotency_key(job, &mapped.external_id, &record);
    let outcome = ctx.snapshots.upsert(Collection::Leads, &mapped.external_id, record, &key, None).await?;
    if let Some(phone) = phone {
        let _: () = conn.set(phone_key(ctx, &phone), &mapped.external_id).await?;
    }
    tracing::info!(contact_id = %id, outcome = ?outcome, "lead upserted");
    Ok(())
}

async fn delete(ctx: &Context, id: &str) -> Result<(), HandlerError> {
    let external_id = format!("ringcentral:contact:{id}");
    let done = deletions::apply(ctx, Collection::Leads, &external_id).await?;
    let mut conn = ctx.redis.clone();
    let email: Option<String> = conn.get(contact_email_key(ctx, id)).await?;
    if let Some(email) = email {
        release_lead_email(&mut conn, &ctx.prefix, &email, id).await?;
        let _: i64 = conn.del(contact_email_key(ctx, id)).await?;
    }
    tracing::info!(contact_id = %id, action = ?done, "contact deleted at the source");
    Ok(())
}

fn contact_email_key(ctx: &Context, contact_id: &str) -> String {
    ctx.key(&format!("lead:contact-email:{contact_id}"))
}

/// The key of the phone → lead index (`phone` in E.164).
pub fn phone_key(ctx: &Context, phone: &str) -> String {
    ctx.key(&format!("lead:phone:{phone}"))
}
