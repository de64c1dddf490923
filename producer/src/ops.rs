//! The operator's verbs on the queue and the workers, for the `snapsync queue …` and
//! `snapsync workers` commands and, later, the admin HTTP API: each takes a [`Queue`] and
//! returns a [`Serialize`] report whose field names are part of the interface (scripts read
//! `--json`). Nothing here prints or exits; the CLI (`src/cli/`) does.
//!
//! Times are Unix milliseconds (`*_ms`); ages and durations are milliseconds too. Payloads are
//! shown with the values of secret-looking keys replaced ([`redact`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use snapsync_queue::{
    Attempt, GoneWorker, JobId, JobState, JobSummary, LiveWorker, OldestReady, Queue, QueueError, RetryOutcome,
    StateCounts,
};

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Substrings (of a lower-cased JSON key) that make its value secret.
const SECRET_WORDS: [&str; 6] = ["token", "secret", "password", "jwt", "key", "authorization"];

/// `queue stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub paused: bool,
    /// Jobs per state (ready: the exact count, without ids of discarded jobs still in the list).
    pub totals: StateCounts,
    /// Per kind and state; kinds with no job are left out.
    pub by_kind: BTreeMap<String, StateCounts>,
    /// The ready job waiting longest (see [`Queue::oldest_ready`]); `None` when nothing is ready.
    pub oldest_ready: Option<OldestReady>,
}

pub async fn stats(queue: &Queue) -> Result<Stats, QueueError> {
    let counts = queue.counts().await?;
    let oldest_ready = queue.oldest_ready().await?;
    let mut totals = counts.totals;
    totals.ready = counts.ready();
    Ok(Stats { paused: counts.paused, totals, by_kind: counts.by_kind, oldest_ready })
}

/// `queue ls`: one page.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub state: JobState,
    pub kind: Option<String>,
    pub cursor: u64,
    pub jobs: Vec<JobSummary>,
    /// Pass as the cursor to get the next page; `None` at the end. With a kind filter a page may
    /// be short, even empty, and still have a next cursor (the call's scan budget ran out).
    pub next_cursor: Option<u64>,
}

pub async fn list(
    queue: &Queue,
    state: JobState,
    kind: Option<&str>,
    cursor: u64,
    limit: usize,
) -> Result<Listing, QueueError> {
    let page = queue.list(state, kind, cursor, limit).await?;
    Ok(Listing { state, kind: kind.map(str::to_string), cursor, jobs: page.jobs, next_cursor: page.next_offset })
}

/// `queue show`: the whole job, its payload redacted.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    #[serde(flatten)]
    pub summary: JobSummary,
    /// The payload as JSON with secret-looking values replaced by `"[redacted]"`; `None` when it
    /// is not JSON (then it is not shown at all: a secret in it could not be found).
    pub payload: Option<Value>,
    pub unique_key: Option<String>,
    /// Failed attempts the queue kept (its last 20), oldest first, errors as recorded.
    pub attempts_history: Vec<Attempt>,
    /// What the history holds and what it does not.
    pub note: String,
}

pub async fn show(queue: &Queue, id: &JobId) -> Result<Option<JobView>, QueueError> {
    let Some(job) = queue.get(id).await? else { return Ok(None) };
    let payload = serde_json::from_str::<Value>(&job.payload).ok().map(|mut v| {
        redact(&mut v);
        v
    });
    let mut note = "the history lists failed or lost attempts only (the last 20 kept): a successful attempt ends \
                    the job and adds no entry; a retry from dead resets attempts to 0 and keeps the history"
        .to_string();
    if payload.is_none() {
        note.push_str("; the payload is not JSON and is not shown");
    }
    Ok(Some(JobView { summary: job.summary, payload, unique_key: job.unique_key, attempts_history: job.history, note }))
}

