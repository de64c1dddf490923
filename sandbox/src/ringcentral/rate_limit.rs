//! RingCentral's usage-plan rate limits (API page §4): per (app, user, group) sliding
//! window of `RcConfig::window`; over the limit, the group is locked for a penalty as long
//! as the window, and every request during the penalty is refused **and restarts it** (the
//! "429 trap"). The counting is pure ([`RateLimiter::hit`] takes `now`) so it is unit-tested
//! on a made-up clock.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use super::{errors, RcState};

/// A usage-plan group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Light,
    Medium,
    Heavy,
    Auth,
}

impl Group {
    /// The `X-Rate-Limit-Group` value (lower-case, as in RingCentral's docs).
    pub fn name(self) -> &'static str {
        match self {
            Group::Light => "light",
            Group::Medium => "medium",
            Group::Heavy => "heavy",
            Group::Auth => "auth",
        }
    }

    /// Requests allowed per window.
    pub fn limit(self) -> u32 {
        match self {
            Group::Light => 50,
            Group::Medium => 40,
            Group::Heavy => 10,
            Group::Auth => 5,
        }
    }
}

/// The `X-Rate-Limit-*` headers of one answer.
#[derive(Debug, Clone)]
pub struct RateHeaders {
    pub group: Group,
    pub limit: u32,
    pub remaining: u32,
    pub window_secs: u64,
}

impl RateHeaders {
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert("x-rate-limit-group", HeaderValue::from_static(self.group.name()));
        headers.insert("x-rate-limit-limit", self.limit.into());
        headers.insert("x-rate-limit-remaining", self.remaining.into());
        headers.insert("x-rate-limit-window", self.window_secs.into());
    }
}

/// What the limiter decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Counted; this many requests are left in the window.
    Admitted { remaining: u32 },
    /// Refused; the penalty ends after this long (if nothing else arrives).
    Limited { retry_after: Duration },
}

#[derive(Default)]
struct Bucket {
    /// Admitted requests inside the current window, oldest first.
    hits: VecDeque<Instant>,
    penalty_until: Option<Instant>,
}

/// Per (app, user, group) buckets.
#[derive(Default)]
pub struct RateLimiter {
    buckets: HashMap<(String, u64, Group), Bucket>,
}

impl RateLimiter {
    /// Counts one request of `user` in `client_id`'s `group` at `now`.
    pub fn hit(&mut self, client_id: &str, user: u64, group: Group, window: Duration, now: Instant) -> Verdict {
        let bucket = self.buckets.entry((client_id.to_string(), user, group)).or_default();
        if bucket.penalty_until.is_some_and(|until| now < until) {
            // The 429 trap: a request during the penalty starts it again.
            bucket.penalty_until = Some(now + window);
            return Verdict::Limited { retry_after: window };
        }
        bucket.penalty_until = None;
        while bucket.hits.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
            bucket.hits.pop_front();
        }
        if bucket.hits.len() >= group.limit() as usize {
            bucket.penalty_until = Some(now + window);
            return Verdict::Limited { retry_after: window };
        }
        bucket.hits.push_back(now);
        Verdict::Admitted { remaining: group.limit().saturating_sub(bucket.hits.len() as u32) }
    }
}

/// Counts one call; `Ok` carries the headers to put on the answer, `Err` is the 429 to
/// send (CMN-301 with `Retry-After` and the rate headers).
pub fn admit(state: &RcState, client_id: &str, user: u64, group: Group) -> Result<RateHeaders, Response> {
    let window = state.config.window;
    let window_secs = ceil_secs(window);
    let verdict =
        state.limiter.lock().unwrap_or_else(|e| e.into_inner()).hit(client_id, user, group, window, Instant::now());
    match verdict {
        Verdict::Admitted { remaining } => Ok(RateHeaders { group, limit: group.limit(), remaining, window_secs }),
        Verdict::Limited { retry_after } => {
            let mut resp = errors::rate_exceeded();
            RateHeaders { group, limit: group.limit(), remaining: 0, window_secs }.apply(resp.headers_mut());
            resp.headers_mut().insert("retry-after", ceil_secs(retry_after).into());
            Err(resp)
        }
    }
}

/// Whole seconds, rounded up, at least 1 (headers carry integers).
fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(60);

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn light_allows_50_per_window_then_penalises() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..50 {
            assert_eq!(rl.hit("app", 1, Group::Light, W, at(t0, i)), Verdict::Admitted { remaining: 49 - i as u32 });
        }
        assert_eq!(rl.hit("app", 1, Group::Light, W, at(t0, 50)), Verdict::Limited { retry_after: W });
    }

    #[test]
    fn window_slides() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..10 {
            rl.hit("app", 1, Group::Heavy, W, at(t0, i * 1000));
        }
        // The first hit (t=0) leaves the window at t=60 s; the 11th request then fits.
        assert_eq!(rl.hit("app", 1, Group::Heavy, W, at(t0, 60_000)), Verdict::Admitted { remaining: 0 });
        assert!(matches!(rl.hit("app", 1, Group::Heavy, W, at(t0, 60_500)), Verdict::Limited { .. }));
    }

    #[test]
    fn a_request_during_the_penalty_restarts_it() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            rl.hit("app", 1, Group::Auth, W, t0);
        }
        assert!(matches!(rl.hit("app", 1, Group::Auth, W, t0), Verdict::Limited { .. })); // penalty to t0+60
        assert!(matches!(rl.hit("app", 1, Group::Auth, W, at(t0, 30_000)), Verdict::Limited { .. })); // to t0+90
                                                                                                      // The original penalty would have ended at 60 s; the restarted one has not.
        assert!(matches!(rl.hit("app", 1, Group::Auth, W, at(t0, 61_000)), Verdict::Limited { .. })); // to t0+121
        assert_eq!(rl.hit("app", 1, Group::Auth, W, at(t0, 121_000)), Verdict::Admitted { remaining: 4 });
    }

    #[test]
    fn groups_users_and_apps_are_independent() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..6 {
            rl.hit("app", 1, Group::Auth, W, t0);
        }
        assert!(matches!(rl.hit("app", 1, Group::Auth, W, t0), Verdict::Limited { .. }));
        assert_eq!(rl.hit("app", 1, Group::Light, W, t0), Verdict::Admitted { remaining: 49 });
        assert_eq!(rl.hit("app", 2, Group::Auth, W, t0), Verdict::Admitted { remaining: 4 });
        assert_eq!(rl.hit("other", 1, Group::Auth, W, t0), Verdict::Admitted { remaining: 4 });
    }
}
