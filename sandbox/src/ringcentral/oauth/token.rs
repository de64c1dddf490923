//! `POST /restapi/oauth/token`: client authentication, then one of the JWT bearer,
//! refresh-token and authorization-code grants. The endpoint is in the Auth rate-limit
//! group (5 per window per client and user).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use subtle::ConstantTimeEq;

use super::client_auth::{authenticate_client, client_auth_required, invalid_field, parse_form, required, Client};
use super::sessions::{Grant, RefreshError, TtlRequest};
use crate::ringcentral::errors::oauth_error;
use crate::ringcentral::rate_limit::{self, Group};
use crate::ringcentral::RcState;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The user a rate-limit bucket is kept for when the request names no known user (bad
/// credentials still cost the client its Auth budget).
const UNKNOWN_USER: u64 = 0;

/// `POST /restapi/oauth/token`.
pub async fn token(
    State(state): State<Arc<RcState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    state.auth.lock().unwrap_or_else(|e| e.into_inner()).stats.token_requests += 1;
    let mut resp = match handle(&state, &headers, query.as_deref(), &body) {
        Ok(resp) | Err(resp) => resp,
    };
    // RFC 6749 §5.1: token responses must not be cached.
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn handle(state: &RcState, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Response, Response> {
    let form = parse_form(headers, query, body)?;
    let client = authenticate_client(&state.config.credentials, headers, &form)?;
    let grant_type = required(&form, "grant_type")?;
    let ttl = ttl_request(&form)?;
    let user = user_of(state, grant_type, &form);
    let rate = rate_limit::admit(state, &client.client_id, user, Group::Auth)?;
    let now = Instant::now();
    let result = match grant_type {
        JWT_BEARER => jwt_grant(state, &client, &form, ttl, now),
        "refresh_token" => refresh_grant(state, &client, &form, ttl, now),
        "authorization_code" => code_grant(state, &client, &form, ttl, now),
        // The sandbox app, like new RingCentral apps, is not enabled for the deprecated
        // password flow.
        "password" => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "OAU-251",
            "Unauthorized for this grant type",
        )),
        _ => Err(oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "OAU-250", "Unsupported grant type")),
    };
    let mut resp = match result {
        Ok(body) => Json(body).into_response(),
        Err(resp) => resp,
    };
    rate.apply(resp.headers_mut());
    Ok(resp)
}

/// The extension whose Auth budget a request spends.
fn user_of(state: &RcState, grant_type: &str, form: &HashMap<String, String>) -> u64 {
    match grant_type {
        JWT_BEARER if form.get("assertion").is_some_and(|a| jwt_matches(state, a)) => admin(state).1,
        "refresh_token" => {
            let auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
            form.get("refresh_token").and_then(|t| auth.refresh_owner(t)).map_or(UNKNOWN_USER, |(ext, _)| ext)
        }
        "authorization_code" => {
            let auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
            form.get("code").and_then(|c| auth.codes.get(c)).map_or(UNKNOWN_USER, |c| c.extension_id)
        }
        _ => UNKNOWN_USER,
    }
}

fn jwt_grant(
    state: &RcState,
    client: &Client,
    form: &HashMap<String, String>,
    ttl: TtlRequest,
    now: Instant,
) -> Result<serde_json::Value, Response> {
    // The JWT flow is for confidential apps: the client secret must come with it.
    if client.public {
        return Err(client_auth_required());
    }
    let assertion = required(form, "assertion")?;
    if !jwt_matches(state, assertion) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "OAU-140",
            "Invalid resource owner credentials",
        ));
    }
    let (account_id, extension_id) = admin(state);
    let grant = grant(client, account_id, extension_id, form);
    let mut auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    Ok(with_scope(auth.login(grant, ttl, now).to_json(), &auth))
}

fn refresh_grant(
    state: &RcState,
    client: &Client,
    form: &HashMap<String, String>,
    ttl: TtlRequest,
    now: Instant,
) -> Result<serde_json::Value, Response> {
    let token = required(form, "refresh_token")?;
    let mut auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    match auth.refresh(token, &client.client_id, client.public, ttl, now) {
        Ok(issued) => Ok(with_scope(issued.to_json(), &auth)),
        Err(RefreshError::NotFound) => {
            Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "OAU-213", "Token not found"))
        }
        Err(RefreshError::Expired) => {
            Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "OAU-210", "Token expired"))
        }
        Err(RefreshError::ClientAuthRequired) => Err(client_auth_required()),
    }
}

fn code_grant(
    state: &RcState,
    client: &Client,
    form: &HashMap<String, String>,
    ttl: TtlRequest,
    now: Instant,
) -> Result<serde_json::Value, Response> {
    let code = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let verifier = form.get("code_verifier").map(String::as_str);
    let mut auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
    let (account_id, extension_id) = super::authorize::redeem(&mut auth, code, client, redirect_uri, verifier, now)?;
    let grant = grant(client, account_id, extension_id, form);
    Ok(with_scope(auth.login(grant, ttl, now).to_json(), &auth))
}

/// The token response with the app's current permissions (`PUT /sandbox/oauth/scopes`).
fn with_scope(mut body: serde_json::Value, auth: &super::sessions::AuthState) -> serde_json::Value {
    body["scope"] = serde_json::Value::String(auth.scope());
    body
}

fn grant(client: &Client, account_id: u64, extension_id: u64, form: &HashMap<String, String>) -> Grant {
    Grant {
        account_id,
        extension_id,
        client_id: client.client_id.clone(),
        public: client.public,
        endpoint_id: form.get("endpoint_id").filter(|e| !e.is_empty()).cloned(),
    }
}

/// `access_token_ttl` / `refresh_token_ttl`: whole seconds when present.
fn ttl_request(form: &HashMap<String, String>) -> Result<TtlRequest, Response> {
    let parse = |name: &str| match form.get(name) {
        None => Ok(None),
        // Negative values are numbers too: RingCentral's JS SDK sends `access_token_ttl=-1`
        // when it refreshes after a 401. Below-minimum values are raised (API page §1.3).
        Some(v) => v.trim().parse::<i64>().map(|n| Some(n.max(0) as u64)).map_err(|_| invalid_field(name)),
    };
    Ok(TtlRequest { access: parse("access_token_ttl")?, refresh: parse("refresh_token_ttl")? })
}

fn jwt_matches(state: &RcState, assertion: &str) -> bool {
    assertion.as_bytes().ct_eq(state.config.credentials.jwt.as_bytes()).into()
}

/// The JWT's user: the account's admin extension.
fn admin(state: &RcState) -> (u64, u64) {
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    (dir.account_id, dir.admin_extension_id)
}
