//! OAuth 2.0 of the RingCentral stand-in (API page §1): the token, authorize and revoke
//! endpoints, access-token checks for the API guard, and the `/sandbox/oauth/` control
//! routes.
//!
//! # Layout
//! - [`client_auth`]: form parsing and client authentication (Basic or public `client_id`).
//! - [`token`]: `POST /restapi/oauth/token` and its grants.
//! - [`authorize`]: `GET|POST /restapi/oauth/authorize`, authorization codes and PKCE.
//! - [`sessions`]: sessions, rotation with grace windows, the 5-session cap, revocation.
//! - [`timings`]: token lifetimes and grace windows ([`OAuthTimings`]), compressible by tests.
//! - [`control`]: `/sandbox/oauth/{stats,expire,timings,redirect-uris}` (not RingCentral's).

pub mod authorize;
pub mod client_auth;
pub mod control;
pub mod sessions;
pub mod timings;
pub mod token;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::errors;
use super::guard::Caller;
use super::rate_limit::{self, Group};
use super::RcState;
pub use sessions::{AccessError, AuthState};
pub use timings::OAuthTimings;

pub fn routes() -> Router<Arc<RcState>> {
    Router::new()
        .route("/restapi/oauth/token", post(token::token))
        .route("/restapi/oauth/authorize", get(authorize::authorize).post(authorize::authorize))
        .route("/restapi/oauth/revoke", post(revoke))
        .merge(control::routes())
}

/// Resolves an access token to its caller; `Err` is the 401 to send (API page §1.10).
pub fn authenticate(state: &RcState, token: Option<&str>) -> Result<Caller, Response> {
    let token = match token {
        Some(t) if !t.is_empty() => t,
        _ => return Err(errors::unauthorized("OAU-123", "Authorization header is not specified")),
    };
    let mut auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    match auth.check_access(token, Instant::now()) {
        Ok(o) => Ok(Caller {
            account_id: o.account_id,
            extension_id: o.extension_id,
            client_id: o.client_id,
            session_id: o.session_id,
        }),
        Err(AccessError::NotFound) => Err(errors::unauthorized("OAU-213", "Token not found")),
        Err(AccessError::Corrupted) => Err(errors::unauthorized("OAU-129", "Access token corrupted")),
        Err(AccessError::Expired) => Err(errors::unauthorized("OAU-128", "Access token expired")),
    }
}

/// `POST /restapi/oauth/revoke` (RFC 7009): `token=` (form, or query) is an access or
/// refresh token; its whole session ends. Unknown tokens also get 200, as RFC 7009 asks.
async fn revoke(
    State(state): State<Arc<RcState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let form = match client_auth::parse_form(&headers, query.as_deref(), &body) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let client = match client_auth::authenticate_client(&state.config.credentials, &headers, &form) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let token = match client_auth::required(&form, "token") {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let owner = state.auth.lock().unwrap_or_else(|e| e.into_inner()).session_of(token);
    let user = owner.as_ref().map_or(0, |o| o.extension_id);
    let rate = match rate_limit::admit(&state, &client.client_id, user, Group::Auth) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if owner.is_some_and(|o| o.client_id == client.client_id) {
        state.auth.lock().unwrap_or_else(|e| e.into_inner()).revoke(token);
    }
    let mut resp = StatusCode::OK.into_response();
    rate.apply(resp.headers_mut());
    resp
}
