//! `voicemail_follow_up`: a voicemail → a Snapshots follow-up activity, due a day after the
//! call, for the owner of the caller's lead.
//!
//! The message is the one the notification carried (the producer puts the event's body, the
//! message-store record, in the payload); only a payload without it reads `message-store`.
//!
//! The lead is found by the caller's number (E.164) through the phone index that
//! `upsert_contact` keeps; its current owner gets the follow-up and the activity names the
//! lead. A caller with no lead gets an owner from the routing rules (as a new lead would,
//! from the caller's number and the called extension's site). Activities cannot be
//! patched: the activity is created once per voicemail (`ringcentral:voicemail:<id>`).

use redis::AsyncCommands;
use serde_json::{json, Value};
use snapsync::mapping::phone::to_e164;
use snapsync::mapping::Resource;
use snapsync::ringcentral::types::Message;
use snapsync::snapshots::{Collection, Record};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::context::Context;
use super::failure::{job_error, HandlerError};
use super::sync_locations::to_json;
use super::upsert_contact::phone_key;
use snapsync::jobs::VoicemailFollowUp;
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

/// When the follow-up is due, after the voicemail arrived.
const DUE_AFTER: time::Duration = time::Duration::days(1);

pub async fn run(ctx: &Context, payload: VoicemailFollowUp, job: &JobMeta) -> Result<(), JobError> {
    let name = format!("voicemail {} (extension {})", payload.message_id, payload.extension_id);
    follow_up(ctx, &payload, job).await.map_err(|e| job_error(&name, &e))
}

async fn follow_up(ctx: &Context, payload: &VoicemailFollowUp, job: &JobMeta) -> Result<(), HandlerError> {
    let message = match carried_message(payload) {
        Some(message) => message,
        None => ctx.rc.message(&payload.extension_id, &payload.message_id).await?,
    };
    let mut source = to_json(&message);
    if let Value::Object(m) = &mut source {
        m.insert("extensionId".into(), Value::String(payload.extension_id.clone()));
    }
    let mapping = ctx.mapping();
    let mapped = mapping.map(Resource::FollowUpFromVoicemail, &source)?;
    let mut record = mapped.record;
    let caller = message.from.as_ref().and_then(|f| f.phone_number.as_deref());
    let e164 = caller.and_then(|p| to_e164(p, mapping.default_country()));
    let lead = match &e164 {
        Some(phone) => lead_by_phone(ctx, phone).await?,
        None => None,
    };
    let lead_owner = lead.as_ref().and_then(|l| l.fields.get("owner")).and_then(Value::as_str).map(str::to_owned);
    let owner = match lead_owner {
        Some(owner) => owner,
        None => {
            let site = ctx.rc.extension(&payload.extension_id).await?.site.and_then(|s| s.id);
            let owners = ctx.owners().await?;
            let caller_as_contact = json!({ "businessPhone": e164.as_deref().or(caller) });
            let routed = ctx.router.route(&caller_as_contact, site.as_deref(), &owners).await?;
            tracing::info!(message_id = %payload.message_id, owner = %routed.owner, reason = %routed.reason, "follow-up routed (no lead for the caller)");
            routed.owner
        }
    };
    if let Some(lead) = &lead {
        record.insert("lead_id".into(), Value::String(lead.id.clone()));
    }
    record.insert("owner".into(), Value::String(owner));
    let arrived = message
        .creation_time
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .unwrap_or_else(OffsetDateTime::now_utc);
    if let Ok(due) = (arrived + DUE_AFTER).format(&Rfc3339) {
        record.insert("due_at".into(), Value::String(due));
    }
    let key = super::idempotency_key(job, &mapped.external_id, &record);
    let outcome = ctx.snapshots.create_activity(&mapped.external_id, record, &key).await?;
    tracing::info!(message_id = %payload.message_id, lead = lead.is_some(), outcome = ?outcome, "follow-up recorded");
    Ok(())
}

/// The message the payload carries (the notification's body), when it reads as the message
/// `message_id`; else `None` and it is read from the message store.
fn carried_message(payload: &VoicemailFollowUp) -> Option<Message> {
    let value = payload.message.clone()?;
    match serde_json::from_value::<Message>(value) {
        Ok(m) if m.id == payload.message_id => Some(m),
        Ok(m) => {
            tracing::warn!(message_id = %payload.message_id, carried = %m.id, "the payload carries another message; reading it");
            None
        }
        Err(e) => {
            tracing::warn!(message_id = %payload.message_id, error = %e, "the carried message does not read as one; reading it");
            None
        }
    }
}

/// The lead whose phone is `phone` (E.164), through the phone index `upsert_contact` keeps.
pub(crate) async fn lead_by_phone(ctx: &Context, phone: &str) -> Result<Option<Record>, HandlerError> {
    let mut conn = ctx.redis.clone();
    let external_id: Option<String> = conn.get(phone_key(ctx, phone)).await?;
    match external_id {
        Some(id) => Ok(ctx.snapshots.find_by_external_id(Collection::Leads, &id).await?),
        None => Ok(None),
    }
}
