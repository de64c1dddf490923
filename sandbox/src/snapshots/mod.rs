//! The Snapshots stand-in. Contract: `docs/snapshots-api.md`; what this implements and
//! where it chose: `docs/snapshots-sandbox.md`.
//!
//! # Layout
//! - [`gate`]: `X-Request-Id` on every answer; API key, per-key rate limit and request
//!   counting in front of every API route.
//! - [`resources`]: the API routes (`/locations`, `/accounts`, `/leads`, `/activities`,
//!   `/owners`) and their handlers, including `Idempotency-Key` and `If-Match`.
//! - [`paging`]: `page`/`per_page`/`external_id` and the list envelope.
//! - [`schema`]: the collections and their fields; [`validate`]: the 422 rules.
//! - [`store`]: records, versions, external ids; [`owners`]: the owners fixture.
//! - [`idempotency`], [`rate_limit`], [`stats`]: the memories behind those features.
//! - [`control`]: the `/sandbox/` control API (dump, reset, config, stats, owners).
//! - [`errors`]: Snapshots' error body, also used for statuses forced by `/sandbox/faults`.
//!
//! Layers, outermost first: request id → gate (key, rate limit) → faults → handler, so a
//! forced fault still carries `X-Request-Id` and the rate-limit headers, and `/sandbox/`
//! routes skip the key, the limit and the faults.

pub mod control;
pub mod errors;
pub mod gate;
pub mod idempotency;
pub mod owners;
pub mod paging;
pub mod rate_limit;
pub mod resources;
pub mod schema;
pub mod stats;
pub mod store;
pub mod validate;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;

use crate::faults::{FaultLayerState, Faults};
use crate::SandboxConfig;

/// Records and idempotency memory, under one lock so a create and the answer remembered
/// for its key are one step: a concurrent retry with the same key cannot create twice.
pub struct Data {
    pub store: store::Store,
    pub idempotency: idempotency::Idempotency,
}

/// Everything the Snapshots stand-in knows. Locks are never held across an `.await`; when
/// two are needed they are taken one after the other, never nested.
pub struct SnapshotsState {
    pub api_key: String,
    pub faults: Arc<Faults>,
    /// More API keys that may only read (`PUT /sandbox/keys/{key}`): a write with one is 403.
    read_only_keys: Mutex<Vec<String>>,
    data: Mutex<Data>,
    limiter: Mutex<rate_limit::RateLimiter>,
    stats: Mutex<stats::Stats>,
}

impl SnapshotsState {
    pub fn new(config: &SandboxConfig) -> Arc<SnapshotsState> {
        Arc::new(SnapshotsState {
            api_key: config.credentials.snapshots_api_key.clone(),
            faults: Faults::new(config.seed),
            read_only_keys: Mutex::new(Vec::new()),
            data: Mutex::new(Data {
                store: store::Store::new(config.seed),
                idempotency: idempotency::Idempotency::default(),
            }),
            limiter: Mutex::new(rate_limit::RateLimiter::new(config.snapshots_rate_limit, config.snapshots_window)),
            stats: Mutex::new(stats::Stats::default()),
        })
    }

    // A panic elsewhere must not wedge the sandbox: a poisoned lock still holds usable data.
    pub fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn limiter(&self) -> MutexGuard<'_, rate_limit::RateLimiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn read_only_keys(&self) -> MutexGuard<'_, Vec<String>> {
        self.read_only_keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stats(&self) -> MutexGuard<'_, stats::Stats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every collection as `GET /sandbox/records` returns it, for in-process inspection.
    pub fn dump(&self) -> serde_json::Value {
        self.data().store.dump()
    }
}

/// The whole Snapshots stand-in.
pub fn router(state: Arc<SnapshotsState>) -> Router {
    let faults = FaultLayerState { faults: state.faults.clone(), render: errors::forced };
    let api = resources::routes()
        .method_not_allowed_fallback(|| async { errors::ApiError::method_not_allowed() })
        .fallback(|| async {
            errors::ApiError::not_found(
                "no such path; the collections are /locations, /accounts, /leads, /activities and /owners",
            )
        })
        .layer(from_fn_with_state(faults, crate::faults::middleware))
        .layer(from_fn_with_state(state.clone(), gate::api));
    Router::new()
        .merge(api)
        .merge(control::routes())
        .merge(crate::faults::routes(state.faults.clone()))
        .layer(from_fn(gate::request_id))
        .with_state(state)
}
