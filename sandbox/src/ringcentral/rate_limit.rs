//! RingCentral's usage-plan rate limits per (user, app, group). Placeholder: counts
//! nothing yet and reports a full budget.

use axum::http::HeaderMap;
use axum::response::Response;

use super::RcState;

/// A usage-plan group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Light,
    Medium,
    Heavy,
    Auth,
}

impl Group {
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

/// The `X-Rate-Limit-*` headers of one admitted call.
#[derive(Debug, Clone)]
pub struct RateHeaders {
    pub group: Group,
    pub limit: u32,
    pub remaining: u32,
    pub window_secs: u64,
}

impl RateHeaders {
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert("x-rate-limit-group", self.group.name().parse().expect("ascii group name"));
        headers.insert("x-rate-limit-limit", self.limit.into());
        headers.insert("x-rate-limit-remaining", self.remaining.into());
        headers.insert("x-rate-limit-window", self.window_secs.into());
    }
}

/// Per (app, user, group) windows.
#[derive(Default)]
pub struct RateLimiter {}

/// Counts one call; `Err` is the 429 answer to send.
pub fn admit(state: &RcState, _client_id: &str, _user: u64, group: Group) -> Result<RateHeaders, Response> {
    let window_secs = state.config.window.as_secs().max(1);
    Ok(RateHeaders { group, limit: group.limit(), remaining: group.limit(), window_secs })
}
