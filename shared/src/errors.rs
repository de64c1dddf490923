//! Error classification: the one place that decides whether a failure is worth retrying.
//!
//! *Whether* to retry lives here; *how* (backoff, caps, jitter) lives in the queue
//! (`snapsync_queue::backoff`). The verdict is one of three:
//! - **snooze**: not a failure but a wait — a 429 (rate limited), a 503 that names its
//!   `Retry-After`, a record another run is writing. The job comes back after the wait with
//!   its attempt given back, so waiting never uses up retries;
//! - **retryable**: could not connect, timed out, 408, 5xx without a `Retry-After`: a real
//!   failure that may pass, retried with backoff and bounded by the job's attempts;
//! - **permanent**: any other 4xx, a payload the other side rejects, a mapping error.
//!
//! Every verdict carries a reason a person can read in the dead set.
//!
//! Every error type a job meets (RingCentral's, Snapshots', mapping, routing, the queue, Redis,
//! HTTP, I/O) is classified in this module and nowhere else, through [`Classify`]; [`classify`]
//! walks an arbitrary error's `source` chain for a known type.
//! Another client (RingCentral's) can reuse the HTTP rule with [`Classification::from_http`].

use std::time::Duration;

use snapsync_queue::QueueError;

use crate::mapping::MappingError;
use crate::ringcentral::RcError;
use crate::routing::RoutingError;
use crate::snapshots::SnapshotsError;

/// How long to wait after a 429 that names no `Retry-After`.
pub const DEFAULT_RATE_WAIT: Duration = Duration::from_secs(1);

/// The verdict on one failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// Not a failure: wait `after` and try again, without spending an attempt.
    Snooze { reason: String, after: Duration },
    /// Try again later; not before `retry_after` when the server said so.
    Retryable { reason: String, retry_after: Option<Duration> },
    /// Trying again cannot help: dead-letter at once with the reason.
    Permanent { reason: String },
}

impl Classification {
    pub fn retryable(reason: impl Into<String>) -> Classification {
        Classification::Retryable { reason: reason.into(), retry_after: None }
    }

    pub fn permanent(reason: impl Into<String>) -> Classification {
        Classification::Permanent { reason: reason.into() }
    }

    pub fn snooze(reason: impl Into<String>, after: Duration) -> Classification {
        Classification::Snooze { reason: reason.into(), after }
    }

    /// The HTTP rule: a 429, and a 5xx that names its `Retry-After`, is a wait (snooze) for
    /// that long; 408 and other 5xx retry; every other status of 400 and above is permanent.
    /// A status below 400 is not an error; it is reported as permanent ("unexpected status")
    /// because retrying a request the server answered successfully but strangely will not
    /// change the answer.
    pub fn from_http(status: u16, retry_after: Option<Duration>) -> Classification {
        match (status, retry_after) {
            (429, after) => Classification::snooze("http 429 rate limited", after.unwrap_or(DEFAULT_RATE_WAIT)),
            (500..=599, Some(after)) => {
                Classification::snooze(format!("http {status} unavailable, retry after {}s", after.as_secs()), after)
            }
            _ => Self::failure_from_http(status, retry_after),
        }
    }

    fn failure_from_http(status: u16, retry_after: Option<Duration>) -> Classification {
        match status {
            408 => Classification::Retryable { reason: "http 408 request timeout".into(), retry_after },
            500..=599 => Classification::Retryable { reason: format!("http {status} server error"), retry_after },
            400..=499 => Classification::permanent(format!("http {status} client error")),
            _ => Classification::permanent(format!("unexpected http status {status}")),
        }
    }

    /// Same as [`Classification::from_http`], with detail appended to the reason
    /// (e.g. the API's error code and field).
    pub fn from_http_with(status: u16, retry_after: Option<Duration>, detail: &str) -> Classification {
        let mut c = Classification::from_http(status, retry_after);
        if !detail.is_empty() {
            match &mut c {
                Classification::Snooze { reason, .. }
                | Classification::Retryable { reason, .. }
                | Classification::Permanent { reason } => {
                    reason.push_str(": ");
                    reason.push_str(detail);
                }
            }
        }
        c
    }

    /// Worth another try (a snooze or a retry), as opposed to permanent.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Classification::Permanent { .. })
    }

    pub fn is_snooze(&self) -> bool {
        matches!(self, Classification::Snooze { .. })
    }

    pub fn reason(&self) -> &str {
        match self {
            Classification::Snooze { reason, .. }
            | Classification::Retryable { reason, .. }
            | Classification::Permanent { reason } => reason,
        }
    }

    /// The earliest moment to try again, when known (a snooze always knows).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Classification::Snooze { after, .. } => Some(*after),
            Classification::Retryable { retry_after, .. } => *retry_after,
            Classification::Permanent { .. } => None,
        }
    }
}

