//! Control routes of the OAuth stand-in (not RingCentral's; no auth needed):
//! - `GET /sandbox/oauth/stats` → counters since start and live sessions;
//! - `POST /sandbox/oauth/expire` → every live access token expires now (`{"expired": n}`);
//! - `GET|PUT /sandbox/oauth/timings` → lifetimes and grace windows in seconds;
//! - `GET|PUT /sandbox/oauth/redirect-uris` → `{"redirect_uris": [...]}` registered for the app;
//! - `GET|PUT /sandbox/oauth/scopes` → `{"scopes": [...]}`: the app's permissions, which every
//!   token issued afterwards carries in `scope` (tokens already issued keep theirs).
//! - `GET|PUT /sandbox/oauth/consent` → `{"approve": bool}`: whether the simulated user
//!   approves on the authorize page (default) or denies (`error=access_denied`).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::authorize::RedirectUris;
use super::timings::TimingsPatch;
use crate::ringcentral::RcState;

pub fn routes() -> Router<Arc<RcState>> {
    Router::new()
        .route("/sandbox/oauth/stats", get(stats))
        .route("/sandbox/oauth/expire", post(expire))
        .route("/sandbox/oauth/timings", get(get_timings).put(put_timings))
        .route("/sandbox/oauth/redirect-uris", get(get_redirects).put(put_redirects))
        .route("/sandbox/oauth/scopes", get(get_scopes).put(put_scopes))
        .route("/sandbox/oauth/consent", get(get_consent).put(put_consent))
}

async fn stats(State(state): State<Arc<RcState>>) -> Json<Value> {
    let auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    let s = &auth.stats;
    Json(json!({
        "logins": s.logins,
        "refreshes": s.refreshes,
        "live_sessions": auth.live_sessions(Instant::now()),
        "token_requests": s.token_requests,
        "grace_replays": s.grace_replays,
        "revocations": s.revocations,
        "evictions": s.evictions,
    }))
}

async fn expire(State(state): State<Arc<RcState>>) -> Json<Value> {
    let n = state.auth.lock().unwrap_or_else(|e| e.into_inner()).expire_all(Instant::now());
    Json(json!({ "expired": n }))
}

async fn get_timings(State(state): State<Arc<RcState>>) -> Json<Value> {
    Json(state.auth.lock().unwrap_or_else(|e| e.into_inner()).timings.to_json())
}

async fn put_timings(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let patch: TimingsPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return bad_request(&format!("timings body is not valid: {e}; send JSON like {{\"access_ttl_secs\": 2}}"))
        }
    };
    let mut auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    match auth.timings.apply(&patch) {
        Ok(()) => Json(auth.timings.to_json()).into_response(),
        Err(problems) => bad_request(&problems),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Redirects {
    redirect_uris: Vec<String>,
}

async fn get_redirects(State(state): State<Arc<RcState>>) -> Json<Value> {
    let auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    Json(json!({ "redirect_uris": auth.redirect_uris.0 }))
}

async fn put_redirects(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let r: Redirects = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(&format!("body is not valid: {e}; send {{\"redirect_uris\": [\"http://...\"]}}")),
    };
    if let Some(bad) = r.redirect_uris.iter().find(|u| url::Url::parse(u).is_err()) {
        return bad_request(&format!("redirect URI {bad:?} is not an absolute URL"));
    }
    state.auth.lock().unwrap_or_else(|e| e.into_inner()).redirect_uris = RedirectUris(r.redirect_uris.clone());
    Json(json!({ "redirect_uris": r.redirect_uris })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scopes {
    scopes: Vec<String>,
}

async fn get_scopes(State(state): State<Arc<RcState>>) -> Json<Value> {
    let auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    let scope = auth.scope();
    Json(json!({ "scopes": scope.split_whitespace().collect::<Vec<_>>() }))
}

async fn put_scopes(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let s: Scopes = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(&format!("body is not valid: {e}; send {{\"scopes\": [\"ReadAccounts\", ...]}}")),
    };
    if let Some(bad) = s.scopes.iter().find(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric())) {
        return bad_request(&format!("permission {bad:?} is not a permission name (letters and digits)"));
    }
    state.auth.lock().unwrap_or_else(|e| e.into_inner()).scopes = Some(s.scopes.clone());
    Json(json!({ "scopes": s.scopes })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Consent {
    approve: bool,
}

async fn get_consent(State(state): State<Arc<RcState>>) -> Json<Value> {
    let deny = state.auth.lock().unwrap_or_else(|e| e.into_inner()).deny_consent;
    Json(json!({ "approve": !deny }))
}

async fn put_consent(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let c: Consent = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return bad_request(&format!("body is not valid: {e}; send {{\"approve\": false}}")),
    };
    state.auth.lock().unwrap_or_else(|e| e.into_inner()).deny_consent = !c.approve;
    Json(json!({ "approve": c.approve })).into_response()
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}
