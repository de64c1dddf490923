//! `sync_calls`: the catch-up of ended calls by the account's call-log sync, so a call whose
//! telephony event never arrived (no subscription yet, a lost delivery, a webhook outage) is
//! still tagged.
//!
//! The reading, batching and token commit are [`catch_up`]'s (FSync of the last day the
//! first time, ISync after). Each record becomes a `tag_call` job carrying it (no second
//! read), with the unique key `call:<call-log id>`; the webhook's job for the same call has
//! its own key, and both make the one activity `ringcentral:call:<id>`. A record without an
//! id is still queued (keyed by its content): its `tag_call` dies naming the problem, with
//! the record in its payload, so nothing is lost.

use snapsync::jobs::{JobKind, Payload, SyncCalls, TagCall, PAYLOAD_VERSION};
use snapsync::ringcentral::record_sync::Feed;
use snapsync_queue::NewJob;

use super::catch_up;
use super::context::Context;
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

pub async fn run(ctx: &Context, _payload: SyncCalls, _job: &JobMeta) -> Result<(), JobError> {
    let (records, queued, batches) = catch_up::run(ctx, Feed::CallLog, |r| Some(tag_job(r))).await?;
    tracing::info!(records, queued, batches, "calls caught up (queued: calls not tagged by a job yet)");
    Ok(())
}

/// The `tag_call` job of one call-log record, unique per call-log id.
fn tag_job(record: &serde_json::Value) -> NewJob {
    use catch_up::text;
    let id = text(record.get("id"));
    let payload = TagCall {
        v: PAYLOAD_VERSION,
        uuid: String::new(),
        account_id: None,
        extension_id: text(record.get("extension").and_then(|e| e.get("id"))),
        telephony_session_id: text(record.get("telephonySessionId"))
            .or_else(|| id.clone())
            .unwrap_or_else(|| "unknown".into()),
        session_id: text(record.get("sessionId")),
        result: text(record.get("result")),
        record: Some(record.clone()),
    };
    let unique = catch_up::unique_key("call", id.as_deref(), record);
    NewJob::new(JobKind::TagCall.as_str(), payload.encode()).unique(unique)
}
