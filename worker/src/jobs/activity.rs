//! What the call and message activities share: the extension's site, the location
//! `sync_locations` wrote for it, and the write itself (linked to the other party's lead).

use serde_json::{Map, Value};
use snapsync::mapping::Resource;
use snapsync::snapshots::{state, ActivityOutcome, Collection};
use snapsync_queue::JobMeta;

use super::context::Context;
use super::failure::HandlerError;
use super::voicemail_follow_up::lead_by_phone;

/// The site of `extension_id` (`extension/{id}`, Light); `None` when it has none.
pub async fn extension_site(ctx: &Context, extension_id: &str) -> Result<Option<String>, HandlerError> {
    Ok(ctx.rc.extension(extension_id).await?.site.and_then(|s| s.id))
}

/// The Snapshots id of the location of `site`. A site whose location `sync_locations` has
/// not written yet is [`HandlerError::NotYet`] (the next locations sync writes it); no site,
/// no location.
pub async fn site_location(ctx: &Context, site: Option<&str>) -> Result<Option<String>, HandlerError> {
    let Some(site) = site else { return Ok(None) };
    let location = ctx.mapping().map(Resource::LocationFromSite, &serde_json::json!({ "id": site }))?;
    let mut conn = ctx.redis.clone();
    match state::load(&mut conn, &ctx.state_prefix, Collection::Locations, &location.external_id).await?.id {
        Some(id) => Ok(Some(id)),
        None => Err(HandlerError::NotYet(format!(
            "the location of site {site} ({}) is not synced yet; sync_locations writes it",
            location.external_id
        ))),
    }
}

/// Creates the activity `record` (`external_id`), once: linked to the lead whose phone is
/// `phone` (E.164), with that lead's owner, when there is one. Returns whether a lead was
/// found and what Snapshots did.
pub async fn create_linked(
    ctx: &Context,
    job: &JobMeta,
    external_id: &str,
    mut record: Map<String, Value>,
    phone: Option<&str>,
) -> Result<(bool, ActivityOutcome), HandlerError> {
    let lead = match phone {
        Some(p) => lead_by_phone(ctx, p).await?,
        None => None,
    };
    if let Some(lead) = &lead {
        record.insert("lead_id".into(), Value::String(lead.id.clone()));
        if let Some(owner) = lead.fields.get("owner").and_then(Value::as_str) {
            record.insert("owner".into(), Value::String(owner.to_owned()));
        }
    }
    let key = super::idempotency_key(job, external_id, &record);
    let outcome = ctx.snapshots.create_activity(external_id, record, &key).await?;
    Ok((lead.is_some(), outcome))
}
