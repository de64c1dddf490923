//! Every failure a handler meets, and its verdict: snooze (a wait that is not a failure: a
//! rate-limit pause, a 429, a 503 with `Retry-After`, a record another run is writing — no
//! attempt spent), retry (with backoff) or permanent. The verdict comes from
//! `snapsync::errors`, the one module that classifies every error type. Messages name the
//! record that failed, so a dead job says which contact or site to fix.

use std::time::Duration;

use snapsync::errors::{Classification, Classify};
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
    /// A payload that cannot be read (wrong shape or version), or a record it names that
    /// cannot be used (a call-log record without an id).
    #[error("{0}")]
    Payload(String),
    /// What the job needs is not there yet but should come (a call's call-log record, which
    /// RingCentral writes a little after the call ends; the location of a site not synced
    /// yet): a wait, not a failure, so the job snoozes ([`NOT_YET_WAIT`]) and spends no
    /// attempt. The queue's `retry.max_snoozed` bounds it: past that, snoozes count as
    /// attempts, so something that never comes ends in the dead set, named.
    #[error("{0}")]
    NotYet(String),
}

/// How long a job whose input is not there yet waits before it looks again.
pub const NOT_YET_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl HandlerError {
    /// The verdict, from the one place that decides it (`snapsync::errors`).
    pub fn classification(&self) -> Classification {
        match self {
            HandlerError::Rc(e) => e.classify(),
            HandlerError::Snapshots(e) => e.classify(),
            HandlerError::Mapping(e) => e.classify(),
            HandlerError::Routing(e) => e.classify(),
            HandlerError::Redis(e) => e.classify(),
            HandlerError::Queue(e) => e.classify(),
            HandlerError::Payload(_) => Classification::permanent("bad payload"),
            HandlerError::NotYet(_) => Classification::snooze("not there yet", NOT_YET_WAIT),
        }
    }
}

/// `error` about `record` (e.g. `contact 500000201`) as the worker's [`JobError`].
pub fn job_error(record: &str, error: &HandlerError) -> JobError {
    let message = format!("{record}: {error}");
    match error.classification() {
        Classification::Snooze { after, .. } => JobError::Snooze { after, reason: message },
        Classification::Retryable { retry_after, .. } => JobError::Retry { after: retry_after, message },
        Classification::Permanent { .. } => JobError::Permanent(message),
    }
}

/// The failures of a job that writes many records, as one [`JobError`]: a snooze when every
/// one of them is a wait (for the longest), a retry when any may pass later (after the
/// longest `Retry-After`), else permanent; the message names every failed record (the first
/// ten, then a count). Records that were written are not written again on the next run
/// (their content hash matches).
pub fn combine(total: usize, failures: &[(String, HandlerError)]) -> Option<JobError> {
    if failures.is_empty() {
        return None;
    }
    let (mut retry, mut snooze) = (false, true);
    let mut after: Option<Duration> = None;
    for (_, e) in failures {
        let c = e.classification();
        snooze &= c.is_snooze();
        if c.is_retryable() {
            retry = true;
            after = after.max(c.retry_after());
        }
    }
    let mut message = format!("{} of {total} records failed: ", failures.len());
    let shown: Vec<String> = failures.iter().take(10).map(|(r, e)| format!("{r}: {e}")).collect();
    message.push_str(&shown.join("; "));
    if failures.len() > 10 {
        message.push_str(&format!("; and {} more", failures.len() - 10));
    }
    Some(match (snooze, retry, after) {
        (true, _, Some(after)) => JobError::Snooze { after, reason: message },
        (_, true, after) => JobError::Retry { after, message },
        _ => JobError::Permanent(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_delays_are_spread_over_one_more_window() {
        let base = Duration::from_secs(2);
        for _ in 0..100 {
            let d = snapsync::errors::spread(base);
            assert!(d >= base && d <= base * 2, "{d:?}");
        }
    }

    #[test]
    fn waits_snooze_and_failures_retry() {
        let paused = HandlerError::Rc(RcError::Throttled {
            method: "GET",
            path: "/restapi/v1.0/account/~/extension/1/address-book-sync".into(),
            group: "heavy",
            source: snapsync_queue::LimitError::Wait {
                budget: "ringcentral:heavy:x".into(),
                wait: Duration::from_secs(2),
                paused: true,
            },
        });
        let e = job_error("extension 1", &paused);
        assert!(matches!(e, JobError::Snooze { after, .. } if after >= Duration::from_secs(2)), "{e:?}");
        let io = redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"));
        assert!(matches!(job_error("x", &HandlerError::Redis(io)), JobError::Retry { .. }));
        let both = vec![("site 1".to_string(), paused)];
        assert!(matches!(combine(3, &both), Some(JobError::Snooze { .. })));
        let waiting = HandlerError::Rc(RcError::TokenWait { waited: Duration::from_secs(5) });
        assert!(matches!(job_error("x", &waiting), JobError::Snooze { .. }));
        let backing_off = |retryable| {
            HandlerError::Rc(RcError::AuthBackoff {
                reason: "429".into(),
                retry_after: Duration::from_secs(3),
                retryable,
            })
        };
        assert!(
            matches!(job_error("x", &backing_off(true)), JobError::Snooze { after, .. } if after >= Duration::from_secs(3))
        );
        assert!(matches!(job_error("x", &backing_off(false)), JobError::Permanent(_)));
        // No token until an operator runs `snapsync login`: a wait, and the reason says so.
        let login = HandlerError::Rc(RcError::LoginRequired { reason: "OAU-213".into() });
        let e = job_error("account", &login);
        assert!(
            matches!(&e, JobError::Snooze { after, reason } if *after >= Duration::from_secs(5) && reason.contains("run `snapsync login`")),
            "{e:?}"
        );
    }

    #[test]
    fn a_busy_record_in_a_batch_never_fails_the_batch_for_good() {
        let busy = || {
            HandlerError::Snapshots(SnapshotsError::Busy {
                collection: "locations",
                external_id: "ringcentral:site:1".into(),
                retry_in: Duration::from_secs(2),
            })
        };
        let lost = HandlerError::Snapshots(SnapshotsError::LockLost {
            collection: "locations",
            external_id: "ringcentral:site:2".into(),
        });
        // Only waits: the job snoozes for the longest of them.
        let waits = vec![("site 1".to_string(), busy()), ("site 2".to_string(), lost)];
        let e = combine(5, &waits).expect("an error");
        assert!(matches!(e, JobError::Snooze { after, .. } if after == Duration::from_secs(2)), "{e:?}");
        // Next to a record Snapshots refused for good, a busy one still makes it a retry:
        // the refused record is not retried into success, but the busy one gets its turn.
        let mixed = vec![("site 1".to_string(), busy()), ("site 3".to_string(), HandlerError::Payload("bad".into()))];
        assert!(matches!(combine(5, &mixed), Some(JobError::Retry { .. })));
        assert!(matches!(job_error("contact 1", &busy()), JobError::Snooze { .. }));
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
