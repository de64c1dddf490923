//! Reading the queue: counts per state and kind, the oldest ready job, pages of jobs by state
//! (optionally one kind), one job with its payload and attempt history. For the CLI, the admin HTTP API and the dashboard.
//!
//! Every call is bounded whatever the backlog: counts are `LLEN`/`ZCARD` plus the `counts` hash
//! (O(kinds)); the oldest ready job is one script over the next [`OLDEST_SCAN`] in line; pages are cut inside Redis (`LRANGE`/`ZRANGE`/`ZREVRANGE` with offsets) and a
//! kind filter walks the state's list in chunks of [`LIST_CHUNK`] up to [`SCAN_BUDGET`] entries
//! per call, handing back a cursor to continue. Nothing here uses `KEYS` or `SCAN`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{JobId, LeaseToken, Queue, QueueError};

/// Ids fetched from a state's list per round trip while paging.
pub const LIST_CHUNK: usize = 500;
/// Entries one `list` call examines at most; past it the call returns what matched so far and a cursor.
pub const SCAN_BUDGET: usize = 5_000;
/// Largest page `list` returns; a larger `limit` is cut to this.
pub const MAX_PAGE: usize = 1_000;
/// Entries at the head of the ready line [`Queue::oldest_ready`] looks at.
pub const OLDEST_SCAN: usize = 100;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Ready,
    Scheduled,
    /// Waiting for something that is not a failure (a rate limit, a `Retry-After`, a busy
    /// record); the run that asked to wait was not charged.
    Snoozed,
    Running,
    Done,
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 6] =
        [JobState::Ready, JobState::Scheduled, JobState::Snoozed, JobState::Running, JobState::Done, JobState::Dead];

    /// The name used in job records, in the `counts` hash and as the state's key name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ready => "ready",
            JobState::Scheduled => "scheduled",
            JobState::Snoozed => "snoozed",
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

/// A state name that is not one of the six.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown job state {0:?}: expected one of ready, scheduled, snoozed, running, done, dead")]
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
    pub snoozed: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

impl StateCounts {
    pub fn get(&self, state: JobState) -> u64 {
        match state {
            JobState::Ready => self.ready,
            JobState::Scheduled => self.scheduled,
            JobState::Snoozed => self.snoozed,
            JobState::Running => self.running,
            JobState::Done => self.done,
            JobState::Dead => self.dead,
        }
    }

    fn slot(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Ready => &mut self.ready,
            JobState::Scheduled => &mut self.scheduled,
            JobState::Snoozed => &mut self.snoozed,
            JobState::Running => &mut self.running,
            JobState::Done => &mut self.done,
            JobState::Dead => &mut self.dead,
        }
    }
}

/// How many jobs are where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Per state, from the state's own key. Exact for scheduled, snoozed, running, done and dead
    /// (`ZCARD`). `ready` is the ready list's length, which still includes ids of discarded jobs
    /// that no reserve has popped yet: an upper bound (and the work reserve has left). See
    /// [`Counts::ready`].
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

/// Scheduled and snoozed jobs already due ([`Queue::due`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueCounts {
    pub scheduled: u64,
    pub snoozed: u64,
}

/// Counts both zsets up to Redis's own `now`, as `reserve.lua` promotes them (both keys carry
/// the queue's hash tag: one slot).
static DUE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "local t = redis.call('TIME')\n\
         local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n\
         return { redis.call('ZCOUNT', KEYS[1], '-inf', now), redis.call('ZCOUNT', KEYS[2], '-inf', now) }",
    )
});

/// One job as a list shows it (no payload, no history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    /// Runs started so far, the one under way included (0 while it never ran; reset to 0 by a
    /// retry from dead). A snoozed run, or one handed back by a stop, is not charged, so
    /// snoozes are counted apart ([`JobSummary::snoozes`]).
    pub attempts: u32,
    pub max_attempts: u32,
    pub created_ms: u64,
    /// Scheduled or snoozed: when it becomes ready.
    pub due_ms: Option<u64>,
    /// Running: when its lease runs out unless the worker heartbeats.
    pub lease_until_ms: Option<u64>,
    /// Running: the lease's fencing token. Never serialized: it is the running worker's
    /// credential for its run (whoever holds it can settle the run), so no report shows it.
    #[serde(skip_serializing, default)]
    pub lease: Option<LeaseToken>,
    /// Running: whether the leased run has started (false while it waits in a prefetch buffer).
    pub started: bool,
    /// Done or dead: when it got there.
    pub finished_ms: Option<u64>,
    pub last_error: Option<String>,
    /// Dead: `permanent error`, `max attempts reached` or `worker lost`.
    pub dead_reason: Option<String>,
    /// Running: the worker holding the lease.
    pub worker: Option<String>,
    /// Times the job was snoozed, and for how long in all (ms).
    pub snoozes: u32,
    pub snoozed_ms: u64,
    /// Why it was last snoozed.
    pub snooze_reason: Option<String>,
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
    /// As stored: a long or unusual unique key is stored as `#<sha256>`.
    pub unique_key: Option<String>,
    /// Failed attempts, oldest first (a successful attempt ends the job and adds no entry).
    pub history: Vec<Attempt>,
}

