//! RingCentral's usage-plan rate limits (API page §4): per (app, user, group) sliding
//! window (`RcConfig::window` at start); over the limit, the group is locked for a penalty
//! as long as the window, and every request during the penalty is refused **and restarts
//! it** (the "429 trap"). Limits and window can change at run time without clearing the
//! buckets ([`RateLimiter::configure`]). The counting is pure ([`RateLimiter::hit`] takes `now`) so it is unit-tested
//! on a made-up clock.
//!
//! # Layout
//! - [`stats`]: per-bucket counters (requests, admitted, limited, the most admitted
//!   requests in one window) and the `GET /sandbox/stats` body.
//! - [`control`]: `GET|PUT /sandbox/config` (limits and window at run time) and
//!   `GET|DELETE /sandbox/stats` (not RingCentral's).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use super::{errors, RcState};
pub use stats::Counters;

pub mod control;
pub mod stats;

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

    pub const ALL: [Group; 4] = [Group::Light, Group::Medium, Group::Heavy, Group::Auth];

    /// RingCentral's requests per window for the group (the sandbox's default).
    pub fn default_limit(self) -> u32 {
        match self {
            Group::Light => 50,
            Group::Medium => 40,
            Group::Heavy => 10,
            Group::Auth => 5,
        }
    }
}

/// Requests per window of each group; RingCentral's by default, changeable at start
/// ([`crate::SandboxConfig::rc_limits`]) and at run time (`PUT /sandbox/config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RcLimits {
    pub light: u32,
    pub medium: u32,
    pub heavy: u32,
    pub auth: u32,
}

impl Default for RcLimits {
    fn default() -> Self {
        RcLimits {
            light: Group::Light.default_limit(),
            medium: Group::Medium.default_limit(),
            heavy: Group::Heavy.default_limit(),
            auth: Group::Auth.default_limit(),
        }
    }
}

impl RcLimits {
    /// The limit of `group`.
    pub fn of(&self, group: Group) -> u32 {
        match group {
            Group::Light => self.light,
            Group::Medium => self.medium,
            Group::Heavy => self.heavy,
            Group::Auth => self.auth,
        }
    }

