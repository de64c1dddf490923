//! The HTTP side of webhooks: the `Validation-Token` handshake run while a subscription is
//! created (ringcentral.md §3.2) and the POST of one notification (§3.3, §3.6).

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;

use super::errors;

/// The handshake's whole response (status line, headers, body) must fit in this (§3.2).
const MAX_HANDSHAKE_RESPONSE: usize = 1024;

/// Headers every notification carries (§3.3 sample headers).
pub const USER_AGENT: &str = "RingCentral-Webhook/8.3";
pub const CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// Why a handshake failed, one variant per documented error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// SUB-521: connection refused, timed out, or answered with a status other than 200.
    Unreachable(String),
    /// SUB-520: 200 but no (or another) `Validation-Token` header.
    TokenNotReturned,
    /// SUB-525: the response is too large.
    InvalidResponse(usize),
}

impl HandshakeError {
    /// RingCentral's 400 answer to the `POST /subscription` that triggered the handshake.
    pub fn response(&self) -> Response {
        let (code, message) = match self {
            HandshakeError::Unreachable(_) => ("SUB-521", "WebHook is not reachable"),
            HandshakeError::TokenNotReturned => ("SUB-520", "Validation Token is not returned"),
            HandshakeError::InvalidResponse(_) => ("SUB-525", "WebHook server response is invalid"),
        };
        errors::api_error(StatusCode::BAD_REQUEST, code, message)
    }
}

/// POSTs an empty body with `Validation-Token` (and `Verification-Token` when configured) to
/// `address`; succeeds when the answer is a 200 echoing the token, within `timeout`, in at
/// most 1024 bytes.
pub async fn handshake(
    http: &reqwest::Client,
    address: &str,
    verification_token: Option<&str>,
    timeout: Duration,
) -> Result<(), HandshakeError> {
    let token = uuid::Uuid::new_v4().to_string();
    let attempt = async {
        let mut req = http.post(address).header("Validation-Token", &token).header("Content-Length", "0");
        if let Some(v) = verification_token {
            req = req.header("Verification-Token", v);
        }
        let mut resp = req.send().await.map_err(|e| HandshakeError::Unreachable(describe(&e)))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(HandshakeError::Unreachable(format!("status {}", resp.status().as_u16())));
        }
        // Approximates the bytes on the wire: status line, each header line, blank line, body.
        let mut size = "HTTP/1.1 200 OK\r\n\r\n".len();
        for (name, value) in resp.headers() {
            size += name.as_str().len() + 2 + value.len() + 2;
        }
        while let Some(chunk) = resp.chunk().await.map_err(|e| HandshakeError::Unreachable(describe(&e)))? {
            size += chunk.len();
            if size > MAX_HANDSHAKE_RESPONSE {
                return Err(HandshakeError::InvalidResponse(size));
            }
        }
        if size > MAX_HANDSHAKE_RESPONSE {
            return Err(HandshakeError::InvalidResponse(size));
        }
        let echoed = resp.headers().get("Validation-Token").and_then(|v| v.to_str().ok());
        if echoed != Some(token.as_str()) {
            return Err(HandshakeError::TokenNotReturned);
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(HandshakeError::Unreachable("Read timed out".into())),
    }
}

/// What happened to one notification POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered with this status.
    Status(u16),
    /// No HTTP answer: refused, reset, timed out.
    Failed(String),
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Status(s) if (200..300).contains(s))
    }

    /// The `blacklistedData.reason` text RingCentral uses for this failure (§3.4).
    pub fn reason(&self) -> String {
        match self {
            Outcome::Status(s) => {
                let phrase = StatusCode::from_u16(*s).ok().and_then(|c| c.canonical_reason()).unwrap_or("Unknown");
                format!("Webhook responses with code: [{s}], reason: [{phrase}]")
            }
            Outcome::Failed(d) => format!("I/O operation is failed. Details: [{d}]"),
        }
    }
}

/// POSTs one notification envelope with RingCentral's delivery headers.
pub async fn deliver(
    http: &reqwest::Client,
    address: &str,
    verification_token: Option<&str>,
    envelope: &serde_json::Value,
    timeout: Duration,
) -> Outcome {
    let mut req = http
        .post(address)
        .header("Content-Type", CONTENT_TYPE)
        .header("User-Agent", USER_AGENT)
        .header("Accept", "application/json")
        .header("Accept-Encoding", "UTF-8")
        .body(envelope.to_string());
    if let Some(v) = verification_token {
        req = req.header("Verification-Token", v);
    }
    match tokio::time::timeout(timeout, req.send()).await {
        Ok(Ok(resp)) => Outcome::Status(resp.status().as_u16()),
        Ok(Err(e)) => Outcome::Failed(describe(&e)),
        Err(_) => Outcome::Failed("Read timed out".into()),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "Read timed out".into()
    } else if e.is_connect() {
        "Connection refused".into()
    } else {
        "Connection reset".into()
    }
}
