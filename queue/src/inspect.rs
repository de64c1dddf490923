//! Reading the queue: counts per state and kind, pages of jobs by state (optionally one kind),
//! one job with its payload and attempt history. For the CLI, the admin HTTP API and the dashboard.
//!
//! Every call is bounded whatever the backlog: counts are `LLEN`/`ZCARD` plus the `counts` hash
//! (O(kinds)); pages are cut inside Redis (`LRANGE`/`ZRANGE`/`ZREVRANGE` with offsets) and a
//! kind filter walks the state's list in chunks of [`LIST_CHUNK`] up to [`SCAN_BUDGET`] entries
//! per call, handing back a cursor to continue. Nothing here uses `KEYS` or `SCAN`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{JobId, Queue, QueueError};

/// Ids fetched from a state's list per round trip while paging.
pub const LIST_CHUNK: usize = 500;
/// Entries one `list` call examines at most; past it the call returns what matched so far and a cursor.
pub const SCAN_BUDGET: usize = 5_000;
/// Largest page `list` returns; a larger `limit` is cut to this.
pub const MAX_PAGE: usize = 1_000;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Ready,
    Scheduled,
    Running,
    Done,
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 5] =
        [JobState::Ready, JobState::Scheduled, JobState::Running, JobState::Done, JobState::Dead];

    /// The name used in job hashes, in the `counts` hash and as the state's key suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ready => "ready",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of the five.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown job state {0:?}: expected one of ready, scheduled, running, done, dead")]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<JobState, UnknownState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// A number per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub ready: u64,
    pub scheduled: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

impl StateCounts {
    pub fn get(&self, state: JobState) -> u64 {
        match state {
            JobState::Ready => self.ready,
            JobState::Scheduled => self.scheduled,
            JobState::Running => self.running,
            JobState::Done => self.done,
            JobState::Dead => self.dead,
        }
    }

    fn slot(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Ready => &mut self.ready,
            JobState::Scheduled => &mut self.scheduled,
            JobState::Running => &mut self.running,
            JobState::Done => &mut self.done,
            JobState::Dead => &mut self.dead,
        }
    }
}

/// How many jobs are where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Per state, from the state's own key. Exact for scheduled, running, done and dead (`ZCARD`).
    /// `ready` is the ready list's length, which still includes ids of discarded jobs that no
    /// reserve has popped yet: an upper bound (and the work reserve has left). See [`Counts::ready`].
    pub totals: StateCounts,
    /// Per kind and state, from the `counts` hash that every move updates in the same script:
    /// exact. Kinds whose counts are all zero are left out.
    pub by_kind: BTreeMap<String, StateCounts>,
    pub paused: bool,
}

impl Counts {
    /// Exact number of ready jobs (the sum over kinds, without discarded ids still in the list).
    pub fn ready(&self) -> u64 {
        self.by_kind.values().map(|c| c.ready).sum()
    }
}

/// One job as a list shows it (no payload, no history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    /// Attempts started so far (0 while it never ran; reset to 0 by a retry from dead).
    pub attempts: u32,
    pub max_attempts: u32,
    pub created_ms: u64,
    /// Scheduled: when it becomes ready.
    pub due_ms: Option<u64>,
    /// Running: when its lease runs out unless the worker heartbeats.
    pub lease_until_ms: Option<u64>,
    /// Done or dead: when it got there.
    pub finished_ms: Option<u64>,
    pub last_error: Option<String>,
    /// Dead: `permanent error`, `max attempts reached` or `worker lost`.
    pub dead_reason: Option<String>,
    /// Running: the worker holding the lease.
    pub worker: Option<String>,
}

/// One attempt in a job's history (the last 20 are kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When the attempt ended (failure or lost lease).
    pub at_ms: u64,
    pub worker: String,
    pub attempt: u32,
    pub error: Option<String>,
}

/// The whole job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDetail {
    #[serde(flatten)]
    pub summary: JobSummary,
    /// JSON text as enqueued.
    pub payload: String,
    pub unique_key: Option<String>,
    /// Failed attempts, oldest first (a successful attempt ends the job and adds no entry).
    pub history: Vec<Attempt>,
}

/// One page of a state's jobs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub jobs: Vec<JobSummary>,
    /// Pass as `offset` to continue after this page; `None` once the end of the state's list was
    /// reached. With a kind filter a page may hold fewer than `limit` jobs (even none) and still
    /// have a cursor: the call spent its scan budget.
    pub next_offset: Option<u64>,
    /// List entries examined by this call.
    pub scanned: u64,
}

const SUMMARY_FIELDS: [&str; 10] = ["k", "s", "a", "m", "c", "d", "f", "e", "r", "w"];

