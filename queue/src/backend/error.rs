//! How a handler says why a job did not complete, and how any error that reaches the worker is
//! turned into the queue's verdict: retry (with an explicit delay when the handler knows one),
//! snooze (a wait that is not a failure: no attempt spent), or permanent (dead at once).
//! Errors a handler did not classify retry, so an unexpected failure is never lost, only
//! bounded by the job's max attempts.

use std::time::Duration;

use apalis_core::error::{AbortError, BoxDynError, RetryAfterError};

use crate::Failure;

/// A handler's failure, classified.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt: after `after` when given (it wins over the backoff), else
    /// after the queue's backoff.
    #[error("{message}")]
    Retry { after: Option<Duration>, message: String },
    /// Not a failure: the job waits for something (a rate limit, a `Retry-After`, a record
    /// another run is writing) and comes back after `after`; the run is not charged.
    #[error("{reason}")]
    Snooze { after: Duration, reason: String },
    /// Will never succeed (bad input, a rejected request): dead at once.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> JobError {
        JobError::Retry { after: None, message: message.into() }
    }

    pub fn retry_after(after: Duration, message: impl Into<String>) -> JobError {
        JobError::Retry { after: Some(after), message: message.into() }
    }

    pub fn snooze(after: Duration, reason: impl Into<String>) -> JobError {
        JobError::Snooze { after, reason: reason.into() }
    }

    pub fn permanent(message: impl Into<String>) -> JobError {
        JobError::Permanent(message.into())
    }
}

/// What the queue is told about a run that did not succeed.
#[derive(Debug, Clone)]
pub enum Verdict {
    Fail(Failure),
    Snooze { after: Duration, reason: String },
}

/// The job was cut short because the worker stopped and the shutdown deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("interrupted: the worker stopped before the job finished (shutdown deadline passed)")]
pub struct Interrupted;

/// The run's lease was lost (expired, taken by an operator, superseded): it was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("lease lost: the job was taken from this run; it is not this run's to finish")]
pub struct LeaseLost;

/// The handler panicked; counted as a failed attempt.
#[derive(Debug, thiserror::Error)]
#[error("handler panicked: {0}")]
pub struct Panicked(pub String);

impl Panicked {
    pub(crate) fn from_payload(payload: &(dyn std::any::Any + Send)) -> Panicked {
        let text = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a non-text panic payload".to_string()
        };
        Panicked(text)
    }
}

/// Maps whatever error came out of the service stack to the queue's verdict. Looks through
/// the error's source chain, so wrappers added by apalis layers (lifecycle, catch-panic's
/// `AbortError`) do not hide a [`JobError`].
pub fn classify(err: &BoxDynError) -> Verdict {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    let mut saw_abort = false;
    while let Some(e) = cur {
        if let Some(job) = e.downcast_ref::<JobError>() {
            return match job {
                JobError::Retry { after, message } => {
                    Verdict::Fail(Failure::Retry { after: *after, error: message.clone() })
                }
                JobError::Snooze { after, reason } => Verdict::Snooze { after: *after, reason: reason.clone() },
                JobError::Permanent(message) => Verdict::Fail(Failure::Permanent { error: message.clone() }),
            };
        }
        if let Some(p) = e.downcast_ref::<Panicked>() {
            return Verdict::Fail(Failure::Retry { after: None, error: p.to_string() });
        }
        if let Some(r) = e.downcast_ref::<RetryAfterError>() {
            return Verdict::Fail(Failure::Retry { after: Some(r.get_duration()), error: err.to_string() });
        }
        // apalis's catch-panic layer wraps a panic in AbortError(PanicError): a panic is a
        // failed attempt, not a permanent error, so only a deliberate abort is permanent.
        if e.downcast_ref::<apalis::layers::catch_panic::PanicError>().is_some() {
            return Verdict::Fail(Failure::Retry { after: None, error: format!("handler panicked: {e}") });
        }
        saw_abort |= e.downcast_ref::<AbortError>().is_some();
        cur = e.source();
    }
    if saw_abort {
        Verdict::Fail(Failure::Permanent { error: err.to_string() })
    } else {
        Verdict::Fail(Failure::Retry { after: None, error: err.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> BoxDynError {
        Box::new(e)
    }

    #[test]
    fn job_errors_keep_their_class_and_delay() {
        let f = classify(&boxed(JobError::retry_after(Duration::from_secs(7), "500 from upstream")));
        assert!(
            matches!(f, Verdict::Fail(Failure::Retry { after: Some(d), ref error }) if d == Duration::from_secs(7) && error == "500 from upstream")
        );
        let f = classify(&boxed(JobError::permanent("404: no such extension")));
        assert!(matches!(f, Verdict::Fail(Failure::Permanent { ref error }) if error == "404: no such extension"));
        let f = classify(&boxed(JobError::snooze(Duration::from_secs(2), "429 from snapshots")));
        assert!(
            matches!(f, Verdict::Snooze { after, ref reason } if after == Duration::from_secs(2) && reason == "429 from snapshots")
        );
    }

    #[test]
    fn panics_retry_and_unclassified_errors_retry() {
        assert!(matches!(classify(&boxed(Panicked("boom".into()))), Verdict::Fail(Failure::Retry { after: None, .. })));
        let other: BoxDynError = "socket closed".into();
        assert!(
            matches!(classify(&other), Verdict::Fail(Failure::Retry { after: None, ref error }) if error == "socket closed")
        );
        let wrapped = boxed(AbortError::new(apalis::layers::catch_panic::PanicError("x".into())));
        assert!(matches!(classify(&wrapped), Verdict::Fail(Failure::Retry { .. })));
        assert!(matches!(classify(&boxed(AbortError::new("stop"))), Verdict::Fail(Failure::Permanent { .. })));
    }
}
