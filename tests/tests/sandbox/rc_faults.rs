//! Fault injection on the RingCentral stand-in: forced statuses arrive in the configured
//! order in RingCentral's own error bodies, then requests pass; a 429 storm answers every
//! matching call with CMN-301 and `Retry-After`; added latency delays the answer.

use std::time::{Duration, Instant};

use crate::rc_support::{error_code, RcClient};
use reqwest::Method;
use serde_json::json;
use snapsync_tests::start_sandbox;

const ACCOUNT: &str = "/restapi/v1.0/account/~";

#[tokio::test]
async fn forced_statuses_come_in_order_then_requests_pass() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let (status, _) = api
        .control(
            Method::POST,
            "/sandbox/faults",
            json!({ "route": "GET /restapi/v1.0/account/*", "statuses": [500, 429, 503], "retry_after": 2 }),
        )
        .await;
    assert_eq!(status, 201);

    let mut seen = Vec::new();
    for _ in 0..4 {
        let resp =
            api.http.get(format!("{}{ACCOUNT}", api.base)).bearer_auth(&api.token).send().await.expect("GET account");
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap_or("").to_string());
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        seen.push((status, error_code(&body).to_string(), retry_after));
    }
    assert_eq!(
        seen,
        vec![
            (500, "CMN-201".to_string(), None),
            (429, "CMN-301".to_string(), Some("2".to_string())),
            (503, "CMN-201".to_string(), Some("2".to_string())),
            (200, String::new(), None),
        ]
    );
    // Other routes were never affected.
    let (status, _) = api.get("/restapi/v1.0/account/~/sites").await;
    assert_eq!(status, 200);

    let (_, listed) = api.control(Method::GET, "/sandbox/faults", json!(null)).await;
    assert_eq!(listed["rules"][0]["hits"], 4);
    assert_eq!(listed["rules"][0]["statuses_left"], 0);
}

#[tokio::test]
async fn storm_latency_and_bad_rules() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let (status, _) = api
        .control(Method::POST, "/sandbox/faults", json!({ "route": "/restapi/v1.0/account/*/sites", "storm_secs": 30 }))
        .await;
    assert_eq!(status, 201);
    for _ in 0..3 {
        let (status, body) = api.get("/restapi/v1.0/account/~/sites").await;
        assert_eq!((status, error_code(&body)), (429, "CMN-301"));
    }
    assert_eq!(api.control(Method::DELETE, "/sandbox/faults", json!(null)).await.0, 204);
    assert_eq!(api.get("/restapi/v1.0/account/~/sites").await.0, 200);

    api.control(Method::POST, "/sandbox/faults", json!({ "route": "GET /restapi/v1.0/account/~", "latency_ms": 300 }))
        .await;
    let started = Instant::now();
    assert_eq!(api.get(ACCOUNT).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "latency not added: {:?}", started.elapsed());

    let (status, body) =
        api.control(Method::POST, "/sandbox/faults", json!({ "route": "/x", "error_rate": 1.5 })).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap_or("").contains("error_rate"), "{body}");
    let (status, _) = api.control(Method::POST, "/sandbox/faults", json!({ "nope": 1 })).await;
    assert_eq!(status, 400);
}