    /// Every limit in range ([`MAX_LIMIT`]) and a window of [`MAX_WINDOW`] at most, above 0.
    pub fn check(&self, window: Duration) -> Result<(), String> {
        let mut problems: Vec<String> = Group::ALL
            .iter()
            .filter(|g| !(1..=MAX_LIMIT).contains(&self.of(**g)))
            .map(|g| format!("the {} limit must be from 1 to {MAX_LIMIT}, got {}", g.name(), self.of(*g)))
            .collect();
        if window.is_zero() || window > MAX_WINDOW {
            problems
                .push(format!("the window must be above 0 and at most {} ms, got {window:?}", MAX_WINDOW.as_millis()));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The highest limit a group may be set to (a bucket remembers up to that many hits).
pub const MAX_LIMIT: u32 = 100_000;
/// The longest window (a day).
pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);

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

/// One (app, user, group).
pub type BucketKey = (String, u64, Group);

#[derive(Default)]
struct Bucket {
    /// Admitted requests inside the current window, oldest first. At most the highest
    /// limit the group had while they arrived.
    hits: VecDeque<Instant>,
    penalty_until: Option<Instant>,
    /// What `GET /sandbox/stats` reports; zeroed by `DELETE /sandbox/stats` (the hits and
    /// the penalty stay).
    counters: Counters,
}

/// Per (app, user, group) buckets under the current limits and window.
pub struct RateLimiter {
    limits: RcLimits,
    window: Duration,
    buckets: HashMap<BucketKey, Bucket>,
}

impl Default for RateLimiter {
    /// RingCentral's limits and 60 s window.
    fn default() -> Self {
        RateLimiter::new(RcLimits::default(), Duration::from_secs(60))
    }
}

impl RateLimiter {
    pub fn new(limits: RcLimits, window: Duration) -> RateLimiter {
        RateLimiter { limits, window, buckets: HashMap::new() }
    }

    pub fn limits(&self) -> RcLimits {
        self.limits
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// New limits and window, effective with the next request. The buckets stay: requests
    /// already in a window count against a lowered limit (as at RingCentral), and a running
    /// penalty runs to its end. A longer window cannot bring back hits a bucket already
    /// forgot (those older than the window at its last request).
    pub fn configure(&mut self, limits: RcLimits, window: Duration) {
        self.limits = limits;
        self.window = window;
    }

    /// Counts one request of `user` in `client_id`'s `group` at `now`.
    pub fn hit(&mut self, client_id: &str, user: u64, group: Group, now: Instant) -> Verdict {
        let (limit, window) = (self.limits.of(group), self.window);
        let bucket = self.buckets.entry((client_id.to_string(), user, group)).or_default();
        if bucket.penalty_until.is_some_and(|until| now < until) {
            // The 429 trap: a request during the penalty starts it again.
            bucket.penalty_until = Some(now + window);
            bucket.counters.limited();
            return Verdict::Limited { retry_after: window };
        }
        bucket.penalty_until = None;
        while bucket.hits.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
            bucket.hits.pop_front();
        }
        if bucket.hits.len() >= limit as usize {
            bucket.penalty_until = Some(now + window);
            bucket.counters.limited();
            return Verdict::Limited { retry_after: window };
        }
        bucket.hits.push_back(now);
        // The hits left are exactly the admitted requests in (now - window, now].
        bucket.counters.admitted(bucket.hits.len() as u64);
        Verdict::Admitted { remaining: limit.saturating_sub(bucket.hits.len() as u32) }
    }

    /// The counters of every bucket that saw a request since the last reset.
    pub fn counters(&self) -> impl Iterator<Item = (&BucketKey, &Counters)> {
        self.buckets.iter().map(|(k, b)| (k, &b.counters)).filter(|(_, c)| c.requests > 0)
    }

    /// Zeroes the counters; the buckets' hits and penalties stay.
    pub fn reset_counters(&mut self) {
        for b in self.buckets.values_mut() {
            b.counters = Counters::default();
        }
    }

    /// The `GET /sandbox/stats` body.
    pub fn stats_json(&self) -> serde_json::Value {
        stats::to_json(self.counters(), self.limits, self.window)
    }
}

/// Counts one call; `Ok` carries the headers to put on the answer, `Err` is the 429 to
/// send (CMN-301 with `Retry-After` and the rate headers). Limits and window are the
/// current ones, so a change through `PUT /sandbox/config` shows on the next answer.
pub fn admit(state: &RcState, client_id: &str, user: u64, group: Group) -> Result<RateHeaders, Response> {
    let (verdict, limit, window) = {
        let mut limiter = state.limiter.lock().unwrap_or_else(|e| e.into_inner());
        let verdict = limiter.hit(client_id, user, group, Instant::now());
        (verdict, limiter.limits().of(group), limiter.window())
    };
    let window_secs = ceil_secs(window);
    match verdict {
        Verdict::Admitted { remaining } => Ok(RateHeaders { group, limit, remaining, window_secs }),
        Verdict::Limited { retry_after } => {
            let mut resp = errors::rate_exceeded();
            RateHeaders { group, limit, remaining: 0, window_secs }.apply(resp.headers_mut());
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
            assert_eq!(rl.hit("app", 1, Group::Light, at(t0, i)), Verdict::Admitted { remaining: 49 - i as u32 });
        }
        assert_eq!(rl.hit("app", 1, Group::Light, at(t0, 50)), Verdict::Limited { retry_after: W });
    }

    #[test]
    fn window_slides() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..10 {
            rl.hit("app", 1, Group::Heavy, at(t0, i * 1000));
        }
        // The first hit (t=0) leaves the window at t=60 s; the 11th request then fits.
        assert_eq!(rl.hit("app", 1, Group::Heavy, at(t0, 60_000)), Verdict::Admitted { remaining: 0 });
        assert!(matches!(rl.hit("app", 1, Group::Heavy, at(t0, 60_500)), Verdict::Limited { .. }));
    }

    #[test]
    fn a_request_during_the_penalty_restarts_it() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            rl.hit("app", 1, Group::Auth, t0);
        }
        assert!(matches!(rl.hit("app", 1, Group::Auth, t0), Verdict::Limited { .. })); // penalty to t0+60
        assert!(matches!(rl.hit("app", 1, Group::Auth, at(t0, 30_000)), Verdict::Limited { .. })); // to t0+90
                                                                                                   // The original penalty would have ended at 60 s; the restarted one has not.
        assert!(matches!(rl.hit("app", 1, Group::Auth, at(t0, 61_000)), Verdict::Limited { .. })); // to t0+121
        assert_eq!(rl.hit("app", 1, Group::Auth, at(t0, 121_000)), Verdict::Admitted { remaining: 4 });
    }

    #[test]
    fn groups_users_and_apps_are_independent() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..6 {
            rl.hit("app", 1, Group::Auth, t0);
        }
        assert!(matches!(rl.hit("app", 1, Group::Auth, t0), Verdict::Limited { .. }));
        assert_eq!(rl.hit("app", 1, Group::Light, t0), Verdict::Admitted { remaining: 49 });
        assert_eq!(rl.hit("app", 2, Group::Auth, t0), Verdict::Admitted { remaining: 4 });
        assert_eq!(rl.hit("other", 1, Group::Auth, t0), Verdict::Admitted { remaining: 4 });
    }

    #[test]
    fn lowering_a_limit_keeps_the_window_and_shows_at_once() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..8 {
            rl.hit("app", 1, Group::Light, at(t0, i * 1000));
        }
        rl.configure(RcLimits { light: 10, ..RcLimits::default() }, W);
        // The 8 requests already in the window count against the new limit.
        assert_eq!(rl.hit("app", 1, Group::Light, at(t0, 9000)), Verdict::Admitted { remaining: 1 });
        assert_eq!(rl.hit("app", 1, Group::Light, at(t0, 9001)), Verdict::Admitted { remaining: 0 });
        assert!(matches!(rl.hit("app", 1, Group::Light, at(t0, 9002)), Verdict::Limited { .. }));
        // Below what the window already holds: refused (and penalised) straight away.
        let mut rl = RateLimiter::default();
        for i in 0..8 {
            rl.hit("app", 1, Group::Light, at(t0, i));
        }
        rl.configure(RcLimits { light: 5, ..RcLimits::default() }, W);
        assert_eq!(rl.hit("app", 1, Group::Light, at(t0, 10)), Verdict::Limited { retry_after: W });
    }

    #[test]
    fn a_new_window_applies_to_the_next_request_and_its_penalty() {
        let mut rl = RateLimiter::new(RcLimits { heavy: 2, ..RcLimits::default() }, W);
        let t0 = Instant::now();
        let two = Duration::from_secs(2);
        rl.hit("app", 1, Group::Heavy, t0);
        rl.hit("app", 1, Group::Heavy, at(t0, 500));
        rl.configure(rl.limits(), two);
        assert_eq!(rl.hit("app", 1, Group::Heavy, at(t0, 1000)), Verdict::Limited { retry_after: two });
        // The 2 s penalty is over at 3 s, and both hits have left the 2 s window.
        assert_eq!(rl.hit("app", 1, Group::Heavy, at(t0, 3000)), Verdict::Admitted { remaining: 1 });
    }

    #[test]
    fn counters_are_exact_and_reset_without_touching_the_buckets() {
        let mut rl = RateLimiter::new(RcLimits { auth: 3, ..RcLimits::default() }, Duration::from_secs(10));
        let t0 = Instant::now();
        for ms in [0, 1000, 2000, 3000] {
            rl.hit("app", 1, Group::Auth, at(t0, ms)); // 3 admitted, the 4th limited (penalty to 13 s)
        }
        rl.hit("app", 2, Group::Auth, t0);
        let c = *rl.counters().find(|(k, _)| k.1 == 1).expect("bucket of user 1").1;
        assert_eq!(c, Counters { requests: 4, admitted: 3, limited: 1, max_in_window: 3 });
        rl.reset_counters();
        assert_eq!(rl.counters().count(), 0, "untouched buckets are not listed after a reset");
        // The penalty survived the reset: still refused, and counted from zero.
        assert!(matches!(rl.hit("app", 1, Group::Auth, at(t0, 5000)), Verdict::Limited { .. }));
        let c = *rl.counters().next().expect("one bucket").1;
        assert_eq!(c, Counters { requests: 1, admitted: 0, limited: 1, max_in_window: 0 });
    }

    #[test]
    fn limits_and_window_are_checked() {
        assert!(RcLimits::default().check(W).is_ok());
        let err = RcLimits { heavy: 0, auth: MAX_LIMIT + 1, ..RcLimits::default() }.check(Duration::ZERO).unwrap_err();
        assert!(err.contains("heavy") && err.contains("auth") && err.contains("window"), "{err}");
        assert!(!err.contains("light"), "{err}");
    }
}
