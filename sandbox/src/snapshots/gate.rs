//! What stands in front of every route: the request id, and for API routes (everything but
//! `/sandbox/…`) the API key, the per-key rate limit and the request counters.
//!
//! The key is checked before the limit is enforced, so a wrong key always gets 401, never
//! 429. A read-only key (`PUT /sandbox/keys/{key}`) is checked after the limit and before the
//! route: any method but GET/HEAD gets 403 `forbidden`, before the body is validated, so an
//! invalid write answers 422 only to a key that may write. Requests with a missing or wrong key share one rate-limit bucket (so the headers
//! are on their answers too without a window per guessed key); the valid key has its own.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tracing::Instrument;

use super::errors::ApiError;
use super::SnapshotsState;

/// Bucket shared by requests without a valid key.
const UNAUTHENTICATED: &str = "";

/// Gives every answer an `X-Request-Id` and runs the request in an `http_request` span.
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    let span = tracing::info_span!("http_request", method = %req.method(), path = %req.uri().path(), request_id = %id);
    let mut resp = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// API key, rate limit and counting for API routes.
pub async fn api(State(st): State<Arc<SnapshotsState>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/sandbox/") {
        return next.run(req).await;
    }
    st.stats().request(req.method().as_str(), req.uri().path());
    // `Ok(key, may_write)`.
    let auth = match authenticate(req.headers(), &st.api_key) {
        Ok(()) => Ok((st.api_key.clone(), true)),
        Err(e) => match read_only_key(req.headers(), &st.read_only_keys()) {
            Some(key) => Ok((key, false)),
            None => Err(e),
        },
    };
    let bucket = auth.as_ref().map_or(UNAUTHENTICATED, |(key, _)| key.as_str());
    let verdict = st.limiter().check(bucket, Instant::now());
    let reads = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let mut resp = match auth {
        Err(e) => e.into_response(),
        Ok(_) if !verdict.allowed => {
            st.stats().limited();
            ApiError::rate_limited(verdict.reset_secs).into_response()
        }
        Ok((_, false)) if !reads => ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "this API key may only read; writing needs a key with write access",
        )
        .into_response(),
        Ok(_) => {
            st.stats().admitted(verdict.used);
            next.run(req).await
        }
    };
    verdict.apply(resp.headers_mut());
    st.stats().response(resp.status().as_u16());
    resp
}

/// Checks `Authorization: Bearer <api_key>` (the scheme is case-insensitive, as in RFC 9110).
fn authenticate(headers: &HeaderMap, api_key: &str) -> Result<(), ApiError> {
    let Some(value) = headers.get("authorization") else {
        return Err(ApiError::invalid_api_key("missing API key: send Authorization: Bearer <api_key>"));
    };
    let value = value.to_str().unwrap_or("");
    let Some((scheme, key)) = value.split_once(' ') else {
        return Err(ApiError::invalid_api_key("Authorization must be \"Bearer <api_key>\""));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::invalid_api_key("Authorization must use the Bearer scheme: \"Bearer <api_key>\""));
    }
    if bool::from(key.trim().as_bytes().ct_eq(api_key.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::invalid_api_key("the API key is not valid; check the key configured for Snapshots"))
    }
}

/// The bearer key of `headers` when it is one of the read-only `keys`.
fn read_only_key(headers: &HeaderMap, keys: &[String]) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    let known = keys.iter().any(|k| bool::from(key.as_bytes().ct_eq(k.as_bytes())));
    (scheme.eq_ignore_ascii_case("bearer") && known).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert("authorization", HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn bearer_key_is_required() {
        assert!(authenticate(&with(Some("Bearer k1")), "k1").is_ok());
        assert!(authenticate(&with(Some("bearer k1")), "k1").is_ok());
        assert!(authenticate(&with(None), "k1").is_err());
        assert!(authenticate(&with(Some("Bearer k2")), "k1").is_err());
        assert!(authenticate(&with(Some("Basic k1")), "k1").is_err());
        assert!(authenticate(&with(Some("k1")), "k1").is_err());
        assert!(authenticate(&with(Some("Bearer ")), "k1").is_err());
    }
}
