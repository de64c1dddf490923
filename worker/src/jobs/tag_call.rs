//! `tag_call`: an ended call → one Snapshots activity of type `call`, tagged with the location
//! of the extension that handled it, linked to the other party's lead when the number is a
//! known contact.
//!
//! - The call-log record: the one the payload carries (the catch-up `sync_calls` read it), else
//!   the account's call log by the event's `telephonySessionId` (Heavy). RingCentral writes the
//!   record a little after the call ends, so none yet is a retry (with backoff), not a failure.
//!   Of several records of one session (one per party), the one of the event's extension.
//! - The extension: the record's `extension.id` (else the event's); its site (`extension/{id}`,
//!   Light) → the location `sync_locations` wrote for `ringcentral:site:<id>`. A site whose
//!   location is not written yet is a retry: the next locations sync writes it. An extension
//!   without a site makes an activity without `location_id`.
//! - The other party: `from` of an inbound call, `to` of an outbound one. Its number (E.164)
//!   finds the lead through the phone index `upsert_contact` keeps; the activity names the lead
//!   and its owner. A party with no lead (or no number) still makes the activity, with no lead.
//! - The call context of the other party's number is recorded for the routing rules
//!   (`snapsync::routing::call_context`): site, extension, direction, result, dialled number.
//! - Idempotent per call: the activity's external id is `ringcentral:call:<call-log id>`, and an
//!   activity that exists already (409) is left as it is, so the webhook's job and the
//!   catch-up's job for one call make one activity.
//! - A record that is not usable (no `id`, not an object) is a permanent error naming the call;
//!   the dead job keeps the payload, so nothing is lost.

use serde_json::{Map, Value};
use snapsync::jobs::TagCall;
use snapsync::mapping::phone::to_e164;
use snapsync::mapping::Resource;
use snapsync::routing::call_context::{self, CallContext};

use super::context::Context;
use super::failure::{job_error, HandlerError};
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

pub async fn run(ctx: &Context, payload: TagCall, job: &JobMeta) -> Result<(), JobError> {
    let name = format!("call of telephony session {}", escape(&payload.telephony_session_id));
    tag(ctx, &payload, job).await.map_err(|e| job_error(&name, &e))
}

/// A value from RingCentral or a caller, printable in a log line or error.
fn escape(s: &str) -> String {
    s.chars().take(128).flat_map(char::escape_default).collect()
}

async fn tag(ctx: &Context, payload: &TagCall, job: &JobMeta) -> Result<(), HandlerError> {
    let record = match &payload.record {
        Some(r) => r.clone(),
        None => find_record(ctx, payload).await?,
    };
    let Value::Object(mut source) = record else {
        return Err(HandlerError::Payload("the call-log record is not a JSON object".into()));
    };
    let id = match source.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(HandlerError::Payload("the call-log record has no `id`".into())),
    };
    let text = |m: &Map<String, Value>, path: &[&str]| -> Option<String> {
        let mut v = m.get(path[0])?;
        for key in &path[1..] {
            v = v.get(key)?;
        }
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let extension_id = text(&source, &["extension", "id"]).or_else(|| payload.extension_id.clone());
    let direction = text(&source, &["direction"]);
    let inbound = !direction.as_deref().is_some_and(|d| d.eq_ignore_ascii_case("Outbound"));
    let other = source.get(if inbound { "from" } else { "to" }).cloned().unwrap_or(Value::Null);
    let dialled = if inbound { text(&source, &["to", "phoneNumber"]) } else { None };
    let result = text(&source, &["result"]).or_else(|| payload.result.clone());
    let call_result = result.as_deref().map(call_context::call_result);
    let site = match &extension_id {
        Some(ext) => super::activity::extension_site(ctx, ext).await?,
        None => None,
    };
    let country = ctx.mapping().default_country().to_string();
    let dialled_e164 = dialled.as_deref().map(|d| to_e164(d, &country).unwrap_or_else(|| d.to_string()));
    source.insert("otherParty".into(), other.clone());
    for (key, value) in [
        ("extensionId", extension_id.clone()),
        ("siteId", site.clone()),
        ("callResult", call_result.map(str::to_owned)),
        ("dialledNumber", dialled_e164.clone()),
    ] {
        if let Some(v) = value {
            source.insert(key.into(), Value::String(v));
        }
    }
    let source = Value::Object(source);
    let mapped = ctx.mapping().map(Resource::ActivityFromCall, &source)?;
    let mut record = mapped.record;
    if let Some(location) = super::activity::site_location(ctx, site.as_deref()).await? {
        record.insert("location_id".into(), Value::String(location));
    }
    let phone = other.get("phoneNumber").and_then(Value::as_str).and_then(|p| to_e164(p, &country));
    if let Some(phone) = &phone {
        let context = CallContext {
            call_id: id.clone(),
            site: site.clone(),
            extension_id: extension_id.clone(),
            direction: direction.clone(),
            result: call_result.map(str::to_owned),
            dialled_number: dialled_e164,
            at: text(source.as_object().unwrap_or(&Map::new()), &["startTime"]),
        };
        call_context::record(&ctx.redis, &ctx.prefix, phone, &context).await?;
    }
    let (lead, outcome) =
        super::activity::create_linked(ctx, job, &mapped.external_id, record, phone.as_deref()).await?;
    tracing::info!(
        call_id = %escape(&id),
        extension_id = %escape(extension_id.as_deref().unwrap_or("")),
        site = %escape(site.as_deref().unwrap_or("")),
        lead,
        outcome = ?outcome,
        "call tagged"
    );
    Ok(())
}

/// The call-log record of the event's telephony session (the event's extension's, if there
/// are several); none yet → [`HandlerError::NotYet`].
async fn find_record(ctx: &Context, payload: &TagCall) -> Result<Value, HandlerError> {
    let records = ctx.rc.call_log_by_session(&payload.telephony_session_id).await?;
    let of_extension = |r: &&Value| {
        let ext = r.get("extension").and_then(|e| e.get("id")).map(|v| v.to_string().trim_matches('"').to_string());
        payload.extension_id.is_some() && ext == payload.extension_id
    };
    let found = records.iter().find(of_extension).or(records.first()).cloned();
    found.ok_or_else(|| {
        HandlerError::NotYet(format!(
            "no call-log record for telephony session {} yet (RingCentral writes it shortly after the call ends)",
            escape(&payload.telephony_session_id)
        ))
    })
}
