//! The `/sandbox/` control API (no API key, never rate-limited or faulted):
//!
//! - `GET /sandbox/records` → `{"locations":[...],"accounts":[...],"leads":[...],
//!   "activities":[...],"owners":[...]}`, records as the API returns them, creation order.
//! - `POST /sandbox/reset` → 204: empties the collections, restores the owners fixture,
//!   forgets idempotency keys, rate-limit windows and stats. The configuration and fault
//!   rules stay (faults have `DELETE /sandbox/faults`).
//! - `GET /sandbox/config`, `PUT /sandbox/config` `{"rate_limit"?, "window_secs"?,
//!   "idempotency_ttl_secs"?, "keep_window"?}` → the effective configuration; a new limit
//!   or window starts fresh windows, unless `keep_window` is `true`: then every key keeps
//!   its current window and the requests it admitted (so a lowered limit bites at once).
//! - `GET /sandbox/stats` → the counters of [`stats`](super::stats) with the current limit
//!   and window; `DELETE /sandbox/stats` → 204, zeroes the counters only.
//! - `PUT /sandbox/owners/{owner_id}` `{"active": bool}` → the owner.
//! - `PUT /sandbox/keys/{key}` `{"access": "read"}` → 200: one more API key, which may only
//!   read (a write with it is 403 `forbidden`); `DELETE /sandbox/keys/{key}` → 204, removed.
//!
//! Bad bodies get 400 `bad_request` in Snapshots' error shape; an unknown owner, 404.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::ApiError;
use super::SnapshotsState;

type St = State<Arc<SnapshotsState>>;

/// Longest rate-limit window accepted (a day).
const MAX_WINDOW_SECS: u64 = super::rate_limit::MAX_WINDOW.as_secs();

pub fn routes() -> Router<Arc<SnapshotsState>> {
    Router::new()
        .route("/sandbox/records", get(records))
        .route("/sandbox/reset", post(reset))
        .route("/sandbox/config", get(config).put(set_config))
        .route("/sandbox/stats", get(stats).delete(reset_stats))
        .route("/sandbox/owners/{owner_id}", put(set_owner))
        .route("/sandbox/keys/{key}", put(add_key).delete(remove_key))
}

async fn records(State(st): St) -> Json<Value> {
    Json(st.dump())
}

async fn reset(State(st): St) -> StatusCode {
    {
        let mut data = st.data();
        data.store.reset();
        data.idempotency.clear();
    }
    st.limiter().clear();
    *st.stats() = Default::default();
    StatusCode::NO_CONTENT
}

fn effective(st: &SnapshotsState) -> Value {
    let (limit, window) = {
        let l = st.limiter();
        (l.limit(), l.window())
    };
    let ttl = st.data().idempotency.ttl();
    json!({ "rate_limit": limit, "window_secs": window.as_secs(), "idempotency_ttl_secs": ttl.as_secs() })
}

async fn config(State(st): St) -> Json<Value> {
    Json(effective(&st))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigChange {
    rate_limit: Option<u32>,
    window_secs: Option<u64>,
    idempotency_ttl_secs: Option<u64>,
    /// Keep every key's current window (and its count) across a limit or window change.
    #[serde(default)]
    keep_window: bool,
}

async fn set_config(State(st): St, body: Bytes) -> Result<Json<Value>, ApiError> {
    let change: ConfigChange = parse(&body)?;
    if change.rate_limit == Some(0) {
        return Err(ApiError::bad_request("rate_limit must be at least 1 request per window"));
    }
    if change.window_secs.is_some_and(|w| !(1..=MAX_WINDOW_SECS).contains(&w)) {
        return Err(ApiError::bad_request(format!("window_secs must be from 1 to {MAX_WINDOW_SECS}")));
    }
    if change.rate_limit.is_some() || change.window_secs.is_some() {
        let mut l = st.limiter();
        let limit = change.rate_limit.unwrap_or(l.limit());
        let window = change.window_secs.map(Duration::from_secs).unwrap_or(l.window());
        if change.keep_window {
            l.configure_keeping_windows(limit, window);
        } else {
            l.configure(limit, window);
        }
    }
    if let Some(ttl) = change.idempotency_ttl_secs {
        st.data().idempotency.set_ttl(Duration::from_secs(ttl));
    }
    Ok(Json(effective(&st)))
}

async fn stats(State(st): St) -> Json<Value> {
    let (limit, window) = {
        let l = st.limiter();
        (l.limit(), l.window())
    };
    Json(st.stats().to_json(limit, window))
}

async fn reset_stats(State(st): St) -> StatusCode {
    *st.stats() = Default::default();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerChange {
    active: bool,
}

async fn set_owner(State(st): St, Path(id): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let change: OwnerChange = parse(&body)?;
    let owner = st
        .data()
        .store
        .set_owner_active(&id, change.active)
        .ok_or_else(|| ApiError::not_found(format!("no owner with id {id:?}; GET /owners lists them")))?;
    Ok(Json(json!(owner)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyAccess {
    access: String,
}

async fn add_key(State(st): St, Path(key): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let access: KeyAccess = parse(&body)?;
    if access.access != "read" {
        return Err(ApiError::bad_request("access must be \"read\" (the configured key is the one that writes)"));
    }
    if key.trim().is_empty() || key == st.api_key {
        return Err(ApiError::bad_request("the key must be non-empty and not the configured (writing) key"));
    }
    let mut keys = st.read_only_keys();
    if !keys.contains(&key) {
        keys.push(key);
    }
    Ok(Json(json!({ "access": "read", "keys": keys.len() })))
}

async fn remove_key(State(st): St, Path(key): Path<String>) -> StatusCode {
    st.read_only_keys().retain(|k| k != &key);
    StatusCode::NO_CONTENT
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body could not be read: {e}")))
}
