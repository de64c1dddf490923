//! `tag_message`: an inbound SMS or fax → one Snapshots activity of type `message`, tagged with
//! the location of the extension that received it and linked to the sender's lead when the
//! number is a known contact.
//!
//! The message is the one the notification carried (the instant-SMS and inbound-fax events'
//! body is the message-store record); only a payload without it reads `message-store/{id}`
//! (Light). Site, location and lead as `tag_call` finds them (a site whose location is not
//! synced yet is a retry). Idempotent per message: `ringcentral:message:<id>`, created once.
//! A message from a number with no lead is kept, with no lead.

use serde_json::Value;
use snapsync::jobs::TagMessage;
use snapsync::mapping::phone::to_e164;
use snapsync::mapping::Resource;

use super::context::Context;
use super::failure::{job_error, HandlerError};
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

pub async fn run(ctx: &Context, payload: TagMessage, job: &JobMeta) -> Result<(), JobError> {
    let name = format!("message {} (extension {})", payload.message_id, payload.extension_id);
    tag(ctx, &payload, job).await.map_err(|e| job_error(&name, &e))
}

async fn tag(ctx: &Context, payload: &TagMessage, job: &JobMeta) -> Result<(), HandlerError> {
    let carried = payload.message.clone().filter(|m| {
        let id = m.get("id").map(|v| v.to_string().trim_matches('"').to_string());
        id.as_deref() == Some(payload.message_id.as_str())
    });
    let mut source = match carried {
        Some(m) => m,
        None => {
            let message = ctx.rc.message(&payload.extension_id, &payload.message_id).await?;
            super::sync_locations::to_json(&message)
        }
    };
    let site = super::activity::extension_site(ctx, &payload.extension_id).await?;
    if let Value::Object(m) = &mut source {
        m.insert("extensionId".into(), Value::String(payload.extension_id.clone()));
        if let Some(site) = &site {
            m.insert("siteId".into(), Value::String(site.clone()));
        }
    }
    let mapped = ctx.mapping().map(Resource::ActivityFromMessage, &source)?;
    let mut record = mapped.record;
    if let Some(location) = super::activity::site_location(ctx, site.as_deref()).await? {
        record.insert("location_id".into(), Value::String(location));
    }
    let sender = source.get("from").and_then(|f| f.get("phoneNumber")).and_then(Value::as_str);
    let phone = sender.and_then(|p| to_e164(p, ctx.mapping().default_country()));
    let (lead, outcome) =
        super::activity::create_linked(ctx, job, &mapped.external_id, record, phone.as_deref()).await?;
    tracing::info!(message_id = %payload.message_id, lead, outcome = ?outcome, "message tagged");
    Ok(())
}
