//! Rate-limit control routes of the RingCentral stand-in (not RingCentral's; JSON, no auth):
//! - `GET /sandbox/config` → `{"limits": {"light", "medium", "heavy", "auth"}, "window_ms"}`;
//! - `PUT /sandbox/config` with any subset of those → the new values, effective with the
//!   next request (the buckets stay, see [`RateLimiter::configure`](super::RateLimiter::configure));
//! - `GET /sandbox/stats` → the counters of [`stats`](super::stats);
//! - `DELETE /sandbox/stats` → zeroes them (204); the buckets and penalties stay.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{RcLimits, MAX_LIMIT, MAX_WINDOW};
use crate::ringcentral::RcState;

pub fn routes() -> Router<Arc<RcState>> {
    Router::new()
        .route("/sandbox/config", get(get_config).put(put_config))
        .route("/sandbox/stats", get(get_stats).delete(delete_stats))
}

/// The body of `PUT /sandbox/config`; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    pub limits: Option<LimitsPatch>,
    pub window_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    pub light: Option<u64>,
    pub medium: Option<u64>,
    pub heavy: Option<u64>,
    pub auth: Option<u64>,
}

impl ConfigPatch {
    /// The limits and window after the patch; on error every bad field is named.
    pub fn apply(&self, limits: RcLimits, window: Duration) -> Result<(RcLimits, Duration), String> {
        let mut problems = Vec::new();
        let mut next = limits;
        let p = self.limits.as_ref();
        for (name, value, slot) in [
            ("light", p.and_then(|p| p.light), &mut next.light),
            ("medium", p.and_then(|p| p.medium), &mut next.medium),
            ("heavy", p.and_then(|p| p.heavy), &mut next.heavy),
            ("auth", p.and_then(|p| p.auth), &mut next.auth),
        ] {
            match value {
                Some(v) if (1..=u64::from(MAX_LIMIT)).contains(&v) => *slot = v as u32,
                Some(v) => {
                    problems.push(format!("limits.{name} must be from 1 to {MAX_LIMIT} requests per window, got {v}"))
                }
                None => {}
            }
        }
        let max_ms = MAX_WINDOW.as_millis() as u64;
        let window = match self.window_ms {
            Some(ms) if (1..=max_ms).contains(&ms) => Duration::from_millis(ms),
            Some(ms) => {
                problems.push(format!("window_ms must be from 1 to {max_ms}, got {ms}"));
                window
            }
            None => window,
        };
        if problems.is_empty() {
            Ok((next, window))
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The limits and window as `GET`/`PUT /sandbox/config` report them.
pub fn config_json(limits: RcLimits, window: Duration) -> Value {
    json!({
        "limits": {"light": limits.light, "medium": limits.medium, "heavy": limits.heavy, "auth": limits.auth},
        "window_ms": window.as_millis() as u64,
    })
}

async fn get_config(State(state): State<Arc<RcState>>) -> Json<Value> {
    let limiter = state.limiter.lock().unwrap_or_else(|e| e.into_inner());
    Json(config_json(limiter.limits(), limiter.window()))
}

async fn put_config(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let patch: ConfigPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return bad_request(&format!(
                "config body is not valid: {e}; send JSON like {{\"limits\": {{\"heavy\": 5}}, \"window_ms\": 2000}}"
            ))
        }
    };
    let mut limiter = state.limiter.lock().unwrap_or_else(|e| e.into_inner());
    match patch.apply(limiter.limits(), limiter.window()) {
        Ok((limits, window)) => {
            limiter.configure(limits, window);
            Json(config_json(limits, window)).into_response()
        }
        Err(problems) => bad_request(&problems),
    }
}

async fn get_stats(State(state): State<Arc<RcState>>) -> Json<Value> {
    Json(state.limiter.lock().unwrap_or_else(|e| e.into_inner()).stats_json())
}

async fn delete_stats(State(state): State<Arc<RcState>>) -> StatusCode {
    state.limiter.lock().unwrap_or_else(|e| e.into_inner()).reset_counters();
    StatusCode::NO_CONTENT
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(body: Value) -> ConfigPatch {
        serde_json::from_value(body).expect("a well-formed patch")
    }

    #[test]
    fn a_subset_changes_only_what_it_names() {
        let w = Duration::from_secs(60);
        let (limits, window) =
            patch(json!({"limits": {"heavy": 5, "light": 20}})).apply(RcLimits::default(), w).unwrap();
        assert_eq!(limits, RcLimits { light: 20, medium: 40, heavy: 5, auth: 5 });
        assert_eq!(window, w);
        let (limits, window) = patch(json!({"window_ms": 2000})).apply(limits, window).unwrap();
        assert_eq!((limits.heavy, window), (5, Duration::from_secs(2)));
        assert_eq!(patch(json!({})).apply(limits, window).unwrap(), (limits, window));
    }

    #[test]
    fn zero_or_absurd_values_are_refused_and_named() {
        let w = Duration::from_secs(60);
        let err = patch(json!({"limits": {"heavy": 0, "auth": 1_000_000}, "window_ms": 0}))
            .apply(RcLimits::default(), w)
            .unwrap_err();
        assert!(err.contains("limits.heavy") && err.contains("limits.auth") && err.contains("window_ms"), "{err}");
        assert!(patch(json!({"window_ms": 86_400_001})).apply(RcLimits::default(), w).is_err());
        for bad in [json!({"limits": {"huge": 1}}), json!({"burst": 1}), json!({"limits": {"light": -1}})] {
            assert!(serde_json::from_value::<ConfigPatch>(bad.clone()).is_err(), "{bad}");
        }
    }
}
