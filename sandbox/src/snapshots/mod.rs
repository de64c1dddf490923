//! The Snapshots stand-in (contract: `docs/snapshots-api.md`). Placeholder until the
//! Snapshots part of the sandbox lands.

use std::sync::Arc;

use axum::Router;

use crate::faults::Faults;
use crate::SandboxConfig;

pub struct SnapshotsState {
    pub api_key: String,
    pub faults: Arc<Faults>,
}

impl SnapshotsState {
    pub fn new(config: &SandboxConfig) -> Arc<SnapshotsState> {
        Arc::new(SnapshotsState {
            api_key: config.credentials.snapshots_api_key.clone(),
            faults: Faults::new(config.seed),
        })
    }
}

pub fn router(state: Arc<SnapshotsState>) -> Router {
    Router::new().merge(crate::faults::routes(state.faults.clone())).with_state(state)
}
