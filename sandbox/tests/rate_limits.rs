//! Rate-limit control and counters over real HTTP: the RingCentral stand-in's
//! `/sandbox/config` and `/sandbox/stats`, the Snapshots stand-in's `keep_window` and
//! `rate_limit` stats, and limits set through `SandboxConfig` at start. Every window here
//! is 60 s or more, so nothing depends on timing.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use snapsync_sandbox::{RcLimits, Sandbox, SandboxConfig};

const LIGHT: &str = "/restapi/v1.0/account/~";
const HEAVY: &str = "/restapi/v1.0/account/~/extension/~/address-book/contact";

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} on {}", self.status))
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("request to the sandbox");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
    Answer { status, headers, body }
}

async fn control(base: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
    let req = Client::new().request(method, format!("{base}{path}"));
    send(match body {
        Some(b) => req.json(&b),
        None => req,
    })
    .await
}

async fn rc_token(sb: &Sandbox) -> String {
    let c = sb.credentials();
    let a = send(
        Client::new()
            .post(format!("{}/restapi/oauth/token", sb.rc_url()))
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", c.jwt.as_str())]),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["access_token"].as_str().expect("access_token").to_string()
}

async fn rc_get(sb: &Sandbox, token: &str, path: &str) -> Answer {
    send(Client::new().get(format!("{}{path}", sb.rc_url())).bearer_auth(token)).await
}

#[tokio::test]
async fn rc_stats_count_every_call_and_config_changes_limits_at_once() {
    let config = SandboxConfig { rc_limits: RcLimits { light: 4, ..RcLimits::default() }, ..SandboxConfig::default() };
    let sb = Sandbox::start(config).await.expect("start the sandbox");
    let rc = sb.rc_url();
    let cfg = control(&rc, Method::GET, "/sandbox/config", None).await;
    assert_eq!(cfg.body, json!({"limits": {"light": 4, "medium": 40, "heavy": 10, "auth": 5}, "window_ms": 60000}));

    let token = rc_token(&sb).await;
    for left in (0..4).rev() {
        let a = rc_get(&sb, &token, LIGHT).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!((a.header("x-rate-limit-limit"), a.header("x-rate-limit-remaining")), ("4", &*left.to_string()));
    }
    assert_eq!(rc_get(&sb, &token, LIGHT).await.status, 429);

    let stats = control(&rc, Method::GET, "/sandbox/stats", None).await.body;
    assert_eq!(
        stats["groups"]["light"],
        json!({"requests": 5, "admitted": 4, "limited": 1, "max_in_window": 4, "limit": 4, "window_ms": 60000})
    );
    assert_eq!(stats["groups"]["auth"]["admitted"], 1, "the token request: {stats}");
    assert_eq!(stats["groups"]["heavy"]["requests"], 0);
    assert_eq!((stats["limited_total"].as_u64(), stats["requests_total"].as_u64()), (Some(1), Some(6)));
    assert_eq!(stats["window_ms"], 60000);
    let light = stats["buckets"].as_array().unwrap().iter().find(|b| b["group"] == "light").expect("light bucket");
    assert_eq!((light["client_id"].as_str(), light["user"].as_u64()), (Some("sandbox-client-id"), Some(400000101)));
    assert_eq!(light["limited"], 1);

    // Resetting the counters leaves the buckets: Light is still in its penalty.
    assert_eq!(control(&rc, Method::DELETE, "/sandbox/stats", None).await.status, 204);
    let stats = control(&rc, Method::GET, "/sandbox/stats", None).await.body;
    assert_eq!((stats["limited_total"].as_u64(), stats["buckets"].as_array().map(Vec::len)), (Some(0), Some(0)));
    assert_eq!(rc_get(&sb, &token, LIGHT).await.status, 429);
    assert_eq!(control(&rc, Method::GET, "/sandbox/stats", None).await.body["groups"]["light"]["limited"], 1);

    // Heavy at 5: three calls, then lowered to 2 — the three already in the window count.
    let put = control(&rc, Method::PUT, "/sandbox/config", Some(json!({"limits": {"heavy": 5}}))).await;
    assert_eq!((put.status, &put.body["limits"]["heavy"], &put.body["limits"]["light"]), (200, &json!(5), &json!(4)));
    for left in ["4", "3", "2"] {
        let a = rc_get(&sb, &token, HEAVY).await;
        assert_eq!((a.status, a.header("x-rate-limit-remaining")), (200, left));
    }
    let put =
        control(&rc, Method::PUT, "/sandbox/config", Some(json!({"limits": {"heavy": 2}, "window_ms": 120000}))).await;
    assert_eq!(put.body, json!({"limits": {"light": 4, "medium": 40, "heavy": 2, "auth": 5}, "window_ms": 120000}));
    let a = rc_get(&sb, &token, HEAVY).await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!((a.header("x-rate-limit-limit"), a.header("x-rate-limit-window")), ("2", "120"));
    assert_eq!(a.header("retry-after"), "120");
    let heavy = &control(&rc, Method::GET, "/sandbox/stats", None).await.body["groups"]["heavy"];
    assert_eq!(
        (heavy["admitted"].as_u64(), heavy["max_in_window"].as_u64(), heavy["limit"].as_u64()),
        (Some(3), Some(3), Some(2))
    );
    // The Medium group, untouched, follows the new window too.
    let a = rc_get(&sb, &token, "/restapi/v1.0/account/~/extension").await;
    assert_eq!((a.status, a.header("x-rate-limit-limit"), a.header("x-rate-limit-window")), (200, "40", "120"));
    sb.stop().await;
}

#[tokio::test]
async fn rc_config_refuses_bad_values_and_changes_nothing() {
    let sb = Sandbox::start(SandboxConfig::default()).await.expect("start the sandbox");
    let rc = sb.rc_url();
    for (body, names) in [
        (json!({"limits": {"light": 0}}), "limits.light"),
        (json!({"limits": {"heavy": 5, "auth": 100_001}}), "limits.auth"),
        (json!({"window_ms": 0}), "window_ms"),
        (json!({"window_ms": 86_400_001u64}), "window_ms"),
        (json!({"limits": {"light": -3}}), "invalid value"),
        (json!({"limits": {"bulk": 3}}), "unknown field"),
        (json!({"burst": 3}), "unknown field"),
        (json!([1]), "not valid"),
    ] {
        let a = control(&rc, Method::PUT, "/sandbox/config", Some(body.clone())).await;
        assert_eq!(a.status, 400, "{body}");
        let error = a.body["error"].as_str().unwrap_or_else(|| panic!("no error string for {body}: {}", a.body));
        assert!(error.contains(names), "{body}: {error}");
    }
    let cfg = control(&rc, Method::GET, "/sandbox/config", None).await.body;
    assert_eq!(cfg, json!({"limits": {"light": 50, "medium": 40, "heavy": 10, "auth": 5}, "window_ms": 60000}));
    sb.stop().await;

    let zero = SandboxConfig { rc_limits: RcLimits { heavy: 0, ..RcLimits::default() }, ..SandboxConfig::default() };
    let err = Sandbox::start(zero).await.err().expect("a zero limit is refused at start");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("heavy"), "{err}");
    let no_window = SandboxConfig { snapshots_window: Duration::ZERO, ..SandboxConfig::default() };
    assert!(Sandbox::start(no_window).await.is_err());
}

