//! The OAuth endpoints' request basics: the url-encoded form (duplicates refused, as
//! RingCentral does with OAU-111) and client authentication (HTTP Basic for confidential
//! apps, `client_id` in the form for public PKCE apps).

use std::collections::HashMap;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::ringcentral::errors::oauth_error;
use crate::Credentials;

/// An authenticated client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    /// Identified by `client_id` alone, without a secret.
    pub public: bool,
}

/// Parses an `application/x-www-form-urlencoded` body plus the query string (RingCentral
/// accepts parameters in either); a parameter given twice is refused.
pub fn parse_form(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<HashMap<String, String>, Response> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let is_form = content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !body.is_empty() && !is_form {
        return Err(oauth_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "CMN-104",
            "Unsupported Content-Type: use application/x-www-form-urlencoded",
        ));
    }
    let mut form = HashMap::new();
    let pairs = url::form_urlencoded::parse(body).chain(url::form_urlencoded::parse(query.unwrap_or("").as_bytes()));
    for (k, v) in pairs {
        if form.insert(k.clone().into_owned(), v.into_owned()).is_some() {
            return Err(param_oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "OAU-111",
                &format!("Duplicated request parameter [{k}]"),
                &k,
            ));
        }
    }
    Ok(form)
}

/// Authenticates the client of a token or revoke request.
pub fn authenticate_client(
    creds: &Credentials,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, Response> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let (id, secret) = value.to_str().ok().and_then(decode_basic).ok_or_else(invalid_header)?;
        let id_ok: bool = id.as_bytes().ct_eq(creds.client_id.as_bytes()).into();
        let secret_ok: bool = secret.as_bytes().ct_eq(creds.client_secret.as_bytes()).into();
        if !(id_ok && secret_ok) {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "OAU-146",
                "Invalid client credentials",
            ));
        }
        return Ok(Client { client_id: id, public: false });
    }
    match form.get("client_id") {
        None => Err(client_auth_required()),
        Some(id) if *id == creds.client_id => Ok(Client { client_id: id.clone(), public: true }),
        Some(id) => Err(unknown_client(id)),
    }
}

/// 401 invalid_client OAU-123 "Client authentication is required" (API page §1.2).
pub fn client_auth_required() -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "OAU-123", "Client authentication is required")
}

/// 401 invalid_client OAU-153 for a `client_id` the server does not know.
pub fn unknown_client(id: &str) -> Response {
    let message = format!("Invalid client: {id}");
    let body = json!({
        "error": "invalid_client",
        "error_description": message,
        "errors": [{
            "errorCode": "OAU-153",
            "message": message,
            "parameters": [{ "parameterName": "client_id", "parameterValue": id }],
        }],
    });
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

/// An OAuth error about one request parameter.
pub fn param_oauth_error(status: StatusCode, error: &str, code: &str, message: &str, name: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": message,
        "errors": [{ "errorCode": code, "message": message, "parameterName": name }],
    });
    (status, Json(body)).into_response()
}

/// 400 invalid_request CMN-101 for a missing or malformed form field.
pub fn invalid_field(name: &str) -> Response {
    param_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "CMN-101",
        &format!("Parameter [{name}] value is invalid"),
        name,
    )
}

/// A required, non-empty form field.
pub fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Response> {
    match form.get(name).map(String::as_str) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(invalid_field(name)),
    }
}

fn invalid_header() -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "OAU-123", "Invalid Authorization header value")
}

/// `Basic base64(id:secret)` → (id, secret).
fn decode_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_decodes() {
        let v = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("id:se:cret"));
        assert_eq!(decode_basic(&v), Some(("id".into(), "se:cret".into())));
        assert_eq!(decode_basic("Bearer abc"), None);
        assert_eq!(decode_basic("Basic !!!"), None);
    }
}
