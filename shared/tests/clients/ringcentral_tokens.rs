//! The token pair shared through Redis: one login for many processes, one refresh after a
//! forced expiry, one refresh-and-retry on a 401, a dead refresh token → one new login,
//! proactive refresh inside the margin, and a failed login that makes everyone back off.

use crate::ringcentral_support::{start, Env, PREFIX};
use redis::AsyncCommands;
use reqwest::Method;
use serde_json::{json, Value};
use snapsync::ringcentral::{RcError, RingCentral};

const TOKEN_KEY: &str = "{t-rc}:rc:token";

async fn stored_pair(env: &Env) -> Value {
    let raw: String = env.conn().await.get(TOKEN_KEY).await.expect("the token pair is stored");
    serde_json::from_str(&raw).expect("stored pair is JSON")
}

/// Three clients (three processes' worth: own client, own Redis connection) calling at once.
async fn three_at_once(clients: &[RingCentral]) {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let calls: Vec<_> = clients
        .iter()
        .cloned()
        .map(|c| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                c.account_info().await?;
                c.extension("~").await.map(|_| ())
            })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("call");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_clients_at_once_log_in_exactly_once_and_refresh_once_after_expiry() {
    let env = start().await;
    let clients = vec![env.client().await, env.client().await, env.client().await];
    three_at_once(&clients).await;
    assert_eq!(env.oauth_stats().await, (1, 0), "one login for three clients, no refresh");

    // A fourth process starting later uses the stored pair: no login.
    env.client().await.sites().await.expect("sites");
    assert_eq!(env.oauth_stats().await, (1, 0));

    // Forced expiry: every call 401s; exactly one of them refreshes, the others re-read.
    let before = stored_pair(&env).await;
    env.expire_tokens().await;
    three_at_once(&clients).await;
    assert_eq!(env.oauth_stats().await, (1, 1), "one refresh after a forced expiry, no new login");
    let after = stored_pair(&env).await;
    assert_ne!(before["access_token"], after["access_token"], "the new pair is stored");
}

#[tokio::test]
async fn a_401_triggers_one_refresh_and_the_call_succeeds() {
    let env = start().await;
    let rc = env.client().await;
    rc.account_info().await.expect("first call logs in");
    env.expire_tokens().await;
    let info = rc.account_info().await.expect("the call after expiry is retried once and succeeds");
    assert_eq!(info.id, "400000001");
    assert_eq!(env.oauth_stats().await, (1, 1));
}

#[tokio::test]
async fn a_dead_refresh_token_leads_to_one_new_login() {
    let env = start().await;
    let rc = env.client().await;
    rc.account_info().await.expect("login");
    // Revoke the session behind the stored pair: access and refresh token both die.
    let pair = stored_pair(&env).await;
    let creds = env.sandbox.credentials();
    let resp = env
        .http
        .post(format!("{}/restapi/oauth/revoke", env.sandbox.rc_url()))
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .form(&[("token", pair["access_token"].as_str().expect("access token"))])
        .send()
        .await
        .expect("revoke");
    assert!(resp.status().is_success());
    let info = rc.account_info().await.expect("401 → refresh rejected (OAU-213) → login → retry");
    assert_eq!(info.id, "400000001");
    assert_eq!(env.oauth_stats().await.0, 2, "exactly one new login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pair_inside_the_refresh_margin_is_refreshed_once_before_use() {
    let env = start().await;
    let clients = vec![env.client().await, env.client().await, env.client().await];
    clients[0].account_info().await.expect("login");
    // Pretend the access token has 30 s left (margin: at least 60 s).
    let mut pair = stored_pair(&env).await;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    pair["access_expires_at_ms"] = json!(now_ms + 30_000);
    let _: () = env.conn().await.set(TOKEN_KEY, pair.to_string()).await.expect("rewrite pair");
    three_at_once(&clients).await;
    assert_eq!(env.oauth_stats().await, (1, 1), "three clients refreshed once between them, before any 401");
    let after = stored_pair(&env).await;
    assert_ne!(after["access_token"], pair["access_token"]);
    assert!(after["access_expires_at_ms"].as_u64().expect("expiry") > now_ms + 500_000);
}

#[tokio::test]
async fn a_failed_login_is_permanent_secret_free_and_makes_others_back_off() {
    let env = start().await;
    let mut settings = env.settings();
    let bad_jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJub2JvZHkifQ.wrong-jwt-value";
    settings.jwt = secrecy::SecretString::from(bad_jwt);
    let rc = RingCentral::new(settings, env.conn().await, PREFIX).expect("client");
    let err = rc.account_info().await.expect_err("wrong JWT");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.error_code(), Some("OAU-140"));
    assert!(!err.is_retryable());
    for text in [err.to_string(), format!("{err:?}"), format!("{rc:?}")] {
        assert!(!text.contains("wrong-jwt-value") && !text.contains("sandbox-client-secret"), "leak in {text}");
    }
    // Another process does not try again at once: it gets the recorded backoff.
    let other = RingCentral::new(env.settings(), env.conn().await, PREFIX).expect("client");
    let err = other.account_info().await.expect_err("backing off");
    assert!(matches!(err, RcError::AuthBackoff { retryable: false, .. }), "{err:?}");
    assert!(err.retry_after().is_some());
    let stats = env.control(Method::GET, "/sandbox/oauth/stats", None).await;
    assert_eq!(stats["token_requests"], 1, "one token request in all: {stats}");
}

#[tokio::test]
async fn a_429_on_the_token_endpoint_makes_every_process_wait_its_retry_after() {
    let env = start().await;
    env.fault(json!({"route": "POST /restapi/oauth/token", "statuses": [429], "retry_after": 3})).await;
    let first = env.client().await;
    let err = first.account_info().await.expect_err("login answered 429");
    assert!(matches!(err, RcError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(3)));
    let second = env.client().await;
    let err = second.account_info().await.expect_err("backing off");
    assert!(matches!(err, RcError::AuthBackoff { retryable: true, .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.retry_after().is_some_and(|d| d <= std::time::Duration::from_secs(3) && !d.is_zero()));
    // The fault answers only the first request; a second one would have logged in.
    assert_eq!(env.oauth_stats().await, (0, 0), "no second token request during the backoff");
}

#[tokio::test]
async fn a_call_that_keeps_answering_401_is_retried_once_not_in_a_loop() {
    let env = start().await;
    let rc = env.client().await;
    rc.account_info().await.expect("login");
    env.fault(json!({"route": "GET /restapi/v1.0/account/*/sites", "statuses": [401, 401]})).await;
    // A client that retried more than once would reach the third answer, which passes.
    let err = rc.sites().await.expect_err("401, refresh, retry, 401 again: error");
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    assert_eq!(env.oauth_stats().await, (1, 1), "one refresh for the first 401, none for the second");
    assert_eq!(rc.sites().await.expect("rule used up").len(), 3);
    assert_eq!(env.oauth_stats().await, (1, 1));
}
