//! Snapshots client errors, each keeping what the worker needs to decide and report:
//! the HTTP status, Snapshots' `error.code`, the `field` a 422 names, `Retry-After`.
//! The API key is never part of any of them (it only travels in a header).

use std::time::Duration;

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