/// The ready job waiting longest, as [`Queue::oldest_ready`] finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldestReady {
    pub id: JobId,
    pub kind: String,
    /// When it was enqueued (a delayed job: when it was enqueued, not when it became due).
    pub created_ms: u64,
    /// Redis's clock minus `created_ms`.
    pub age_ms: u64,
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

impl Queue {
    /// Every rate-limit budget of this deployment (`queue.prefix`): its limit in force, calls
    /// in the current window, waits and 429 pauses (see [`crate::limits`]).
    pub async fn budgets(&self) -> Result<Vec<crate::limits::BudgetStats>, QueueError> {
        crate::limits::budgets(&self.conn, &self.config.prefix).await.map_err(QueueError::redis("budgets"))
    }

    /// A rate limiter on this queue's connection whose budgets [`Queue::budgets`] shows.
    pub fn limiter(&self, options: crate::limits::LimiterOptions) -> crate::limits::Limiter {
        crate::limits::Limiter::new(self.conn.clone(), self.config.prefix.clone(), options)
    }

    /// Scheduled and snoozed jobs whose due time has passed (by Redis's clock): work a worker
    /// would take at once, though still counted in their state until a reserve promotes them.
    /// Two `ZCOUNT`s, O(log n); no kind (the zsets are not split by kind).
    pub async fn due(&self) -> Result<DueCounts, QueueError> {
        let k = &self.keys;
        let (scheduled, snoozed): (u64, u64) = DUE
            .key(k.get("scheduled"))
            .key(k.get("snoozed"))
            .invoke_async(&mut self.conn_mut())
            .await
            .map_err(QueueError::redis("due"))?;
        Ok(DueCounts { scheduled, snoozed })
    }

    /// Jobs per state, and per state and kind; O(kinds), never O(jobs).
    pub async fn counts(&self) -> Result<Counts, QueueError> {
        let k = &self.keys;
        let mut pipe = redis::pipe();
        pipe.llen(k.get("ready"))
            .zcard(k.get("scheduled"))
            .zcard(k.get("snoozed"))
            .zcard(k.get("running"))
            .zcard(k.get("done"))
            .zcard(k.get("dead"))
            .hgetall(k.get("counts"))
            .exists(k.get("paused"));
        type Reply = (u64, u64, u64, u64, u64, u64, HashMap<String, i64>, bool);
        let (ready, scheduled, snoozed, running, done, dead, fields, paused): Reply =
            pipe.query_async(&mut self.conn_mut()).await.map_err(QueueError::redis("counts"))?;
        let mut by_kind: BTreeMap<String, StateCounts> = BTreeMap::new();
        for (field, n) in fields {
            // Fields are `<state>:<kind>`; a kind may itself contain ':'.
            let Some((state, kind)) = field.split_once(':') else { continue };
            let (Ok(state), true) = (state.parse::<JobState>(), n > 0) else { continue };
            *by_kind.entry(kind.to_string()).or_default().slot(state) += n as u64;
        }
        Ok(Counts { totals: StateCounts { ready, scheduled, snoozed, running, done, dead }, by_kind, paused })
    }

