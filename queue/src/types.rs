//! The values that cross the queue's API.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A job's id: UUID v7 (32 hex characters, sortable by creation time) unless the caller chose
/// one. Chosen by the client, so a retried enqueue cannot create a second job. A caller's id
/// must be 1–128 characters of letters, digits and `_ . : -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId(pub String);

impl JobId {
    pub fn generate() -> JobId {
        JobId(uuid::Uuid::now_v7().simple().to_string())
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fencing token of one lease: a number the queue hands out once (a counter in Redis),
/// never again for any job. Every call that acts on a lease (start, heartbeat, ack, fail,
/// snooze, release) presents it, and changes nothing unless the job is still leased under it,
/// so a run whose lease was lost can neither complete nor fail the job's next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeaseToken(pub u64);

impl fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A job and the lease it is held under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseRef {
    pub id: JobId,
    pub lease: LeaseToken,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Option<JobId>,
    /// 1–128 characters of letters, digits and `_ . : -`.
    pub kind: String,
    /// JSON text, stored as is and decoded by the worker.
    pub payload: String,
    /// Run no earlier than this from now.
    pub delay: Option<Duration>,
    /// While a job with this key was enqueued within the unique TTL, enqueue is a no-op. Any
    /// text; one longer than 128 bytes or with unusual characters is stored as its SHA-256.
    pub unique_key: Option<String>,
    /// Overrides the kind's configured max attempts.
    pub max_attempts: Option<u32>,
    /// Runs before the jobs already ready (real-time work ahead of a bulk backlog). Only for
    /// a job ready now; a delayed one joins the line when it is due, like any other.
    pub front: bool,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: impl Into<String>) -> NewJob {
        NewJob {
            id: None,
            kind: kind.into(),
            payload: payload.into(),
            delay: None,
            unique_key: None,
            max_attempts: None,
            front: false,
        }
    }

    pub fn with_id(mut self, id: JobId) -> NewJob {
        self.id = Some(id);
        self
    }

    pub fn delayed(mut self, delay: Duration) -> NewJob {
        self.delay = Some(delay);
        self
    }

    pub fn unique(mut self, key: impl Into<String>) -> NewJob {
        self.unique_key = Some(key.into());
        self
    }

    pub fn max_attempts(mut self, n: u32) -> NewJob {
        self.max_attempts = Some(n);
        self
    }

    /// Puts the job at the head of the ready line instead of its tail.
    pub fn at_front(mut self) -> NewJob {
        self.front = true;
        self
    }
}

/// What enqueue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    Created(JobId),
    /// Not enqueued: the id exists, or the unique key is held by this job.
    Duplicate(JobId),
}

impl Enqueued {
    pub fn id(&self) -> &JobId {
        match self {
            Enqueued::Created(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// A worker process's identity: unique per process start.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkerId(pub String);

impl WorkerId {
    /// `<host>-<pid>-<random>`, the host name reduced to the characters a worker id allows.
    pub fn generate() -> WorkerId {
        let host: String = hostname()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' })
            .take(64)
            .collect();
        let host = if host.is_empty() { "host".to_string() } else { host };
        let rand = &uuid::Uuid::new_v4().simple().to_string()[..8];
        WorkerId(format!("{host}-{}-{rand}", std::process::id()))
    }
}

/// This machine's host name, or `""`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a worker tells the queue about itself on every heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub id: WorkerId,
    pub host: String,
    pub pid: u32,
    pub started_ms: u64,
    pub concurrency: usize,
}

/// A job leased to a worker, not yet started.
#[derive(Debug, Clone)]
pub struct Leased {
    pub id: JobId,
    pub lease: LeaseToken,
    pub kind: String,
    pub payload: String,
    /// The attempt this run will be once started (1 on the first run). Prefetched jobs are
    /// charged only when they start ([`crate::Queue::start`]), which confirms the number.
    pub attempt: u32,
    pub max_attempts: u32,
    /// When the job was enqueued (ms since the epoch, Redis's clock).
    pub created_ms: u64,
}

impl Leased {
    pub fn lease_ref(&self) -> LeaseRef {
        LeaseRef { id: self.id.clone(), lease: self.lease }
    }
}

/// One reserve round trip.
#[derive(Debug, Clone, Default)]
pub struct Reserved {
    pub jobs: Vec<Leased>,
    /// How long until the next scheduled or snoozed job is due, when one is.
    pub next_due_in: Option<Duration>,
    pub paused: bool,
    /// The call spent its budget skipping ids of discarded jobs while more ids wait: call again
    /// at once rather than waiting for a wake-up.
    pub more: bool,
}

/// Names one reserve call, so that when its reply is lost the leases it made can be handed
/// back ([`crate::Queue::reclaim`]). A fresh one per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveTicket(pub String);

impl ReserveTicket {
    pub fn new() -> ReserveTicket {
        ReserveTicket(uuid::Uuid::new_v4().simple().to_string())
    }
}

impl Default for ReserveTicket {
    fn default() -> Self {
        ReserveTicket::new()
    }
}

/// Why a run failed, as the worker classified it.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Try again: after `after` when given (a `Retry-After`), else after the backoff.
    Retry { after: Option<Duration>, error: String },
    /// Never retry: dead at once with the error.
    Permanent { error: String },
}

/// What fail did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailOutcome {
    Scheduled {
        after: Duration,
    },
    Dead,
    /// The job is no longer leased under this token (its lease expired or was taken); nothing changed.
    NotLeased,
}

/// What snooze did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnoozeOutcome {
    /// Back in `after`; the run is not charged.
    Snoozed {
        after: Duration,
    },
    /// The job's snoozes would pass their bound (`max_snoozed`): recorded as a failed attempt.
    BoundPassed(FailOutcome),
    NotLeased,
}
