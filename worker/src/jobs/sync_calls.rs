//! `sync_calls`: the catch-up of ended calls by the account's call-log sync, so a call whose
//! telephony event never arrived (no subscription yet, a lost delivery, a webhook outage) is
//! still tagged.
//!
//! The first run is an FSync of the calls since [`FIRST_SYNC_SINCE`] ago (bounded: the
//! catch-up is for recent calls, not the account's history); later runs ISync from the
//! stored token. Each record becomes a `tag_call` job carrying it (no second read), with the
//! unique key `call:<call-log id>`; the webhook's job for the same call has its own key, and
//! both make the one activity `ringcentral:call:<id>`. The token is committed only after the
//! batch's jobs are queued (a crash replays the batch; the unique keys make that a no-op). A
//! full ISync batch (250) is followed by the next, up to [`MAX_BATCHES`] a run. A record
//! without an id is still queued (keyed by its content): its `tag_call` dies naming the
//! problem, with the record in its payload, so nothing is lost. Heavy-budget waits snooze
//! (no attempt spent), as every RingCentral read does.

use snapsync::jobs::{JobKind, Payload, SyncCalls, TagCall, PAYLOAD_VERSION};
use snapsync_queue::NewJob;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::context::Context;
use super::failure::job_error;
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

/// How far back the first (full) sync reaches.
pub const FIRST_SYNC_SINCE: time::Duration = time::Duration::days(1);

/// ISync batches one run reads at most (250 records each); the next run goes on from there.
pub const MAX_BATCHES: usize = 20;

pub async fn run(ctx: &Context, _payload: SyncCalls, _job: &JobMeta) -> Result<(), JobError> {
    let err = |e: snapsync::ringcentral::RcError| job_error("call-log sync", &e.into());
    let since = (OffsetDateTime::now_utc() - FIRST_SYNC_SINCE).format(&Rfc3339).unwrap_or_default();
    let (mut records, mut queued, mut batches) = (0usize, 0usize, 0usize);
    loop {
        let batch = ctx.rc.call_log_sync(&since).await.map_err(err)?;
        batches += 1;
        let jobs: Vec<NewJob> = batch.records.iter().map(tag_job).collect();
        records += jobs.len();
        let enqueued =
            ctx.queue.enqueue_batch(jobs).await.map_err(|e| job_error("queueing tag_call jobs", &e.into()))?;
        queued += enqueued.iter().filter(|e| matches!(e, snapsync_queue::Enqueued::Created(_))).count();
        let committed = ctx.rc.commit_call_log_token(&batch).await.map_err(err)?;
        tracing::info!(
            kind = ?batch.kind,
            full_sync_reason = batch.full_sync_reason.as_deref().unwrap_or(""),
            records = batch.records.len(),
            token_committed = committed,
            "call-log sync batch read"
        );
        if !committed || !batch.maybe_more() || batches >= MAX_BATCHES {
            break;
        }
    }
    tracing::info!(records, queued, batches, "calls caught up (queued: calls not tagged by a job yet)");
    Ok(())
}

/// The `tag_call` job of one call-log record, unique per call-log id.
fn tag_job(record: &serde_json::Value) -> NewJob {
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
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
    let unique = match &id {
        Some(id) => format!("call:{id}"),
        None => format!("call:no-id:{}", super::value_hash(record)),
    };
    NewJob::new(JobKind::TagCall.as_str(), payload.encode()).unique(unique)
}