    /// The ready job enqueued longest ago among the next [`OLDEST_SCAN`] in line, and Redis's
    /// clock; `None` when none of them is a live ready job. One read-only script call, O(100)
    /// whatever the backlog. The ready list is in enqueue order (retries and handed-back jobs
    /// go to its head, due scheduled jobs to its tail), so the head holds the longest-waiting
    /// jobs except for due delayed jobs still deeper in the line, whose age counts from their
    /// enqueue, not from when they became due.
    pub async fn oldest_ready(&self) -> Result<Option<OldestReady>, QueueError> {
        let mut inv = self.call(&self.scripts.oldest, &[]);
        inv.arg(OLDEST_SCAN);
        let reply: Vec<redis::Value> =
            inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("oldest_ready"))?;
        let number = |v: Option<&redis::Value>| match v {
            Some(redis::Value::Int(n)) => u64::try_from(*n).ok(),
            Some(v @ redis::Value::BulkString(_)) => crate::storage::string(v).parse().ok(),
            _ => None,
        };
        let Some(now) = number(reply.first()) else {
            return Err(QueueError::Reply { op: "oldest_ready", detail: "missing clock".into() });
        };
        let (Some(id), Some(created), Some(kind)) = (reply.get(1), number(reply.get(2)), reply.get(3)) else {
            return Ok(None);
        };
        Ok(Some(OldestReady {
            id: JobId(crate::storage::string(id)),
            kind: crate::storage::string(kind),
            created_ms: created,
            age_ms: now.saturating_sub(created),
        }))
    }

    /// A page of the jobs in `state`, optionally only those of `kind`, starting `offset` entries
    /// into the state's list. Order: ready in the order reserve will take them (next first);
    /// scheduled and snoozed soonest due first; running nearest lease deadline first; done and
    /// dead newest first. Offsets count list entries (matching or not), so the page after this
    /// one starts at [`Page::next_offset`]; a list that changes between calls can shift by the
    /// jobs that moved.
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
            for ((id, score), (rec, info)) in ids.iter().zip(fields) {
                if page.jobs.len() == limit {
                    page.next_offset = Some(pos);
                    return Ok(page);
                }
                pos += 1;
                page.scanned += 1;
                // A stale ready id (discarded job) or a job that moved since the range was read is skipped.
                let Some(job) = summary(id, rec.as_deref(), info.as_deref(), *score) else { continue };
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
        let k = &self.keys;
        let mut pipe = redis::pipe();
        pipe.hget(k.get("rec"), &id.0)
            .hget(k.get("info"), &id.0)
            .hget(k.get("hist"), &id.0)
            .hget(k.get("payload"), &id.0)
            .zscore(k.get("running"), &id.0)
            .zscore(k.get("scheduled"), &id.0)
            .zscore(k.get("snoozed"), &id.0)
            .zscore(k.get("done"), &id.0)
            .zscore(k.get("dead"), &id.0);
        type Reply = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
        );
        let (rec, info, hist, payload, running, scheduled, snoozed, done, dead): Reply =
            pipe.query_async(&mut self.conn_mut()).await.map_err(QueueError::redis("get"))?;
        let Some(rec) = rec else { return Ok(None) };
        let score = running.or(scheduled).or(snoozed).or(done).or(dead);
        let summary = summary(&id.0, Some(&rec), info.as_deref(), score).ok_or_else(|| QueueError::Reply {
            op: "get",
            detail: format!("job {id} has a record that cannot be read: {rec:.200?}"),
        })?;
        let info = info.as_deref().map(info_fields).unwrap_or_default();
        Ok(Some(JobDetail {
            summary,
            payload: payload.unwrap_or_default(),
            unique_key: info.unique,
            history: hist.as_deref().map(history).unwrap_or_default(),
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
        let key = self.keys.get(state.as_str()).to_string();
        let (start, stop) = (start as isize, start as isize + count as isize - 1);
        let mut conn = self.conn_mut();
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
            JobState::Scheduled | JobState::Snoozed | JobState::Running => {
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

    /// Each job's record and info, two `HMGET`s in one round trip.
    async fn summary_fields(
        &self,
        ids: &[(String, Option<f64>)],
    ) -> Result<Vec<(Option<String>, Option<String>)>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET").arg(self.keys.get("rec")).arg(&names);
        pipe.cmd("HMGET").arg(self.keys.get("info")).arg(&names);
        let (recs, infos): (Vec<Option<String>>, Vec<Option<String>>) =
            pipe.query_async(&mut self.conn_mut()).await.map_err(QueueError::redis("list"))?;
        Ok(recs.into_iter().zip(infos).collect())
    }
}

/// A job record as the scripts write it: `state|lease|started|attempts|max|created|worker|kind`
/// (`attempts` counts runs that ended; a started run is charged when it ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    pub lease: Option<LeaseToken>,
    pub started: bool,
    pub created_ms: u64,
    pub worker: Option<String>,
    pub kind: String,
}

impl Record {
    pub(crate) fn parse(raw: &str) -> Option<Record> {
        let mut parts = raw.splitn(8, '|');
        let state: JobState = parts.next()?.parse().ok()?;
        let lease = parts.next()?;
        let started = parts.next()? == "1";
        let attempts = parts.next()?.parse().ok()?;
        let max_attempts = parts.next()?.parse().ok()?;
        let created_ms = parts.next()?.parse().ok()?;
        let worker = parts.next()?;
        let kind = parts.next()?.to_string();
        Some(Record {
            state,
            attempts,
            max_attempts,
            lease: lease.parse().ok().map(LeaseToken),
            started,
            created_ms,
            worker: (!worker.is_empty()).then(|| worker.to_string()),
            kind,
        })
    }
}

/// The fields of a job's info JSON that inspection shows.
#[derive(Debug, Default, Deserialize)]
struct InfoFields {
    #[serde(rename = "e")]
    last_error: Option<String>,
    #[serde(rename = "r")]
    dead_reason: Option<String>,
    #[serde(rename = "u")]
    unique: Option<String>,
    #[serde(rename = "zt")]
    snoozed_ms: Option<f64>,
    #[serde(rename = "zn")]
    snoozes: Option<f64>,
    #[serde(rename = "zr")]
    snooze_reason: Option<String>,
}

/// Lua's cjson writes an empty table as `{}` and may write numbers as floats; anything that does
/// not read is taken as empty rather than hiding the job.
fn info_fields(raw: &str) -> InfoFields {
    serde_json::from_str(raw).unwrap_or_default()
}

/// A summary from a job's record and info; `None` when there is no readable record. `score` is
/// the job's score in its state's zset (due, lease deadline or finished time).
fn summary(id: &str, rec: Option<&str>, info: Option<&str>, score: Option<f64>) -> Option<JobSummary> {
    let r = Record::parse(rec?)?;
    let info = info.map(info_fields).unwrap_or_default();
    let at = score.map(|s| s.max(0.0) as u64);
    let state = r.state;
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    Some(JobSummary {
        id: JobId(id.to_string()),
        kind: r.kind,
        state,
        // A started run is charged when it ends; counted here already, as the run it is.
        attempts: r.attempts + u32::from(r.started && state == JobState::Running),
        max_attempts: r.max_attempts,
        created_ms: r.created_ms,
        due_ms: at.filter(|_| matches!(state, JobState::Scheduled | JobState::Snoozed)),
        lease_until_ms: at.filter(|_| state == JobState::Running),
        lease: r.lease.filter(|_| state == JobState::Running),
        started: r.started && state == JobState::Running,
        finished_ms: at.filter(|_| matches!(state, JobState::Done | JobState::Dead)),
        last_error: nonempty(info.last_error),
        dead_reason: nonempty(info.dead_reason).filter(|_| state == JobState::Dead),
        worker: r.worker.filter(|_| state == JobState::Running),
        snoozes: info.snoozes.unwrap_or(0.0).max(0.0) as u32,
        snoozed_ms: info.snoozed_ms.unwrap_or(0.0).max(0.0) as u64,
        snooze_reason: nonempty(info.snooze_reason),
    })
}

/// The history: a JSON array of `{t, w, a, e}`. Lua's cjson writes an empty table as `{}`, and
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
    fn records_parse_and_a_kind_may_hold_separators() {
        let r = Record::parse("running|907|1|2|15|1732526716123|host-1-ab|sync:contacts|x").expect("parses");
        assert_eq!(r.state, JobState::Running);
        assert_eq!((r.attempts, r.max_attempts, r.lease, r.started), (2, 15, Some(LeaseToken(907)), true));
        assert_eq!(
            (r.created_ms, r.worker.as_deref(), r.kind.as_str()),
            (1732526716123, Some("host-1-ab"), "sync:contacts|x")
        );
        let r = Record::parse("ready||0|0|5|1|| k").expect("parses");
        assert_eq!((r.lease, r.worker), (None, None));
        assert!(Record::parse("waiting||0|0|5|1||k").is_none());
        assert!(Record::parse("ready||0|x|5|1||k").is_none());
    }

    #[test]
    fn info_tolerates_cjson_forms() {
        let i = info_fields(r#"{"e":"boom","zt":1500.0,"zn":2,"u":"webhook:1"}"#);
        assert_eq!((i.last_error.as_deref(), i.snoozed_ms, i.snoozes), (Some("boom"), Some(1500.0), Some(2.0)));
        assert!(info_fields("{}").last_error.is_none());
        assert!(info_fields("not json").unique.is_none());
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