#[tokio::test]
async fn snapshots_stats_show_429s_and_the_fullest_window_and_keep_window_lowers_at_once() {
    let config = SandboxConfig { snapshots_rate_limit: 3, ..SandboxConfig::default() };
    let sb = Sandbox::start(config).await.expect("start the sandbox");
    let snap = sb.snapshots_url();
    let key = sb.credentials().snapshots_api_key.clone();
    let get = || send(Client::new().get(format!("{snap}/locations")).bearer_auth(&key));
    assert_eq!(control(&snap, Method::GET, "/sandbox/config", None).await.body["rate_limit"], 3);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get().await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let stats = control(&snap, Method::GET, "/sandbox/stats", None).await.body;
    assert_eq!(stats["rate_limit"], json!({"limit": 3, "window_ms": 60000, "limited": 1, "max_in_window": 3}));
    assert_eq!(stats["responses"]["429"], 1);

    // A plain change starts fresh windows; `keep_window` does not.
    control(&snap, Method::PUT, "/sandbox/config", Some(json!({"rate_limit": 10}))).await;
    assert_eq!(get().await.status, 200);
    assert_eq!(get().await.header("x-ratelimit-remaining"), "8");
    assert_eq!(control(&snap, Method::DELETE, "/sandbox/stats", None).await.status, 204);
    let cfg = control(&snap, Method::PUT, "/sandbox/config", Some(json!({"rate_limit": 2, "keep_window": true}))).await;
    assert_eq!(cfg.body, json!({"rate_limit": 2, "window_secs": 60, "idempotency_ttl_secs": 86400}));
    let a = get().await;
    assert_eq!((a.status, a.header("x-ratelimit-limit"), a.header("x-ratelimit-remaining")), (429, "2", "0"));
    let stats = control(&snap, Method::GET, "/sandbox/stats", None).await.body;
    assert_eq!(stats["rate_limit"], json!({"limit": 2, "window_ms": 60000, "limited": 1, "max_in_window": 0}));
    assert_eq!(stats["requests"], json!({"GET /locations": 1}), "the counters were zeroed");
    let bad = control(&snap, Method::PUT, "/sandbox/config", Some(json!({"keep_window": "yes"}))).await;
    assert_eq!(bad.status, 400);
    sb.stop().await;
}