/// An error that knows whether it is worth retrying.
pub trait Classify {
    fn classify(&self) -> Classification;
}

/// A transport error from reqwest: connect and timeout retry; a body that could not be
/// built or decoded is permanent; anything else (a dropped connection mid-request) retries.
// Every error type snapsync's jobs meet, classified here and nowhere else.

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
            SnapshotsError::LockLost { .. } => {
                Classification::snooze(self.to_string(), crate::snapshots::error::LOCK_LOST_WAIT)
            }
            SnapshotsError::Invalid(_) => Classification::permanent(self.to_string()),
            SnapshotsError::Throttled { source, .. } => match source.wait() {
                Some(wait) => Classification::snooze(self.to_string(), spread_some(wait)),
                None => Classification::retryable(self.to_string()),
            },
        }
    }
}

impl Classify for RoutingError {
    fn classify(&self) -> Classification {
        match self {
            RoutingError::Redis { source, .. } => source.classify(),
            _ => Classification::permanent(format!("routing error: {self}")),
        }
    }
}

impl Classify for MappingError {
    fn classify(&self) -> Classification {
        Classification::permanent(format!("mapping error: {self}"))
    }
}

impl Classify for RcError {
    fn classify(&self) -> Classification {
        match self {
            // A 429 (and a 503 naming its wait) is RingCentral asking us to wait: a snooze,
            // spread so the jobs it stopped do not come back in lockstep.
            e if e.status() == Some(429) => {
                Classification::snooze("ringcentral rate limit", spread(e.retry_after().unwrap_or(DEFAULT_RATE_WAIT)))
            }
            // The client's own budget had no permit in time: nothing was sent; come back when
            // one is due (spread a little, so the jobs it stopped do not return at once).
            RcError::Throttled { source, .. } => match source.wait() {
                Some(wait) => {
                    Classification::snooze(format!("ringcentral rate-limit budget: {self}"), spread_some(wait))
                }
                None => Classification::retryable(format!("redis unavailable for the rate limiter: {self}")),
            },
            e if e.status().is_some_and(|s| s >= 500) && e.retry_after().is_some() => {
                Classification::snooze("ringcentral unavailable", e.retry_after().unwrap_or_default())
            }
            // Another process is logging in (or its login backs off after a transient failure):
            // this job waits for the shared token, which is not its own failure.
            RcError::TokenWait { .. } => {
                Classification::snooze("waiting for another process's ringcentral login", spread(TOKEN_WAIT))
            }
            // No token until an operator runs `snapsync login`: the job waits for it (a
            // snooze, no attempt spent; past `retry.max_snoozed` the queue counts it as a
            // failed attempt, so a login never done still surfaces as dead jobs).
            RcError::LoginRequired { .. } => {
                Classification::snooze("ringcentral needs `snapsync login`", spread(LOGIN_WAIT))
            }
            RcError::AuthBackoff { retryable: true, retry_after, .. } => {
                Classification::snooze("ringcentral login backing off", spread(*retry_after))
            }
            e if e.is_retryable() => Classification::Retryable {
                reason: "ringcentral answered with a retryable error".into(),
                retry_after: e.retry_after(),
            },
            _ => Classification::permanent("ringcentral refused the request"),
        }
    }
}

impl Classify for QueueError {
    fn classify(&self) -> Classification {
        if self.is_connection() {
            Classification::retryable("redis unavailable")
        } else {
            Classification::retryable("queue error")
        }
    }
}

/// How long a job waits before looking again for the token another process is getting.
const TOKEN_WAIT: Duration = Duration::from_secs(1);

/// How long a job waits before looking again for the pair `snapsync login` stores (only
/// Redis is read meanwhile; nothing is sent to RingCentral without a pair).
const LOGIN_WAIT: Duration = Duration::from_secs(5);

/// How long a job waits when another writer keeps changing the record it writes.
const CONCURRENT_UPDATE_WAIT: Duration = Duration::from_secs(1);

/// A 429's `Retry-After`, stretched by a random 0–100 %: every job that hit the limit in the
/// same window would otherwise come back at the same instant, and RingCentral restarts the
/// penalty on each request that arrives during it.
pub fn spread(after: Duration) -> Duration {
    after + after.mul_f64(rand::random::<f64>())
}

/// A budget's wait, stretched by a random 0–50 %: enough that the jobs one full window
/// stopped come back over a while, not so much that permits go unused.
pub fn spread_some(after: Duration) -> Duration {
    after + after.mul_f64(rand::random::<f64>() * 0.5)
}

