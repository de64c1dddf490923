//! RingCentral's error bodies (docs/ringcentral-sandbox.md, "errors").
//!
//! API errors: `{"errorCode", "message", "errors":[{"errorCode","message",
//! "parameterName"?, "parameterValue"?}]}`; clients key off `errors[0].errorCode`.
//! OAuth errors: `{"error", "error_description", "errors":[{"errorCode","message"}]}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An API error with one item.
pub fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "errorCode": code,
        "message": message,
        "errors": [{ "errorCode": code, "message": message }],
    });
    (status, Json(body)).into_response()
}

/// An API error about one parameter.
pub fn param_error(status: StatusCode, code: &str, message: &str, name: &str, value: Option<&str>) -> Response {
    let mut item = json!({ "errorCode": code, "message": message, "parameterName": name });
    if let Some(v) = value {
        item["parameterValue"] = Value::String(v.to_string());
    }
    let body = json!({
        "errorCode": code,
        "message": message,
        "errors": [item],
        "parameterName": name,
    });
    (status, Json(body)).into_response()
}

/// 404 CMN-102 "Resource for parameter [name] is not found".
pub fn not_found(name: &str, value: &str) -> Response {
    param_error(
        StatusCode::NOT_FOUND,
        "CMN-102",
        &format!("Resource for parameter [{name}] is not found"),
        name,
        Some(value),
    )
}

/// 400 CMN-101 "Parameter [name] value is invalid".
pub fn invalid_param(name: &str, value: &str) -> Response {
    param_error(StatusCode::BAD_REQUEST, "CMN-101", &format!("Parameter [{name}] value is invalid"), name, Some(value))
}

/// An OAuth endpoint error.
pub fn oauth_error(status: StatusCode, error: &str, code: &str, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": description,
        "errors": [{ "errorCode": code, "message": description }],
    });
    (status, Json(body)).into_response()
}

/// The body of an API call made with a missing, unknown or dead token.
pub fn unauthorized(code: &str, message: &str) -> Response {
    let legacy = match code {
        "OAU-128" => "TokenExpired",
        "OAU-123" => code,
        _ => "TokenInvalid",
    };
    let body = json!({
        "errorCode": legacy,
        "message": message,
        "errors": [{ "errorCode": code, "message": message }],
    });
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// 429 CMN-301 "Request rate exceeded" (the caller adds `Retry-After` and rate headers).
pub fn rate_exceeded() -> Response {
    api_error(StatusCode::TOO_MANY_REQUESTS, "CMN-301", "Request rate exceeded")
}

/// Renders an injected fault the way RingCentral would answer with that status.
pub fn forced(f: crate::faults::Forced) -> Response {
    match f.status.as_u16() {
        429 => rate_exceeded(),
        401 => unauthorized("OAU-213", "Token not found"),
        404 => api_error(f.status, "CMN-120", "Invalid URI"),
        s if s >= 500 => api_error(f.status, "CMN-201", "Service Temporary Unavailable"),
        s if s >= 400 => api_error(f.status, "CMN-101", "Parameter value is invalid"),
        _ => (f.status, Json(json!({}))).into_response(),
    }
}