/// Replaces, at any depth, the value of every object key that looks secret (contains
/// token, secret, password, jwt, key or authorization, in any case) by `"[redacted]"`.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let k = k.to_lowercase();
                if SECRET_WORDS.iter().any(|w| k.contains(w)) {
                    *v = Value::String(REDACTED.to_string());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// One id's result in a `retry` or `discard`.
#[derive(Debug, Clone, Serialize)]
pub struct RetryResult {
    pub id: JobId,
    /// `retried` (with `from`), `not_retryable` (with `state`) or `not_found`.
    #[serde(flatten)]
    pub outcome: RetryOutcome,
}

/// `queue retry`.
#[derive(Debug, Clone, Serialize)]
pub struct RetryReport {
    pub retried: u64,
    pub not_retryable: u64,
    pub not_found: u64,
    pub results: Vec<RetryResult>,
}

impl RetryReport {
    /// True when every id named was retried.
    pub fn all_done(&self) -> bool {
        self.not_found == 0 && self.not_retryable == 0
    }
}

pub async fn retry(queue: &Queue, ids: &[JobId]) -> Result<RetryReport, QueueError> {
    let mut report = RetryReport { retried: 0, not_retryable: 0, not_found: 0, results: Vec::new() };
    for id in ids {
        let outcome = queue.retry(id).await?;
        match outcome {
            RetryOutcome::Retried { .. } => report.retried += 1,
            RetryOutcome::NotRetryable { .. } => report.not_retryable += 1,
            RetryOutcome::NotFound => report.not_found += 1,
        }
        report.results.push(RetryResult { id: id.clone(), outcome });
    }
    Ok(report)
}

/// Every dead job (of `kind`, when given) back on ready. The ids are collected first, page by
/// page, then retried, so the retries do not shift the pages being read; a job that left dead
/// in between is reported as not retryable or not found.
pub async fn retry_all_dead(queue: &Queue, kind: Option<&str>) -> Result<RetryReport, QueueError> {
    let mut ids = Vec::new();
    let mut cursor = Some(0);
    while let Some(offset) = cursor {
        let page = queue.list(JobState::Dead, kind, offset, snapsync_queue::inspect::MAX_PAGE).await?;
        ids.extend(page.jobs.into_iter().map(|j| j.id));
        cursor = page.next_offset;
    }
    retry(queue, &ids).await
}

/// One id's result in a `discard`.
#[derive(Debug, Clone, Serialize)]
pub struct DiscardResult {
    pub id: JobId,
    pub found: bool,
    /// The state it was removed from.
    pub state: Option<JobState>,
}

/// `queue discard`.
#[derive(Debug, Clone, Serialize)]
pub struct DiscardReport {
    pub discarded: u64,
    pub not_found: u64,
    pub results: Vec<DiscardResult>,
}

pub async fn discard(queue: &Queue, ids: &[JobId]) -> Result<DiscardReport, QueueError> {
    let mut report = DiscardReport { discarded: 0, not_found: 0, results: Vec::new() };
    for id in ids {
        let state = queue.discard(id).await?;
        if state.is_some() {
            report.discarded += 1;
        } else {
            report.not_found += 1;
        }
        report.results.push(DiscardResult { id: id.clone(), found: state.is_some(), state });
    }
    Ok(report)
}

/// `queue purge`.
#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    pub state: JobState,
    pub older_than_ms: u64,
    pub removed: u64,
}

/// Removes done or dead jobs that got there more than `older_than` ago (zero: all of them).
/// Other states are refused with `QueueError::Invalid`.
pub async fn purge(queue: &Queue, state: JobState, older_than: Duration) -> Result<PurgeReport, QueueError> {
    let removed = queue.purge_older_than(state, older_than).await?;
    Ok(PurgeReport { state, older_than_ms: older_than.as_millis() as u64, removed })
}

/// `queue pause` and `queue resume`.
#[derive(Debug, Clone, Serialize)]
pub struct PauseReport {
    /// Whether the queue is paused now.
    pub paused: bool,
    /// False when it already was in that state.
    pub changed: bool,
}

pub async fn pause(queue: &Queue) -> Result<PauseReport, QueueError> {
    let changed = queue.pause().await?;
    Ok(PauseReport { paused: true, changed })
}

pub async fn resume(queue: &Queue) -> Result<PauseReport, QueueError> {
    let changed = queue.resume().await?;
    Ok(PauseReport { paused: false, changed })
}

/// One live worker in `workers`: the registry's record and its heartbeat's age.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerView {
    #[serde(flatten)]
    pub worker: LiveWorker,
    /// Redis's clock minus `last_beat_ms`.
    pub last_beat_age_ms: u64,
}

/// `workers`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkersReport {
    pub now_ms: u64,
    /// Most recent heartbeat first.
    pub live: Vec<WorkerView>,
    /// Workers that went silent, reported once (the registry forgets them as it reports them).
    pub gone: Vec<GoneWorker>,
}

pub async fn workers(queue: &Queue) -> Result<WorkersReport, QueueError> {
    let w = queue.workers().await?;
    let now = w.now_ms;
    let live = w
        .live
        .into_iter()
        .map(|worker| WorkerView { last_beat_age_ms: now.saturating_sub(worker.last_beat_ms), worker })
        .collect();
    Ok(WorkersReport { now_ms: now, live, gone: w.gone })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_keys_are_redacted_at_any_depth_in_any_case() {
        let mut v = serde_json::json!({
            "extension_id": "101",
            "Access_Token": "t0k",
            "auth": { "clientSecret": "s", "PASSWORD": 7, "user": "u" },
            "list": [{ "apiKey": ["a", "b"] }, { "jwt": null, "name": "n" }],
            "Authorization": "Bearer x",
        });
        redact(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "extension_id": "101",
                "Access_Token": REDACTED,
                "auth": { "clientSecret": REDACTED, "PASSWORD": REDACTED, "user": "u" },
                "list": [{ "apiKey": REDACTED }, { "jwt": REDACTED, "name": "n" }],
                "Authorization": REDACTED,
            })
        );
    }
}
