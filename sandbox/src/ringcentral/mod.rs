//! The RingCentral stand-in. Facts it follows: `docs/ringcentral-sandbox.md`.
//!
//! # Layout
//! - [`errors`]: RingCentral's API and OAuth error bodies.
//! - [`paging`]: `page`/`perPage`, `paging` and absolute `navigation` URIs.
//! - [`oauth`]: token, authorize and revoke endpoints; sessions and token rotation.
//! - [`rate_limit`]: per (user, app, group) windows, penalties and headers; their counters
//!   and the `/sandbox/config` and `/sandbox/stats` routes.
//! - [`guard`]: the middleware every API route sits behind (token, then rate limit).
//! - [`directory`]: the account's data (typed records, address books with change sequences).
//! - [`fixture`]: the deterministic default company built from the seed.
//! - [`query`]: multi-valued query parameters and enum checks.
//! - [`account`], [`extensions`], [`locations`], [`contacts`], [`company_directory`]: the read
//!   endpoints.
//! - [`address_book_sync`]: FSync/ISync over the personal address books.
//! - [`control`]: the `/sandbox/` control API for the account's data.
//! - [`subscriptions`]: the Subscription API and its store.
//! - [`event_filters`]: supported event filters, `~` normalisation, event matching.
//! - [`webhooks`]: the validation handshake and the POST of one notification.
//! - [`delivery`]: `notify`, delivery records, blacklisting, renewal reminders, their `/sandbox/` routes.
//! - [`telephony`]: message store (voicemail), call log, `/sandbox/voicemail` and `/sandbox/calls/end`.

pub mod account;
pub mod address_book_sync;
pub mod company_directory;
pub mod contacts;
pub mod control;
pub mod delivery;
pub mod directory;
pub mod errors;
pub mod event_filters;
pub mod extensions;
pub mod fixture;
pub mod guard;
pub mod locations;
pub mod oauth;
pub mod paging;
pub mod query;
pub mod rate_limit;
pub mod subscriptions;
pub mod telephony;
pub mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::Router;

use crate::faults::{FaultLayerState, Faults};
use crate::{Credentials, SandboxConfig};

/// What the stand-in was started with.
#[derive(Debug, Clone)]
pub struct RcConfig {
    pub credentials: Credentials,
    /// The rate-limit window at start (60 s at RingCentral); the live value is the
    /// limiter's (`PUT /sandbox/config` changes it).
    pub window: Duration,
    /// The rate limits at start (RingCentral's by default); live values as for `window`.
    pub limits: rate_limit::RcLimits,
    pub seed: u64,
}

/// Everything the RingCentral stand-in knows. Locks are never held across an await.
pub struct RcState {
    pub config: RcConfig,
    /// This server's origin, for absolute `uri` and `navigation` values.
    pub base_url: String,
    pub directory: Mutex<directory::Directory>,
    pub auth: Mutex<oauth::AuthState>,
    pub limiter: Mutex<rate_limit::RateLimiter>,
    pub subscriptions: Mutex<subscriptions::Subscriptions>,
    pub telephony: Mutex<telephony::Telephony>,
    pub faults: Arc<Faults>,
    /// Client for validation requests and notification delivery.
    pub http: reqwest::Client,
}

impl RcState {
    pub fn new(config: &SandboxConfig, base_url: String) -> Arc<RcState> {
        Arc::new(RcState {
            config: RcConfig {
                credentials: config.credentials.clone(),
                window: config.window,
                limits: config.rc_limits,
                seed: config.seed,
            },
            base_url,
            directory: Mutex::new(directory::Directory::generate(config.seed, config.contacts)),
            auth: Mutex::new(oauth::AuthState::default()),
            limiter: Mutex::new(rate_limit::RateLimiter::new(config.rc_limits, config.window)),
            subscriptions: Mutex::new(subscriptions::Subscriptions::default()),
            telephony: Mutex::new(telephony::Telephony::default()),
            faults: Faults::new(config.seed),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
        })
    }
}

/// The whole RingCentral stand-in.
pub fn router(state: Arc<RcState>) -> Router {
    let faults = FaultLayerState { faults: state.faults.clone(), render: errors::forced };
    Router::new()
        .merge(oauth::routes())
        .merge(account::routes(&state))
        .merge(subscriptions::routes(&state))
        .merge(delivery::routes(&state))
        .merge(telephony::routes(&state))
        .merge(extensions::routes(&state))
        .merge(locations::routes(&state))
        .merge(contacts::routes(&state))
        .merge(address_book_sync::routes(&state))
        .merge(company_directory::routes(&state))
        .merge(control::routes())
        .merge(rate_limit::control::routes())
        .merge(crate::faults::routes(state.faults.clone()))
        .fallback(|| async { errors::api_error(StatusCode::NOT_FOUND, "CMN-120", "Invalid URI") })
        .layer(from_fn_with_state(faults, crate::faults::middleware))
        .with_state(state)
}
