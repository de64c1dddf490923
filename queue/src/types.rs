//! The values that cross the queue's API.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A job's id: 32 hex characters, UUID v7 (sortable by creation time) unless the caller
/// chose one. Chosen by the client, so a retried enqueue cannot create a second job.
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

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Option<JobId>,
    pub kind: String,
    /// JSON text, stored as is and decoded by the worker.
    pub payload: String,
    /// Run no earlier than this from now.
    pub delay: Option<Duration>,
    /// While a job with this key was enqueued within the unique TTL, enqueue is a no-op.
    pub unique_key: Option<String>,
    /// Overrides the kind's configured max attempts.
    pub max_attempts: Option<u32>,
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
    /// `<host>-<pid>-<random>`.
    pub fn generate() -> WorkerId {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        let rand = &uuid::Uuid::new_v4().simple().to_string()[..8];
        WorkerId(format!("{host}-{}-{rand}", std::process::id()))
    }
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

/// A job leased to a worker.
#[derive(Debug, Clone)]
pub struct Leased {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    /// 1 on the first run.
    pub attempt: u32,
    pub max_attempts: u32,
}

/// One reserve round trip.
#[derive(Debug, Clone, Default)]
pub struct Reserved {
    pub jobs: Vec<Leased>,
    /// How long until the next scheduled job is due, when one is.
    pub next_due_in: Option<Duration>,
    pub paused: bool,
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
    /// The job is no longer leased to this worker (its lease expired); nothing changed.
    NotLeased,
}
