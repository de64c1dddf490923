//! Snapshots client errors, each keeping what the worker needs to decide and report:
//! the HTTP status, Snapshots' `error.code`, the `field` a 422 names, `Retry-After`.
//! The API key is never part of any of them (it only travels in a header).

use std::time::Duration;

use crate::errors::{Classification, Classify};

/// How long a run that lost its record lock waits before its next try.
pub const LOCK_LOST_WAIT: Duration = Duration::from_millis(100);

/// An error answer from Snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What was attempted, e.g. `POST /leads`.
    pub op: String,
    pub status: u16,
    /// Snapshots' `error.code` (`validation_failed`, `conflict`, ...); empty if the body had none.
    pub code: String,
    pub message: String,
    /// The field a 422 names.
    pub field: Option<String>,
    /// The id a 409 `conflict` names.
    pub existing_id: Option<String>,
    pub retry_after: Option<Duration>,
    pub request_id: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "snapshots {} answered {}", self.op, self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        if let Some(field) = &self.field {
            write!(f, " on field {field:?}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(ra) = self.retry_after {
            write!(f, " (retry after {} s)", ra.as_secs())?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request {id}]")?;
        }
        Ok(())
    }
}

/// A Snapshots client failure.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotsError {
    #[error("snapshots {op} failed before an answer: {source}")]
    Transport {
        op: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{0}")]
    Api(Box<ApiError>),
    #[error("snapshots {op}: unexpected response: {detail}")]
    Response { op: String, detail: String },
    #[error("redis {op} (snapshots write state) failed: {source}")]
    Redis {
        op: &'static str,
        #[source]
        source: redis::RedisError,
    },
    #[error("{collection} record {external_id:?} is being written by another run; free within {retry_in:?}")]
    Busy { collection: &'static str, external_id: String, retry_in: Duration },
    /// The record's lock was no longer this run's when its state was to be written (it
    /// expired and another run may hold it now); the state was left as it was.
    #[error("{collection} record {external_id:?}: this run lost its write lock; its state was not written")]
    LockLost { collection: &'static str, external_id: String },
    #[error("invalid snapshots client input: {0}")]
    Invalid(String),
    /// Not sent: the API key's shared budget had no permit within the wait a job may sit
    /// through (or is paused after a 429). A wait, not a failure.
    #[error("snapshots {op} not sent: {source}")]
    Throttled {
        op: String,
        #[source]
        source: snapsync_queue::LimitError,
    },
}

impl SnapshotsError {
    /// The API error, when Snapshots answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            SnapshotsError::Api(e) => Some(e),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    pub fn code(&self) -> Option<&str> {
        self.api().map(|e| e.code.as_str())
    }

    pub fn field(&self) -> Option<&str> {
        self.api().and_then(|e| e.field.as_deref())
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|e| e.retry_after)
    }

    pub(crate) fn redis(op: &'static str) -> impl FnOnce(redis::RedisError) -> SnapshotsError {
        move |source| SnapshotsError::Redis { op, source }
    }
}

/// How long a job waits when another writer keeps changing the record it writes.
const CONCURRENT_UPDATE_WAIT: Duration = Duration::from_secs(1);

impl Classify for SnapshotsError {
    fn classify(&self) -> Classification {
        match self {
            SnapshotsError::Transport { source, .. } => source.classify(),
            // A 412 that survived one re-read means another writer keeps changing the record:
            // a busy record, not a failure. Come back once it has settled; the snooze bound
            // keeps a record that never settles from waiting forever.
            SnapshotsError::Api(e) if e.status == 412 => {
                Classification::snooze(format!("concurrent update of the record: {e}"), CONCURRENT_UPDATE_WAIT)
            }
            SnapshotsError::Api(e) => {
                let mut detail = e.code.clone();
                if let Some(field) = &e.field {
                    detail.push_str(&format!(" on field {field}"));
                }
                if !e.message.is_empty() {
                    detail.push_str(&format!(" ({})", e.message));
                }
                Classification::from_http_with(e.status, e.retry_after, &detail)
            }
            // Snapshots broke its own contract; the same request will get the same answer.
            SnapshotsError::Response { .. } => Classification::permanent(self.to_string()),
            SnapshotsError::Redis { source, .. } => source.classify(),
            // Another run holds the record: wait for its lock (at most one lease), not a failure.
            SnapshotsError::Busy { retry_in, .. } => Classification::snooze(
                self.to_string(),
                (*retry_in).clamp(Duration::from_millis(50), Duration::from_secs(30)),
            ),
            // A lock outlives a live run (the heartbeat renews it with the lease), so losing it
            // means the run lost its lease or stalled past it: nothing is wrong with the job or
            // the record. Come back shortly; the next run re-reads Snapshots by external id
            // and writes the state then (whoever holds the lock now finishes first).
            SnapshotsError::LockLost { .. } => Classification::snooze(self.to_string(), LOCK_LOST_WAIT),
            SnapshotsError::Invalid(_) => Classification::permanent(self.to_string()),
            SnapshotsError::Throttled { source, .. } => match source.wait() {
                Some(wait) => Classification::snooze(self.to_string(), wait),
                None => Classification::retryable(self.to_string()),
            },
        }
    }
}
