//! Per-API-key rate limit: a fixed window of `window` holding at most `limit` requests.
//!
//! Every API response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (whole seconds until the window resets, rounded up so a client that
//! waits that long always finds a fresh window); over the limit the answer is 429
//! `rate_limited` with `Retry-After` equal to the reset time. The default is generous
//! (6000 per 60 s) so end-to-end tests are throttled only when they lower it through
//! `SandboxConfig::snapshots_rate_limit` or `PUT /sandbox/config`. [`RateLimiter::configure`]
//! starts fresh windows; [`RateLimiter::configure_keeping_windows`] does not, so requests
//! already admitted in a window count against a lowered limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};

/// Default requests per window.
pub const DEFAULT_LIMIT: u32 = 6000;
/// Default window length.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Longest window accepted (a day).
pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
    /// Requests admitted in the key's current window, this one included if allowed.
    pub used: u32,
}

impl Verdict {
    /// Adds the `X-RateLimit-*` headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset_secs));
    }
}

struct Window {
    started: Instant,
    used: u32,
}

/// The windows of every key seen, under one configuration.
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: HashMap<String, Window>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(DEFAULT_LIMIT, DEFAULT_WINDOW)
    }
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter { limit, window, windows: HashMap::new() }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Sets a new limit and window; every key starts a fresh window.
    pub fn configure(&mut self, limit: u32, window: Duration) {
        self.limit = limit;
        self.window = window;
        self.windows.clear();
    }

    /// Sets a new limit and window but keeps every key's current window: its start and the
    /// requests it admitted (a window now longer than its age runs on; one older than the
    /// new length turns at the key's next request).
    pub fn configure_keeping_windows(&mut self, limit: u32, window: Duration) {
        self.limit = limit;
        self.window = window;
    }

    /// Forgets every key's usage.
    pub fn clear(&mut self) {
        self.windows.clear();
    }

    /// Counts one request by `key` at `now`, unless the key is over its limit.
    pub fn check(&mut self, key: &str, now: Instant) -> Verdict {
        let window = self.window;
        let w = self.windows.entry(key.to_string()).or_insert(Window { started: now, used: 0 });
        if now.duration_since(w.started) >= window {
            *w = Window { started: now, used: 0 };
        }
        let left = window.saturating_sub(now.duration_since(w.started));
        // Round up: "reset in 0 s" while the window is still closed would make clients spin.
        let reset_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let allowed = w.used < self.limit;
        if allowed {
            w.used += 1;
        }
        // A limit lowered below what the window already admitted leaves nothing remaining.
        let remaining = self.limit.saturating_sub(w.used);
        Verdict { allowed, limit: self.limit, remaining, reset_secs: reset_secs.max(1), used: w.used }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_then_refuses_until_the_window_turns() {
        let mut rl = RateLimiter::default();
        rl.configure(2, Duration::from_secs(10));
        let t0 = Instant::now();
        let a = rl.check("k", t0);
        assert!(a.allowed);
        assert_eq!((a.remaining, a.reset_secs), (1, 10));
        assert!(rl.check("k", t0 + Duration::from_millis(500)).allowed);
        let refused = rl.check("k", t0 + Duration::from_millis(2500));
        assert!(!refused.allowed);
        assert_eq!((refused.remaining, refused.reset_secs), (0, 8));
        assert!(rl.check("other", t0).allowed, "keys have their own windows");
        let later = rl.check("k", t0 + Duration::from_secs(10));
        assert!(later.allowed);
        assert_eq!(later.remaining, 1);
    }

    #[test]
    fn reconfiguring_starts_fresh_windows() {
        let mut rl = RateLimiter::default();
        rl.configure(1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(rl.check("k", t0).allowed);
        assert!(!rl.check("k", t0).allowed);
        rl.configure(5, Duration::from_secs(60));
        assert_eq!(rl.check("k", t0).remaining, 4);
    }

    #[test]
    fn lowering_the_limit_can_keep_the_window() {
        let mut rl = RateLimiter::new(10, Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 1..=6 {
            assert_eq!(rl.check("k", t0).used, i);
        }
        rl.configure_keeping_windows(4, Duration::from_secs(10));
        let v = rl.check("k", t0 + Duration::from_secs(1));
        assert!(!v.allowed, "6 admitted already, the limit is now 4");
        assert_eq!((v.remaining, v.used, v.limit, v.reset_secs), (0, 6, 4, 9));
        // The window turns when it always would have, then the new limit applies.
        let v = rl.check("k", t0 + Duration::from_secs(10));
        assert!(v.allowed);
        assert_eq!((v.remaining, v.used), (3, 1));
        // Raising it while keeping the window lets the key go on at once.
        rl.configure_keeping_windows(2, Duration::from_secs(10));
        assert!(rl.check("k", t0 + Duration::from_secs(11)).allowed);
        assert!(!rl.check("k", t0 + Duration::from_secs(11)).allowed);
        rl.configure_keeping_windows(3, Duration::from_secs(10));
        assert_eq!(rl.check("k", t0 + Duration::from_secs(12)).used, 3);
    }
}
