//! Snapshots' error body (`docs/snapshots-api.md`, "Transport"):
//! `{"error":{"code":"...","message":"...","field":"..."?}}`, plus `existing_id` on a 409
//! `conflict`. Every failure a handler can meet is an [`ApiError`], so no request can turn
//! into a panic or an unexplained 500.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::faults::Forced;

/// One error answer, in Snapshots' shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The offending field, for `validation_failed` (and query parameters).
    pub field: Option<String>,
    /// The record that already holds the external id, for `conflict`.
    pub existing_id: Option<String>,
    /// `Retry-After` seconds, for `rate_limited` and `unavailable`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), field: None, existing_id: None, retry_after: None }
    }

    /// 400 `bad_request`: the request itself cannot be read (malformed JSON, bad header).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `invalid_api_key`.
    pub fn invalid_api_key(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405 `method_not_allowed` (a refinement of the contract: see `docs/snapshots-api.md`).
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not supported on this path; see docs/snapshots-api.md for the operations",
        )
    }

    /// 409 `conflict` naming the record that already holds `external_id`.
    pub fn conflict(external_id: &str, existing_id: &str) -> ApiError {
        ApiError {
            existing_id: Some(existing_id.to_string()),
            ..ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "external_id {external_id:?} already belongs to {existing_id}; \
                     update that record instead of creating a new one"
                ),
            )
        }
    }

    /// 412 `version_mismatch`.
    pub fn version_mismatch(sent: i64, current: i64) -> ApiError {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "version_mismatch",
            format!("If-Match names version {sent} but the record is at version {current}; fetch it and retry"),
        )
    }

    /// 422 `validation_failed` about one field.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
        }
    }

    /// 422 `idempotency_key_reused`.
    pub fn idempotency_key_reused(key: &str) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            format!(
                "Idempotency-Key {key:?} was already used with a different request; \
                 use a new key for a different body"
            ),
        )
    }

    /// 429 `rate_limited`, retry after `secs`.
    pub fn rate_limited(secs: u64) -> ApiError {
        ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("rate limit exceeded for this API key; retry after {secs} s"),
            )
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), Value::String(self.code.into()));
        error.insert("message".into(), Value::String(self.message.clone()));
        if let Some(f) = &self.field {
            error.insert("field".into(), Value::String(f.clone()));
        }
        if let Some(id) = &self.existing_id {
            error.insert("existing_id".into(), Value::String(id.clone()));
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
        }
        resp
    }
}

/// Renders a status forced by `/sandbox/faults` in Snapshots' shape. The fault layer adds
/// `Retry-After` to 429 and 503 itself.
pub fn forced(f: Forced) -> Response {
    let (code, message) = match f.status.as_u16() {
        400 => ("bad_request", "the request could not be read (injected fault)"),
        401 => ("invalid_api_key", "the API key was refused (injected fault)"),
        403 => ("forbidden", "this API key may not do this (injected fault)"),
        404 => ("not_found", "no such record (injected fault)"),
        409 => ("conflict", "the record changed concurrently (injected fault)"),
        412 => ("version_mismatch", "the record's version moved on (injected fault)"),
        422 => ("validation_failed", "the record was refused (injected fault)"),
        429 => ("rate_limited", "rate limit exceeded (injected fault); retry after the Retry-After delay"),
        s if s >= 500 => ("unavailable", "Snapshots is unavailable (injected fault); retry later"),
        _ => ("bad_request", "the request was refused (injected fault)"),
    };
    if f.status.is_success() || f.status.is_redirection() {
        // A forced 2xx/3xx carries no error body: it stands for an answer that lost its payload.
        return f.status.into_response();
    }
    (f.status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}
