//! What can go wrong talking to RingCentral, classified once: retryable (connect, timeout,
//! 408, 429 with its `Retry-After`, 5xx, Redis trouble, a lock wait that ran out) or
//! permanent (any other 4xx, an answer that does not parse, a bad setting).
//!
//! Messages name the method, the path (never the query: it may carry a sync token) and
//! RingCentral's `errors[0].errorCode`; no message or `Debug` output carries a token,
//! a secret or the JWT: reqwest errors are stored `without_url()` and RingCentral's own
//! error bodies never echo credentials.

use std::time::Duration;

use serde::Deserialize;

use super::rate_info::RateInfo;

/// Used when a 429 comes without `Retry-After`: RingCentral's docs say wait at least 30 s.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// One RingCentral failure.
#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error("cannot reach ringcentral for {method} {path}: {source}; check ringcentral.server_url and the network")]
    Connect {
        method: &'static str,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("ringcentral {method} {path} timed out: {source}")]
    Timeout {
        method: &'static str,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("ringcentral {method} {path} failed while sending or reading: {source}")]
    Transport {
        method: &'static str,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    /// 429: the rate-limit group is in its penalty; nothing in that group may be sent
    /// before `retry_after` passes (every request during the penalty restarts it).
    #[error("ringcentral {method} {path} answered 429 {code}: rate limit exceeded; retry after {}s", retry_after.as_secs())]
    RateLimited { method: &'static str, path: String, code: String, retry_after: Duration, rate: Option<Box<RateInfo>> },
    /// Not sent: the shared budget of the call's usage group had no permit within the wait a
    /// job may sit through (or is paused after a 429). A wait, not a failure.
    #[error("ringcentral {method} {path} not sent: {source}")]
    Throttled {
        method: &'static str,
        path: String,
        group: &'static str,
        #[source]
        source: snapsync_queue::LimitError,
    },
    /// Any other non-2xx answer; `code` is `errors[0].errorCode` (or the OAuth `error`).
    #[error("ringcentral {method} {path} answered {status} {code}: {}", detail.message)]
    Api { method: &'static str, path: String, status: u16, code: String, detail: Box<ApiDetail> },
    #[error("ringcentral {method} {path} answered 2xx with a body that does not parse as {what}: {source}")]
    Decode {
        method: &'static str,
        path: String,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("redis failed during ringcentral {action}: {source}; is redis up?")]
    Redis {
        action: &'static str,
        #[source]
        source: redis::RedisError,
    },
    /// Another process held the token lock and no usable token appeared in time.
    #[error("no ringcentral token after waiting {}ms for another process's login or refresh", waited.as_millis())]
    TokenWait { waited: Duration },
    /// A recent login or refresh failed with a retryable error; every process waits
    /// instead of hammering `/oauth/token` (Auth group: 5 requests a minute).
    #[error("ringcentral login is backing off after a failure ({reason}); retry after {}s", retry_after.as_secs())]
    AuthBackoff { reason: String, retry_after: Duration, retryable: bool },
    /// `ringcentral.auth = "authorization_code"` and no usable pair: none stored, or its
    /// refresh token is dead. Only an operator can fix it; jobs wait (snooze) meanwhile.
    #[error(
        "ringcentral has no usable token ({reason}) and cannot log in by itself with ringcentral.auth = \"authorization_code\": run `snapsync login`"
    )]
    LoginRequired { reason: String },
    /// A 2xx answer that breaks RingCentral's documented shape (no sync token, endless paging).
    #[error("ringcentral {method} {path}: {reason}")]
    Protocol { method: &'static str, path: String, reason: String },
    /// An id from a job or webhook that would not be a single path segment.
    #[error(
        "{what} {id:?} is not a ringcentral id (letters, digits, - _ ~); the job or event carrying it is malformed"
    )]
    InvalidId { what: &'static str, id: String },
    #[error("bad ringcentral setting {key}: {reason}")]
    Config { key: &'static str, reason: String },
}

impl RcError {
    /// Whether the same call may succeed later (connect, timeout, 408, 429, 5xx, Redis,
    /// a token wait that ran out); other 4xx and unparsable answers are permanent.
    pub fn is_retryable(&self) -> bool {
        match self {
            RcError::Connect { .. } | RcError::Timeout { .. } | RcError::Transport { .. } => true,
            RcError::RateLimited { .. } | RcError::Redis { .. } | RcError::TokenWait { .. } => true,
            RcError::Throttled { .. } => true,
            RcError::AuthBackoff { retryable, .. } => *retryable,
            // Retryable once someone runs `snapsync login`.
            RcError::LoginRequired { .. } => true,
            RcError::Api { status, .. } => *status == 408 || *status >= 500,
            RcError::Decode { .. } | RcError::Config { .. } | RcError::InvalidId { .. } | RcError::Protocol { .. } => {
                false
            }
        }
    }

    /// How long to wait before trying again, when the server said so (429 always has one;
    /// 503 may).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RcError::RateLimited { retry_after, .. } | RcError::AuthBackoff { retry_after, .. } => Some(*retry_after),
            RcError::Api { detail, .. } => detail.retry_after,
            RcError::Throttled { source, .. } => source.wait(),
            _ => None,
        }
    }

    /// RingCentral's `errors[0].errorCode` (e.g. `CMN-102`, `OAU-213`, `CMN-301`).
    pub fn error_code(&self) -> Option<&str> {
        match self {
            RcError::Api { code, .. } | RcError::RateLimited { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status RingCentral answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RcError::Api { status, .. } => Some(*status),
            RcError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// The rate-limit headers of the failed answer, if it carried them.
    pub fn rate_info(&self) -> Option<&RateInfo> {
        match self {
            RcError::Api { detail, .. } => detail.rate.as_ref(),
            RcError::RateLimited { rate, .. } => rate.as_deref(),
            _ => None,
        }
    }

    /// `errors[0].parameterName` of a 400/404 (e.g. `syncToken`, `extensionId`).
    pub fn parameter(&self) -> Option<&str> {
        match self {
            RcError::Api { detail, .. } => detail.parameter.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn from_reqwest(method: &'static str, path: &str, e: reqwest::Error) -> RcError {
        // The URL may carry a sync token in its query; the path is enough to act on.
        let source = e.without_url();
        let path = path.to_owned();
        if source.is_timeout() {
            RcError::Timeout { method, path, source }
        } else if source.is_connect() {
            RcError::Connect { method, path, source }
        } else {
            RcError::Transport { method, path, source }
        }
    }

    /// Builds the error for a non-2xx answer from its status, headers and body.
    pub(crate) fn from_response(
        method: &'static str,
        path: &str,
        status: u16,
        retry_after: Option<Duration>,
        rate: Option<RateInfo>,
        body: &[u8],
    ) -> RcError {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let first = parsed.errors.into_iter().next();
        let code = first
            .as_ref()
            .and_then(|e| e.error_code.clone())
            .or(parsed.error_code)
            .or(parsed.error)
            .unwrap_or_else(|| format!("HTTP-{status}"));
        let message = first
            .as_ref()
            .and_then(|e| e.message.clone())
            .or(parsed.message)
            .or(parsed.error_description)
            .unwrap_or_else(|| "no error body".into());
        let parameter = first.and_then(|e| e.parameter_name).or(parsed.parameter_name);
        let path = path.to_owned();
        if status == 429 {
            let retry_after = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
            return RcError::RateLimited { method, path, code, retry_after, rate: rate.map(Box::new) };
        }
        let detail = Box::new(ApiDetail { message: clip(message), parameter, retry_after, rate });
        RcError::Api { method, path, status, code, detail }
    }

    pub(crate) fn redis(action: &'static str) -> impl FnOnce(redis::RedisError) -> RcError {
        move |source| RcError::Redis { action, source }
    }
}

/// The less-used parts of a non-2xx answer (boxed: keeps `Result<_, RcError>` small).
#[derive(Debug, Clone)]
pub struct ApiDetail {
    /// `errors[0].message` (server text, clipped).
    pub message: String,
    /// `errors[0].parameterName`.
    pub parameter: Option<String>,
    pub retry_after: Option<Duration>,
    pub rate: Option<RateInfo>,
}

/// Error text comes from the server; keep log lines bounded.
fn clip(mut s: String) -> String {
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// RingCentral's API error body (`errors[]`) and its OAuth one (`error`,
/// `error_description`), read tolerantly.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    errors: Vec<ErrorItem>,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    message: Option<String>,
    #[serde(rename = "parameterName")]
    parameter_name: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorItem {
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    message: Option<String>,
    #[serde(rename = "parameterName")]
    parameter_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_keeps_first_error_code_and_parameter() {
        let body = br#"{"errorCode":"InvalidParameter","message":"x","errors":[{"errorCode":"CMN-101","message":"Parameter [syncToken] value is invalid","parameterName":"syncToken"}]}"#;
        let e = RcError::from_response("GET", "/p", 400, None, None, body);
        assert_eq!(e.error_code(), Some("CMN-101"));
        assert_eq!(e.parameter(), Some("syncToken"));
        assert!(!e.is_retryable());
        assert_eq!(e.status(), Some(400));
    }

    #[test]
    fn oauth_error_body_is_read() {
        let body = br#"{"error":"invalid_grant","error_description":"Token not found","errors":[{"errorCode":"OAU-213","message":"Token not found"}]}"#;
        let e = RcError::from_response("POST", "/restapi/oauth/token", 400, None, None, body);
        assert_eq!(e.error_code(), Some("OAU-213"));
    }

    #[test]
    fn classification() {
        let e = |s| RcError::from_response("GET", "/p", s, None, None, b"not json");
        for s in [408, 500, 502, 503, 504] {
            assert!(e(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 415] {
            assert!(!e(s).is_retryable(), "{s}");
        }
        assert_eq!(e(404).error_code(), Some("HTTP-404"));
        let limited = RcError::from_response("GET", "/p", 429, None, None, b"");
        assert!(limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(DEFAULT_RETRY_AFTER));
    }
}
