//! The authorization-code flow: `GET|POST /restapi/oauth/authorize` issues a code (the
//! sandbox approves at once as the account's admin user, where RingCentral would show its
//! login page), and the token endpoint exchanges it, with PKCE (`S256` or `plain`).
//! `PUT /sandbox/oauth/consent {"approve": false}` makes the simulated user deny instead
//! (a redirect with `error=access_denied`).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::client_auth::{client_auth_required, parse_form, required};
use super::sessions::{new_token, AuthState};
use crate::ringcentral::errors::oauth_error;
use crate::ringcentral::RcState;

/// Redirect URIs registered for the sandbox app until `PUT /sandbox/oauth/redirect-uris`
/// replaces them.
pub const DEFAULT_REDIRECT_URIS: [&str; 2] =
    ["http://localhost:5000/oauth2callback", "http://127.0.0.1:5000/oauth2callback"];

/// The registered redirect URIs (exact match, API page §1.3).
#[derive(Debug, Clone)]
pub struct RedirectUris(pub Vec<String>);

impl Default for RedirectUris {
    fn default() -> Self {
        RedirectUris(DEFAULT_REDIRECT_URIS.iter().map(|s| s.to_string()).collect())
    }
}

/// PKCE `code_challenge_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMethod {
    Plain,
    S256,
}

/// A code waiting to be exchanged, and everything it is bound to.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<(String, ChallengeMethod)>,
    pub account_id: u64,
    pub extension_id: u64,
    pub expires: Instant,
}

/// `GET|POST /restapi/oauth/authorize`.
pub async fn authorize(
    State(state): State<Arc<RcState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = match parse_form(&headers, query.as_deref(), &body) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let client_id = match required(&params, "client_id") {
        Ok(v) => v,
        Err(resp) => return with_status(resp, StatusCode::BAD_REQUEST),
    };
    if client_id != state.config.credentials.client_id {
        return with_status(super::client_auth::unknown_client(client_id), StatusCode::BAD_REQUEST);
    }
    let redirect_uri = params.get("redirect_uri").map(String::as_str).unwrap_or("");
    let registered = state.auth.lock().unwrap_or_else(|e| e.into_inner()).redirect_uris.0.clone();
    // An unregistered redirect URI is answered here, never redirected to (RFC 6749 §4.1.2.1).
    let Some(target) = registered.iter().find(|r| *r == redirect_uri).and_then(|r| url::Url::parse(r).ok()) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "OAU-109", "Redirect URIs do not match");
    };
    let app_state = params.get("state").cloned();
    let redirect_error = |error: &str, description: &str| {
        let mut url = target.clone();
        url.query_pairs_mut().append_pair("error", error).append_pair("error_description", description);
        if let Some(s) = &app_state {
            url.query_pairs_mut().append_pair("state", s);
        }
        found(url.as_str())
    };
    if params.get("response_type").map(String::as_str) != Some("code") {
        return redirect_error("unsupported_response_type", "Unsupported response type: use response_type=code");
    }
    let challenge = match (params.get("code_challenge"), params.get("code_challenge_method").map(String::as_str)) {
        (None, None) => None,
        (Some(c), None | Some("plain")) if !c.is_empty() => Some((c.clone(), ChallengeMethod::Plain)),
        (Some(c), Some("S256")) if !c.is_empty() => Some((c.clone(), ChallengeMethod::S256)),
        _ => return redirect_error("invalid_request", "Invalid code_challenge or code_challenge_method"),
    };
    if state.auth.lock().unwrap_or_else(|e| e.into_inner()).deny_consent {
        // RFC 6749 §4.1.2.1: the resource owner denied the request.
        return redirect_error("access_denied", "The user has denied access to the application");
    }
    let (account_id, extension_id) = {
        let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
        (dir.account_id, dir.admin_extension_id)
    };
    let now = Instant::now();
    let code = new_token(24);
    let ttl = {
        let mut auth = state.auth.lock().unwrap_or_else(|e| e.into_inner());
        auth.codes.retain(|_, c| c.expires > now);
        let ttl = auth.timings.code_ttl;
        auth.codes.insert(
            code.clone(),
            AuthCode {
                client_id: client_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                challenge,
                account_id,
                extension_id,
                expires: now + ttl,
            },
        );
        ttl
    };
    let mut url = target;
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = &app_state {
        url.query_pairs_mut().append_pair("state", s);
    }
    url.query_pairs_mut().append_pair("expires_in", &ttl.as_secs().max(1).to_string());
    found(url.as_str())
}

/// Redeems a code for the token endpoint (single use: any attempt consumes it). Returns
/// the (account, extension) to log in.
pub fn redeem(
    auth: &mut AuthState,
    code: &str,
    client: &super::client_auth::Client,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: Instant,
) -> Result<(u64, u64), Response> {
    let grant_error = |code: &str, message: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", code, message);
    let Some(c) = auth.codes.remove(code) else {
        return Err(grant_error("OAU-106", "Invalid authorization code"));
    };
    if now >= c.expires {
        return Err(grant_error("OAU-108", "Authorization code expired"));
    }
    if c.client_id != client.client_id {
        return Err(grant_error("OAU-110", "Authorization code was issued to another application"));
    }
    if c.redirect_uri != redirect_uri {
        return Err(grant_error("OAU-109", "Redirect URIs do not match"));
    }
    match (&c.challenge, verifier) {
        // Public clients have no secret, so PKCE is what proves they started the flow.
        (None, _) if client.public => Err(client_auth_required()),
        (None, _) => Ok((c.account_id, c.extension_id)),
        (Some((challenge, method)), Some(v)) if pkce_matches(challenge, *method, v) => {
            Ok((c.account_id, c.extension_id))
        }
        (Some(_), _) => Err(grant_error("OAU-106", "Invalid authorization code: code_verifier does not match")),
    }
}

/// RFC 7636 §4.6: `S256` compares BASE64URL(SHA256(verifier)) with the challenge.
fn pkce_matches(challenge: &str, method: ChallengeMethod, verifier: &str) -> bool {
    let expected = match method {
        ChallengeMethod::Plain => verifier.to_string(),
        ChallengeMethod::S256 => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        }
    };
    expected.as_bytes().ct_eq(challenge.as_bytes()).into()
}

fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn with_status(mut resp: Response, status: StatusCode) -> Response {
    *resp.status_mut() = status;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, ChallengeMethod::S256, verifier));
        assert!(!pkce_matches(challenge, ChallengeMethod::S256, "other"));
        assert!(pkce_matches("abc", ChallengeMethod::Plain, "abc"));
    }
}
