//! # End-to-end test support
//!
//! # Layout
//! - [`start_sandbox`]: both stand-ins on free loopback ports, with a compressed
//!   rate-limit window, and an HTTP client logged in helpers.
//!
//! Tests live in `tests/tests/<area>/` (one test binary per area: `sandbox`, `queue`, `pipeline`); each starts what it needs (a private Redis from
//! `snapsync-testkit`, the sandbox from here) and talks to it over real sockets.

use std::time::Duration;

pub use snapsync_sandbox::{Sandbox, SandboxConfig};
pub use snapsync_testkit::{wait_until, wait_until_async, RedisServer};

/// Starts the sandbox on free ports with the default fixture and a `window`-long
/// rate-limit window.
pub async fn start_sandbox_with(window: Duration, contacts: Option<usize>) -> Sandbox {
    let config = SandboxConfig { window, contacts, ..SandboxConfig::default() };
    Sandbox::start(config).await.expect("start the sandbox on loopback")
}

/// Starts the sandbox on free ports with the default fixture and a 60 s window.
pub async fn start_sandbox() -> Sandbox {
    start_sandbox_with(Duration::from_secs(60), None).await
}

/// Logs in with the sandbox JWT; returns the token response.
pub async fn rc_login(sandbox: &Sandbox) -> serde_json::Value {
    let c = sandbox.credentials();
    let resp = reqwest::Client::new()
        .post(format!("{}/restapi/oauth/token", sandbox.rc_url()))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", c.jwt.as_str())])
        .send()
        .await
        .expect("POST /restapi/oauth/token");
    assert_eq!(resp.status(), 200, "JWT login failed");
    resp.json().await.expect("token response is JSON")
}

/// Logs in and returns the access token.
pub async fn rc_token(sandbox: &Sandbox) -> String {
    rc_login(sandbox).await["access_token"].as_str().expect("access_token in token response").to_string()
}
