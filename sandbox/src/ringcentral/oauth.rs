//! OAuth 2.0: `/restapi/oauth/token`, `/authorize`, `/revoke`, sessions and tokens.
//! Placeholder: JWT bearer grant only, tokens never expire.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde_json::json;

use super::errors;
use super::guard::Caller;
use super::RcState;

#[derive(Default)]
pub struct AuthState {
    tokens: HashMap<String, Caller>,
    next: u64,
}

pub fn routes() -> Router<Arc<RcState>> {
    Router::new().route("/restapi/oauth/token", post(token))
}

/// Resolves an access token to its caller; `Err` is the 401 to send.
pub fn authenticate(state: &RcState, token: Option<&str>) -> Result<Caller, Response> {
    let Some(token) = token else {
        return Err(errors::unauthorized("OAU-123", "Authorization header is not specified"));
    };
    let auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    auth.tokens.get(token).cloned().ok_or_else(|| errors::unauthorized("OAU-213", "Token not found"))
}

async fn token(
    State(state): State<Arc<RcState>>,
    _headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if form.get("assertion") != Some(&state.config.credentials.jwt) {
        return errors::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "OAU-140",
            "Invalid resource owner credentials",
        );
    }
    let (account_id, extension_id) = {
        let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
        (dir.account_id, dir.admin_extension_id)
    };
    let mut auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    auth.next += 1;
    let access = format!("sandbox-at-{}-{}", auth.next, uuid::Uuid::new_v4().simple());
    let session_id = format!("session-{}", auth.next);
    auth.tokens.insert(
        access.clone(),
        Caller {
            account_id,
            extension_id,
            client_id: state.config.credentials.client_id.clone(),
            session_id: session_id.clone(),
        },
    );
    Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": 3600,
        "scope": "ReadAccounts ReadContacts ReadMessages ReadCallLog WebhookSubscriptions",
        "owner_id": extension_id.to_string(),
        "endpoint_id": "sandbox-endpoint",
        "session_id": session_id,
    }))
    .into_response()
}
