//! Every failure a handler meets, and its verdict: retry (with the server's `Retry-After`
//! when it sent one) or permanent. The verdict comes from `snapsync::errors::classify`,
//! except for RingCentral's errors, which carry their own verdict (`RcError::is_retryable`).
//! Messages name the record that failed, so a dead job says which contact or site to fix.

use std::time::Duration;

use snapsync::errors::{classify, Classification};
use snapsync::mapping::MappingError;
use snapsync::ringcentral::RcError;
use snapsync::routing::RoutingError;
use snapsync::snapshots::SnapshotsError;
use snapsync_queue::QueueError;

use snapsync_queue::JobError;

/// A handler's failure, before classification.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("ringcentral: {0}")]
    Rc(#[from] RcError),
    #[error("snapshots: {0}")]
    Snapshots(#[from] SnapshotsError),
    #[error("{0}")]
    Mapping(#[from] MappingError),
    #[error("routing: {0}")]
    Routing(#[from] RoutingError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    /// RingCentral's usage group is paused after a 429 (see `rc_pause`); not called.
    #[error("ringcentral {group} group paused after a 429; {left:?} left")]
    Paused { group: String, left: Duration },
    /// A payload that cannot be read (wrong shape or version).
    #[error("{0}")]
    Payload(String),
}

impl HandlerError {
    pub fn classification(&self) -> Classification {
        match self {
            HandlerError::Rc(e) if e.is_retryable() => Classification::Retryable {
                reason: "ringcentral answered with a retryable error".into(),
                retry_after: e.retry_after().map(|after| if e.status() == Some(429) { spread(after) } else { after }),
            },
            HandlerError::Rc(_) => Classification::permanent("ringcentral refused the request"),
            HandlerError::Paused { left, .. } => {
                Classification::Retryable { reason: "rate-limit pause".into(), retry_after: Some(spread(*left)) }
            }
            HandlerError::Payload(_) => Classification::permanent("bad payload"),
            HandlerError::Queue(e) if e.is_connection() => Classification::retryable("redis unavailable"),
            HandlerError::Queue(_) => Classification::retryable("queue error"),
            other => classify(other),
        }
    }
}

/// A 429's `Retry-After`, stretched by a random 0–100 %: every job that hit the limit in the
/// same window would otherwise come back at the same instant, and RingCentral restarts the
/// penalty on each request that arrives during it.
pub(crate) fn spread(after: Duration) -> Duration {
    after + after.mul_f64(rand::random::<f64>())
}

/// `error` about `record` (e.g. `contact 500000201`) as the worker's [`JobError`].
pub fn job_error(record: &str, error: &HandlerError) -> JobError {
    let message = format!("{record}: {error}");
    match error.classification() {
        Classification::Retryable { retry_after, .. } => JobError::Retry { after: retry_after, message },
        Classification::Permanent { .. } => JobError::Permanent(message),
    }
}

/// The failures of a job that writes many records, as one [`JobError`]: retry when any of
/// them may pass later (after the longest `Retry-After`), else permanent; the message names
/// every failed record (the first ten, then a count).
pub fn combine(total: usize, failures: &[(String, HandlerError)]) -> Option<JobError> {
    if failures.is_empty() {
        return None;
    }
    let mut retry = false;
    let mut after: Option<Duration> = None;
    for (_, e) in failures {
        if let Classification::Retryable { retry_after, .. } = e.classification() {
            retry = true;
            after = after.max(retry_after);
        }
    }
    let mut message = format!("{} of {total} records failed: ", failures.len());
    let shown: Vec<String> = failures.iter().take(10).map(|(r, e)| format!("{r}: {e}")).collect();
    message.push_str(&shown.join("; "));
    if failures.len() > 10 {
        message.push_str(&format!("; and {} more", failures.len() - 10));
    }
    Some(if retry { JobError::Retry { after, message } } else { JobError::Permanent(message) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_delays_are_spread_over_one_more_window() {
        let base = Duration::from_secs(2);
        for _ in 0..100 {
            let d = spread(base);
            assert!(d >= base && d <= base * 2, "{d:?}");
        }
    }

    #[test]
    fn payload_errors_are_permanent_and_name_the_record() {
        let e = job_error("contact 5", &HandlerError::Payload("bad".into()));
        assert!(matches!(e, JobError::Permanent(ref m) if m == "contact 5: bad"), "{e:?}");
    }

    #[test]
    fn one_retryable_failure_makes_the_batch_retry() {
        let io = redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"));
        let failures = vec![
            ("site 1".to_string(), HandlerError::Payload("bad".into())),
            ("site 2".to_string(), HandlerError::Redis(io)),
        ];
        let e = combine(5, &failures).expect("an error");
        assert!(matches!(e, JobError::Retry { .. }), "{e:?}");
        assert!(e.to_string().starts_with("2 of 5 records failed: site 1: bad; site 2: redis"), "{e}");
        assert!(combine(5, &[]).is_none());
        let only_bad = vec![("site 1".to_string(), HandlerError::Payload("bad".into()))];
        assert!(matches!(combine(1, &only_bad), Some(JobError::Permanent(_))));
    }
}
