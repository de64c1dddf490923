//! `snapsync serve` against a password-protected Redis whose password changes under it:
//! `/readyz` turns 503 (without Redis's words or the password in the body) and back to 200
//! once the password is right again, without restarting the process.

use nix::sys::signal::Signal;
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::{wait_until_async, RedisServer};

use crate::common::DEADLINE;
use crate::serve_process::{spawn_url, stop};

const RIGHT: &str = "serve-right-pw-93d1";
const CHANGED: &str = "serve-changed-pw-27fa";

/// `/readyz`'s status and body.
async fn readyz(base: &str) -> Option<(u16, String)> {
    let resp = reqwest::get(format!("{base}/readyz")).await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

#[tokio::test]
async fn readyz_follows_a_redis_password_change_without_a_restart() {
    let mut redis = RedisServer::start_with_password(RIGHT);
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let url = redis.url();
    // Ready (200) once started: spawn_url waits for it.
    let serve = spawn_url(&url, &sandbox).await;

    redis.restart_with_password(Some(CHANGED));
    // The first PING after the restart fails on the dropped connection; poll until the
    // readyz connection has been refused by the new password, then look at the answer.
    wait_until_async("a readyz connection refused by the changed password", DEADLINE, || async {
        let _ = readyz(&serve.base).await;
        let log = serve.log();
        log.lines().any(|l| l.contains("cannot connect to redis") && l.contains("AuthenticationFailed")).then_some(())
    })
    .await;
    let (status, body) = readyz(&serve.base).await.expect("/readyz answers");
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json, serde_json::json!({ "error": "redis unavailable" }));
    for word in [RIGHT, CHANGED, "auth", "Auth", "AUTH"] {
        assert!(!body.contains(word), "the body says {word:?}: {body}");
    }

    redis.restart_with_password(Some(RIGHT));
    wait_until_async("/readyz 200 with the right password back", DEADLINE, || async {
        readyz(&serve.base).await.and_then(|(status, _)| (status == 200).then_some(()))
    })
    .await;

    let log = stop(serve, Signal::SIGTERM);
    assert!(!log.contains(RIGHT) && !log.contains(CHANGED), "a password is in the log:\n{log}");
    assert!(log.contains("readyz: redis PING failed"), "{log}");
}