impl Queue {
    /// Jobs per state, and per state and kind; O(kinds), never O(jobs).
    pub async fn counts(&self) -> Result<Counts, QueueError> {
        let mut pipe = redis::pipe();
        pipe.llen(self.key("ready"))
            .zcard(self.key("scheduled"))
            .zcard(self.key("running"))
            .zcard(self.key("done"))
            .zcard(self.key("dead"))
            .hgetall(self.key("counts"))
            .exists(self.key("paused"));
        type Reply = (u64, u64, u64, u64, u64, HashMap<String, i64>, bool);
        let (ready, scheduled, running, done, dead, fields, paused): Reply =
            pipe.query_async(&mut self.conn.clone()).await.map_err(QueueError::redis("counts"))?;
        let mut by_kind: BTreeMap<String, StateCounts> = BTreeMap::new();
        for (field, n) in fields {
            // Fields are `<state>:<kind>`; a kind may itself contain ':'.
            let Some((state, kind)) = field.split_once(':') else { continue };
            let (Ok(state), true) = (state.parse::<JobState>(), n > 0) else { continue };
            *by_kind.entry(kind.to_string()).or_default().slot(state) += n as u64;
        }
        Ok(Counts { totals: StateCounts { ready, scheduled, running, done, dead }, by_kind, paused })
    }

    /// A page of the jobs in `state`, optionally only those of `kind`, starting `offset` entries
    /// into the state's list. Order: ready in the order reserve will take them (next first);
    /// scheduled soonest due first; running nearest lease deadline first; done and dead newest
    /// first. Offsets count list entries (matching or not), so the page after this one starts at
    /// [`Page::next_offset`]; a list that changes between calls can shift by the jobs that moved.
    pub async fn list(
        &self,
        state: JobState,
        kind: Option<&str>,
        offset: u64,
        limit: usize,
    ) -> Result<Page, QueueError> {
        let limit = limit.min(MAX_PAGE);
        let mut page = Page { jobs: Vec::new(), next_offset: Some(offset), scanned: 0 };
        let mut pos = offset;
        while page.jobs.len() < limit && (page.scanned as usize) < SCAN_BUDGET {
            // Unfiltered, a chunk is what is still missing (more only if stale ids were skipped).
            let want = match kind {
                Some(_) => LIST_CHUNK,
                None => (limit - page.jobs.len()).min(LIST_CHUNK),
            }
            .min(SCAN_BUDGET - page.scanned as usize);
            let ids = self.ids_at(state, pos, want).await?;
            let fields = self.summary_fields(&ids).await?;
            for ((id, score), values) in ids.iter().zip(fields) {
                if page.jobs.len() == limit {
                    page.next_offset = Some(pos);
                    return Ok(page);
                }
                pos += 1;
                page.scanned += 1;
                let get =
                    |name: &str| SUMMARY_FIELDS.iter().position(|f| *f == name).and_then(|i| values[i].as_deref());
                // A stale ready id (discarded job) or a job that moved since the range was read is skipped.
                let Some(job) = summary(id, &get, *score) else { continue };
                if job.state == state && kind.is_none_or(|k| k == job.kind) {
                    page.jobs.push(job);
                }
            }
            page.next_offset = Some(pos);
            if ids.len() < want {
                page.next_offset = None;
                break;
            }
        }
        Ok(page)
    }

    /// The whole job, or `None` when there is no such job (never enqueued, discarded, or
    /// removed by retention).
    pub async fn get(&self, id: &JobId) -> Result<Option<JobDetail>, QueueError> {
        let mut pipe = redis::pipe();
        pipe.hgetall(self.key(&format!("job:{}", id.0))).zscore(self.key("running"), &id.0);
        let (fields, lease): (HashMap<String, String>, Option<f64>) =
            pipe.query_async(&mut self.conn.clone()).await.map_err(QueueError::redis("get"))?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |name: &str| fields.get(name).map(String::as_str);
        let summary = summary(&id.0, &get, lease).ok_or_else(|| QueueError::Reply {
            op: "get",
            detail: format!("job {id} has no kind or an unknown state {:?}", get("s")),
        })?;
        Ok(Some(JobDetail {
            summary,
            payload: get("p").unwrap_or_default().to_string(),
            unique_key: get("u").map(str::to_string),
            history: get("h").map(history).unwrap_or_default(),
        }))
    }

