//! The loop both catch-ups share (`sync_calls`, `sync_messages`): read a batch of a record
//! feed (FSync of the last [`FIRST_SYNC_SINCE`] the first time, ISync from the stored token
//! after), queue one unique job per record, and commit the token only once they are queued.
//! A crash in between replays the batch, and the unique keys make that a no-op. A full ISync
//! batch (250) is followed by the next, up to [`MAX_BATCHES`] a run. Budget waits snooze (no
//! attempt spent), as every RingCentral read does.

use snapsync::ringcentral::record_sync::Feed;
use snapsync_queue::{JobError, NewJob};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::context::Context;
use super::failure::job_error;

/// How far back the first (full) sync reaches: the catch-up is for recent records, not the
/// account's history.
pub const FIRST_SYNC_SINCE: time::Duration = time::Duration::days(1);

/// ISync batches one run reads at most (250 records each); the next run goes on from there.
pub const MAX_BATCHES: usize = 20;

/// A record's field as text: a non-blank string, or a number (RingCentral writes ids both ways).
pub fn text(value: Option<&serde_json::Value>) -> Option<String> {
    match value {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The unique key of a record's job: `{what}:{id}`, or for a record without an id
/// `{what}:no-id:{content hash}` (still queued, so its job dies naming the problem with the
/// record in its payload).
pub fn unique_key(what: &str, id: Option<&str>, record: &serde_json::Value) -> String {
    match id {
        Some(id) => format!("{what}:{id}"),
        None => format!("{what}:no-id:{}", super::value_hash(record)),
    }
}

/// Reads `feed` and queues `job(record)` for each record it maps (`None`: not one to tag).
/// Returns (records read, jobs newly queued, batches).
pub async fn run(
    ctx: &Context,
    feed: Feed,
    job: impl Fn(&serde_json::Value) -> Option<NewJob>,
) -> Result<(usize, usize, usize), JobError> {
    let what = format!("{} sync", feed.as_str());
    let err = |e: snapsync::ringcentral::RcError| job_error(&what, &e.into());
    let since = (OffsetDateTime::now_utc() - FIRST_SYNC_SINCE).format(&Rfc3339).unwrap_or_default();
    let (mut records, mut queued, mut batches) = (0usize, 0usize, 0usize);
    loop {
        let batch = ctx.rc.feed_sync(feed, &since).await.map_err(err)?;
        batches += 1;
        records += batch.records.len();
        let jobs: Vec<NewJob> = batch.records.iter().filter_map(&job).collect();
        if !jobs.is_empty() {
            let enqueued = ctx
                .queue
                .enqueue_batch(jobs)
                .await
                .map_err(|e| job_error(&format!("queueing the {} catch-up's jobs", feed.as_str()), &e.into()))?;
            queued += enqueued.iter().filter(|e| matches!(e, snapsync_queue::Enqueued::Created(_))).count();
        }
        let committed = ctx.rc.commit_feed_token(&batch).await.map_err(err)?;
        tracing::info!(
            feed = feed.as_str(),
            kind = ?batch.kind,
            full_sync_reason = batch.full_sync_reason.as_deref().unwrap_or(""),
            records = batch.records.len(),
            token_committed = committed,
            "sync batch read"
        );
        if !committed || !batch.maybe_more() || batches >= MAX_BATCHES {
            break;
        }
    }
    Ok((records, queued, batches))
}
