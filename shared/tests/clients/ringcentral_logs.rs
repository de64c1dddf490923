//! No token, secret or JWT in any log line, error or `Debug` output. The capture is the test
//! binary's global subscriber (set here, the only test of the binary that sets one): a
//! thread-local one would miss events, because tracing caches per-callsite interest process-wide
//! and the other tests of this binary run beside it. Their log lines land in the capture too,
//! which only widens what is checked.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::ringcentral_support::start;
use serde_json::json;

/// Collects everything the client logs (DEBUG and up) while it logs in, gets a 401,
/// refreshes and fails a call; no token, secret or JWT may appear.
#[tokio::test]
async fn no_secret_in_logs_errors_or_debug() {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this test binary");

    let env = start().await;
    let rc = env.client().await;
    rc.account_info().await.expect("login");
    let first: serde_json::Value = {
        use redis::AsyncCommands;
        let raw: String = env.conn().await.get("{t-rc}:rc:token").await.expect("pair");
        serde_json::from_str(&raw).expect("json")
    };
    env.expire_tokens().await;
    rc.account_info().await.expect("401 → refresh → retry");
    let err = rc.extension("400000999").await.expect_err("404");
    env.fault(json!({"route": "/restapi/v1.0/account/*/sites", "statuses": [429]})).await;
    let limited = rc.sites().await.expect_err("429");
    let second: serde_json::Value = {
        use redis::AsyncCommands;
        let raw: String = env.conn().await.get("{t-rc}:rc:token").await.expect("pair");
        serde_json::from_str(&raw).expect("json")
    };

    let logs = String::from_utf8_lossy(&buf.0.lock().expect("lock")).to_string();
    assert!(logs.contains("ringcentral token obtained"), "the capture works: {logs}");
    let creds = env.sandbox.credentials();
    let secrets = [
        first["access_token"].as_str().expect("a"),
        first["refresh_token"].as_str().expect("r"),
        second["access_token"].as_str().expect("a2"),
        second["refresh_token"].as_str().expect("r2"),
        creds.jwt.as_str(),
        creds.client_secret.as_str(),
    ];
    let texts = [
        logs,
        err.to_string(),
        format!("{err:?}"),
        format!("{limited:?}"),
        format!("{rc:?}"),
        format!("{:?}", env.settings()),
    ];
    for secret in secrets {
        for text in &texts {
            assert!(!text.contains(secret), "a secret leaked into: {text}");
        }
    }
}
