//! The last sync of each resource, for operators (dashboard, admin API): what it created,
//! updated, left unchanged, deleted and failed to write.
//!
//! - `{prefix}:sync:last` (hash, field = resource): the last run as JSON — its job, when it
//!   started and finished, and (locations, accounts) its counts.
//! - `{prefix}:sync:run:<job id>` (hash, a day's TTL): a contacts sync's counts, incremented
//!   by each `upsert_contact` it queued as it ends (the upserts run after the sync job).

use snapsync_queue::{JobError, JobMeta};

use super::context::Context;
use super::Tally;

use snapsync::sync_results::{last_key, run_key, LastSync, RUN_TTL_SECS};

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Records a finished sync of `resource` (locations, accounts). Best effort: a failure to
/// record is logged, never the job's failure.
pub async fn finished(ctx: &Context, resource: &str, job: &JobMeta, started_ms: u64, tally: &Tally, failed: usize) {
    let last = LastSync {
        job: job.id.0.clone(),
        started_ms,
        finished_ms: Some(now_ms()),
        created: tally.created as u64,
        updated: tally.updated as u64,
        unchanged: tally.unchanged as u64,
        deleted: tally.deleted as u64,
        failed: failed as u64,
        queued: None,
    };
    store(ctx, resource, &last).await;
}

/// Records a contacts sync: started (`queued` = None) or done reading (`queued` = Some).
pub async fn contacts(ctx: &Context, job: &JobMeta, started_ms: u64, queued: Option<u64>) {
    let last = LastSync {
        job: job.id.0.clone(),
        started_ms,
        finished_ms: queued.map(|_| now_ms()),
        queued,
        ..LastSync::default()
    };
    store(ctx, "contacts", &last).await;
}

async fn store(ctx: &Context, resource: &str, last: &LastSync) {
    let text = serde_json::to_string(last).unwrap_or_default();
    let mut conn = ctx.redis.clone();
    let stored: Result<(), _> = redis::AsyncCommands::hset(&mut conn, last_key(&ctx.prefix), resource, text).await;
    if let Err(e) = stored {
        tracing::warn!(resource, error = %e, "cannot record the sync's results");
    }
}

/// Counts one upsert's outcome in its contacts sync's results.
pub async fn count(ctx: &Context, run: Option<&str>, field: &str) {
    let Some(run) = run else { return };
    let key = run_key(&ctx.prefix, run);
    let counted: Result<(), _> = redis::pipe()
        .hincr(&key, field, 1)
        .ignore()
        .expire(&key, RUN_TTL_SECS)
        .ignore()
        .query_async(&mut ctx.redis.clone())
        .await;
    if let Err(e) = counted {
        tracing::warn!(field, error = %e, "cannot count the upsert in its sync's results");
    }
}

/// Counts a failed upsert, once, when this attempt is its last (dead next).
pub async fn count_failure(ctx: &Context, run: Option<&str>, job: &JobMeta, error: &JobError) {
    let last = match error {
        JobError::Permanent(_) => true,
        JobError::Retry { .. } => job.attempt >= job.max_attempts,
        JobError::Snooze { .. } => false,
    };
    if last {
        count(ctx, run, "failed").await;
    }
}
