//! The gate in front of every RingCentral API route: authenticate the bearer token, count
//! the call against its rate-limit group, and put the rate-limit headers on the answer.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::MethodRouter;

use super::errors;
use super::rate_limit::Group;
use super::RcState;

/// Who is calling: resolved from the access token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: u64,
    pub extension_id: u64,
    pub client_id: String,
    pub session_id: String,
}

impl Caller {
    /// Resolves an `{accountId}` path segment: `~` or the caller's own id.
    pub fn account(&self, raw: &str) -> Result<u64, Response> {
        if raw == "~" {
            return Ok(self.account_id);
        }
        match raw.parse::<u64>() {
            Ok(id) if id == self.account_id => Ok(id),
            _ => Err(errors::not_found("accountId", raw)),
        }
    }

    /// Resolves an `{extensionId}` path segment: `~` is the caller's extension; a number is
    /// returned as is (the handler checks that the extension exists).
    pub fn extension(&self, raw: &str) -> Result<u64, Response> {
        if raw == "~" {
            return Ok(self.extension_id);
        }
        raw.parse::<u64>().map_err(|_| errors::not_found("extensionId", raw))
    }
}

/// The bearer token of a request: `Authorization: Bearer ...` or `?access_token=`.
pub fn bearer_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string());
    }
    let query = query?;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "access_token").map(|(_, v)| v.into_owned())
}

/// True when an `Authorization` header is present but is not a bearer token (API calls
/// take only `Bearer`; RingCentral answers OAU-151).
fn unsupported_scheme(headers: &HeaderMap) -> bool {
    headers.get(axum::http::header::AUTHORIZATION).is_some_and(|v| {
        let v = v.to_str().unwrap_or("");
        let scheme = v.split(' ').next().unwrap_or("");
        !scheme.eq_ignore_ascii_case("bearer")
    })
}

/// Puts one API route (all methods of `route`) in rate-limit group `group`, behind the
/// token check.
pub fn api(state: &Arc<RcState>, group: Group, route: MethodRouter<Arc<RcState>>) -> MethodRouter<Arc<RcState>> {
    route.route_layer(from_fn_with_state((state.clone(), group), guard))
}

async fn guard(State((state, group)): State<(Arc<RcState>, Group)>, mut req: Request, next: Next) -> Response {
    if unsupported_scheme(req.headers()) {
        return errors::unauthorized("OAU-151", "Authorization method not supported");
    }
    let token = bearer_token(req.headers(), req.uri().query());
    let caller = match super::oauth::authenticate(&state, token.as_deref()) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let headers = match super::rate_limit::admit(&state, &caller.client_id, caller.extension_id, group) {
        Ok(h) => h,
        Err(resp) => return resp,
    };
    req.extensions_mut().insert(caller);
    let mut resp = next.run(req).await;
    headers.apply(resp.headers_mut());
    resp
}