    /// `count` ids of `state` starting `start` entries in, with their score (zsets only), in the
    /// order `list` documents.
    async fn ids_at(
        &self,
        state: JobState,
        start: u64,
        count: usize,
    ) -> Result<Vec<(String, Option<f64>)>, QueueError> {
        let key = self.key(state.as_str());
        let (start, stop) = (start as isize, start as isize + count as isize - 1);
        let mut conn = self.conn.clone();
        let op = "list";
        Ok(match state {
            JobState::Ready => {
                // Enqueue LPUSHes and reserve RPOPs, so the next job is the tail: read from the end.
                let mut cmd = redis::cmd("LRANGE");
                cmd.arg(&key).arg(-stop - 1).arg(-start - 1);
                let mut ids: Vec<String> = cmd.query_async(&mut conn).await.map_err(QueueError::redis(op))?;
                ids.reverse();
                ids.into_iter().map(|id| (id, None)).collect()
            }
            JobState::Scheduled | JobState::Running => {
                let mut cmd = redis::cmd("ZRANGE");
                cmd.arg(&key).arg(start).arg(stop).arg("WITHSCORES");
                let v: Vec<(String, f64)> = cmd.query_async(&mut conn).await.map_err(QueueError::redis(op))?;
                v.into_iter().map(|(id, s)| (id, Some(s))).collect()
            }
            JobState::Done | JobState::Dead => {
                let mut cmd = redis::cmd("ZREVRANGE");
                cmd.arg(&key).arg(start).arg(stop).arg("WITHSCORES");
                let v: Vec<(String, f64)> = cmd.query_async(&mut conn).await.map_err(QueueError::redis(op))?;
                v.into_iter().map(|(id, s)| (id, Some(s))).collect()
            }
        })
    }

    /// The list fields of each job, in one pipelined round trip.
    async fn summary_fields(&self, ids: &[(String, Option<f64>)]) -> Result<Vec<Vec<Option<String>>>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (id, _) in ids {
            pipe.cmd("HMGET").arg(self.key(&format!("job:{id}"))).arg(&SUMMARY_FIELDS[..]);
        }
        pipe.query_async(&mut self.conn.clone()).await.map_err(QueueError::redis("list"))
    }
}

/// Builds a summary from a job's fields; `None` without a kind or with an unknown state (the
/// hash is gone or not a job). `score` is the lease deadline for a running job.
fn summary<'a>(id: &str, get: &impl Fn(&str) -> Option<&'a str>, score: Option<f64>) -> Option<JobSummary> {
    let kind = get("k")?.to_string();
    let state: JobState = get("s")?.parse().ok()?;
    let text = |name: &str| get(name).filter(|s| !s.is_empty()).map(str::to_string);
    Some(JobSummary {
        id: JobId(id.to_string()),
        kind,
        state,
        attempts: number(get("a")).unwrap_or(0) as u32,
        max_attempts: number(get("m")).unwrap_or(0) as u32,
        created_ms: number(get("c")).unwrap_or(0),
        due_ms: number(get("d")).filter(|_| state == JobState::Scheduled),
        lease_until_ms: score.filter(|_| state == JobState::Running).map(|s| s.max(0.0) as u64),
        finished_ms: number(get("f")).filter(|_| matches!(state, JobState::Done | JobState::Dead)),
        last_error: text("e"),
        dead_reason: text("r").filter(|_| state == JobState::Dead),
        worker: text("w").filter(|_| state == JobState::Running),
    })
}

/// Integers as the scripts store them (Lua may write large ones as `1.7e+12`).
fn number(v: Option<&str>) -> Option<u64> {
    let v = v?;
    v.parse::<u64>().ok().or_else(|| v.parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
}

/// The `h` field: a JSON array of `{t, w, a, e}`. Lua's cjson writes an empty table as `{}`, and
/// an entry it cannot read is skipped rather than hiding the rest of the job.
fn history(raw: &str) -> Vec<Attempt> {
    let Ok(serde_json::Value::Array(entries)) = serde_json::from_str(raw) else { return Vec::new() };
    entries
        .iter()
        .filter_map(|e| {
            Some(Attempt {
                at_ms: e.get("t")?.as_f64()?.max(0.0) as u64,
                worker: e.get("w").and_then(|w| w.as_str()).unwrap_or_default().to_string(),
                attempt: e.get("a").and_then(|a| a.as_f64()).unwrap_or(0.0).max(0.0) as u32,
                error: e.get("e").and_then(|e| e.as_str()).map(str::to_string),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_unknown_is_refused() {
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>().ok(), Some(s));
        }
        assert!("waiting".parse::<JobState>().is_err());
    }

    #[test]
    fn numbers_in_lua_float_form_are_read() {
        assert_eq!(number(Some("1732526716123")), Some(1732526716123));
        assert_eq!(number(Some("1.732526716123e+12")), Some(1732526716123));
        assert_eq!(number(Some("x")), None);
    }

    #[test]
    fn history_tolerates_cjson_empty_object_and_bad_entries() {
        assert!(history("{}").is_empty());
        let h = history(r#"[{"t":5,"w":"w1","a":1,"e":"boom"},{"x":1},{"t":9,"w":"w2","a":2}]"#);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0], Attempt { at_ms: 5, worker: "w1".into(), attempt: 1, error: Some("boom".into()) });
        assert_eq!(h[1].error, None);
    }
}
