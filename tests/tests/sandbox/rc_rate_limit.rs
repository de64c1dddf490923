//! The RingCentral stand-in's rate limits over real HTTP: Light allows 50 calls per window
//! then answers 429 CMN-301 with `Retry-After`; a call during the penalty restarts it (the
//! "429 trap"); groups are independent; every answer carries `X-Rate-Limit-*`.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use snapsync_tests::{rc_token, start_sandbox, start_sandbox_with, wait_until_async, Sandbox};

const LIGHT: &str = "/restapi/v1.0/account/~";

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

async fn get(sb: &Sandbox, token: &str, path: &str) -> Answer {
    let resp =
        reqwest::Client::new().get(format!("{}{path}", sb.rc_url())).bearer_auth(token).send().await.expect("GET");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Answer { status, headers, body: resp.json().await.expect("JSON body") }
}

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("{name} missing on {}", a.status))
}

fn retry_after(a: &Answer) -> u64 {
    header(a, "retry-after").parse().expect("Retry-After is whole seconds")
}

/// Waits (without calling the server, which would restart a penalty) until `at`.
async fn wait_for_clock(at: Instant) {
    wait_until_async("the clock", Duration::from_secs(120), || async { (Instant::now() >= at).then_some(()) }).await;
}

/// Uses up the Light budget; returns the first 429 and when it arrived.
async fn exhaust_light(sb: &Sandbox, token: &str, window_secs: u64) -> (Answer, Instant) {
    for i in 0..50u32 {
        let a = get(sb, token, LIGHT).await;
        assert_eq!(a.status, 200, "call {} of 50: {}", i + 1, a.body);
        assert_eq!(header(&a, "x-rate-limit-group"), "light");
        assert_eq!(header(&a, "x-rate-limit-limit"), "50");
        assert_eq!(header(&a, "x-rate-limit-remaining"), (49 - i).to_string());
        assert_eq!(header(&a, "x-rate-limit-window"), window_secs.to_string());
    }
    let a = get(sb, token, LIGHT).await;
    let at = Instant::now();
    assert_eq!(a.status, 429, "the 51st Light call in a window is refused");
    (a, at)
}

#[tokio::test]
async fn fifty_first_light_call_gets_429_and_other_groups_still_work() {
    let sb = start_sandbox().await;
    let token = rc_token(&sb).await;
    let (limited, _) = exhaust_light(&sb, &token, 60).await;
    assert_eq!(
        limited.body,
        json!({"errorCode": "CMN-301", "message": "Request rate exceeded",
               "errors": [{"errorCode": "CMN-301", "message": "Request rate exceeded"}]})
    );
    assert_eq!(retry_after(&limited), 60);
    assert_eq!(header(&limited, "x-rate-limit-group"), "light");
    assert_eq!(header(&limited, "x-rate-limit-remaining"), "0");
    // The Auth group has its own budget: logging in again works while Light is locked.
    let other = rc_token(&sb).await;
    assert_eq!(get(&sb, &other, LIGHT).await.status, 429, "the limit is per user and app, not per token");
    sb.stop().await;
}

#[tokio::test]
async fn a_call_during_the_penalty_restarts_it() {
    let window = Duration::from_secs(3);
    let sb = start_sandbox_with(window, None).await;
    let token = rc_token(&sb).await;
    let (limited, t0) = exhaust_light(&sb, &token, 3).await;
    assert_eq!(retry_after(&limited), 3);
    // Halfway through the penalty: refused, and the penalty starts over.
    wait_for_clock(t0 + window / 2).await;
    let mid = get(&sb, &token, LIGHT).await;
    assert_eq!((mid.status, retry_after(&mid)), (429, 3));
    // After the original penalty would have ended, the restarted one still holds.
    wait_for_clock(t0 + window + Duration::from_millis(500)).await;
    let late = get(&sb, &token, LIGHT).await;
    assert_eq!(late.status, 429, "penalty restarted by the call at {:?}", window / 2);
    let late_at = Instant::now();
    // Waiting out Retry-After without calling ends it; the window is fresh again.
    wait_for_clock(late_at + Duration::from_secs(retry_after(&late))).await;
    let after = get(&sb, &token, LIGHT).await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(header(&after, "x-rate-limit-remaining"), "49");
    sb.stop().await;
}

#[tokio::test]
async fn auth_group_allows_five_token_requests_per_window() {
    let sb = start_sandbox().await;
    let c = sb.credentials().clone();
    let http = reqwest::Client::new();
    let login = || {
        http.post(format!("{}/restapi/oauth/token", sb.rc_url()))
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", c.jwt.as_str())])
            .send()
    };
    let mut token = String::new();
    for i in 0..5u32 {
        let resp = login().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-rate-limit-remaining"], (4 - i).to_string().as_str());
        token = resp.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    }
    let resp = login().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "60");
    assert_eq!(resp.headers()["x-rate-limit-group"], "auth");
    assert_eq!(resp.json::<Value>().await.unwrap()["errors"][0]["errorCode"], "CMN-301");
    // Light is independent of Auth.
    assert_eq!(get(&sb, &token, LIGHT).await.status, 200);
    sb.stop().await;
}

#[tokio::test]
async fn rate_headers_are_on_error_answers_too() {
    let sb = start_sandbox().await;
    let token = rc_token(&sb).await;
    let missing = get(&sb, &token, "/restapi/v1.0/account/999").await;
    assert_eq!(missing.status, 404);
    assert_eq!(header(&missing, "x-rate-limit-group"), "light");
    assert_eq!(header(&missing, "x-rate-limit-remaining"), "49", "a 404 still counts");
    assert_eq!(header(&missing, "x-rate-limit-window"), "60");
    sb.stop().await;
}