impl Classify for reqwest::Error {
    fn classify(&self) -> Classification {
        if self.is_timeout() {
            Classification::retryable("request timed out")
        } else if self.is_connect() {
            Classification::retryable("could not connect")
        } else if let Some(status) = self.status() {
            Classification::from_http(status.as_u16(), None)
        } else if self.is_builder() || self.is_decode() {
            Classification::permanent(format!("bad request or response payload: {self}"))
        } else {
            Classification::retryable(format!("transport error: {self}"))
        }
    }
}

/// Redis: a connection that dropped, refused or timed out retries; a script or type error
/// is a bug or a corrupted key and retries would hit it again.
impl Classify for redis::RedisError {
    fn classify(&self) -> Classification {
        if self.is_io_error() || self.is_connection_dropped() || self.is_connection_refusal() || self.is_timeout() {
            Classification::retryable(format!("redis unavailable: {self}"))
        } else if matches!(self.kind(), redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)) {
            Classification::retryable("redis is loading its data")
        } else {
            Classification::permanent(format!("redis error: {self}"))
        }
    }
}

impl Classify for std::io::Error {
    fn classify(&self) -> Classification {
        use std::io::ErrorKind::*;
        match self.kind() {
            TimedOut => Classification::retryable("i/o timed out"),
            ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | BrokenPipe | UnexpectedEof => {
                Classification::retryable(format!("connection failed: {self}"))
            }
            _ => Classification::permanent(format!("i/o error: {self}")),
        }
    }
}

/// Classifies any error by the first known type on its `source` chain (the error itself
/// first). An error of no known type retries: the attempt limit bounds it, and giving up
/// on the first unknown failure would dead-letter jobs a transient fault could have let
/// through.
pub fn classify(error: &(dyn std::error::Error + 'static)) -> Classification {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(c) = known(e) {
            return c;
        }
        current = e.source();
    }
    Classification::retryable(format!("unclassified error: {error}"))
}

fn known(e: &(dyn std::error::Error + 'static)) -> Option<Classification> {
    if let Some(e) = e.downcast_ref::<crate::snapshots::SnapshotsError>() {
        return Some(e.classify());
    }
    if let Some(e) = e.downcast_ref::<crate::mapping::MappingError>() {
        return Some(e.classify());
    }
    if let Some(e) = e.downcast_ref::<crate::routing::RoutingError>() {
        return Some(e.classify());
    }
    if let Some(e) = e.downcast_ref::<reqwest::Error>() {
        return Some(e.classify());
    }
    if let Some(e) = e.downcast_ref::<redis::RedisError>() {
        return Some(e.classify());
    }
    if let Some(e) = e.downcast_ref::<std::io::Error>() {
        return Some(e.classify());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses() {
        let wait = Duration::from_secs(7);
        let ra = Some(wait);
        assert_eq!(Classification::from_http(429, ra), Classification::snooze("http 429 rate limited", wait));
        assert_eq!(Classification::from_http(429, None).retry_after(), Some(DEFAULT_RATE_WAIT));
        assert!(Classification::from_http(503, ra).is_snooze(), "a 503 naming its Retry-After is a wait");
        assert_eq!(Classification::from_http(503, ra).retry_after(), ra);
        assert!(!Classification::from_http(503, None).is_snooze(), "a bare 503 is a failure that may pass");
        assert!(Classification::from_http(408, None).is_retryable());
        assert!(
            Classification::from_http(500, None).is_retryable() && !Classification::from_http(500, None).is_snooze()
        );
        assert!(Classification::from_http(502, None).is_retryable());
        for s in [400, 401, 403, 404, 409, 412, 422] {
            let c = Classification::from_http(s, ra);
            assert!(!c.is_retryable(), "{s}");
            assert_eq!(c.retry_after(), None, "a permanent verdict has no retry time");
            assert!(c.reason().contains(&s.to_string()));
        }
        let c = Classification::from_http_with(422, None, "validation_failed on field email");
        assert_eq!(c.reason(), "http 422 client error: validation_failed on field email");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("handler failed")]
    struct Wrapper(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("mystery")]
    struct Mystery;

    #[test]
    fn walks_the_source_chain() {
        let e = Wrapper(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"));
        assert!(classify(&e).is_retryable());
        let e = Wrapper(std::io::Error::new(std::io::ErrorKind::InvalidData, "junk"));
        assert!(!classify(&e).is_retryable());
        let c = classify(&Mystery);
        assert!(c.is_retryable());
        assert!(c.reason().contains("unclassified"));
    }
}
