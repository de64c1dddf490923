//! Queue errors. A dropped connection is told apart so workers and the producer back off
//! and retry instead of giving up.

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis {op} failed: {source}")]
    Redis {
        op: &'static str,
        #[source]
        source: redis::RedisError,
    },
    #[error("unexpected reply from redis {op}: {detail}")]
    Reply { op: &'static str, detail: String },
    #[error("invalid queue configuration: {}", .0.join("; "))]
    Config(Vec<String>),
    /// A job the queue refuses (a kind or id it cannot store); nothing was written.
    #[error("{0}")]
    Invalid(String),
}

impl QueueError {
    pub(crate) fn redis(op: &'static str) -> impl FnOnce(redis::RedisError) -> QueueError {
        move |source| QueueError::Redis { op, source }
    }

    /// True when Redis could not be reached, the connection dropped or was refused (AUTH,
    /// LOADING, failover: [`crate::conn::is_connection_error`]): worth retrying.
    pub fn is_connection(&self) -> bool {
        match self {
            QueueError::Redis { source, .. } => crate::conn::is_connection_error(source),
            _ => false,
        }
    }
}
