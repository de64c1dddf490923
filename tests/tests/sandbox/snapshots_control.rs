//! The Snapshots stand-in's `/sandbox/` control API over real HTTP: rate-limit
//! configuration, injected faults, reset, stats and idempotency expiry.

use std::time::Duration;

use crate::snapshots_support::{send, Snap};
use reqwest::Method;
use serde_json::json;
use snapsync_tests::wait_until_async;

#[tokio::test]
async fn a_low_rate_limit_gives_429_with_retry_after_until_the_window_turns() {
    let s = Snap::start().await;
    let cfg = s.control(Method::PUT, "/sandbox/config", Some(json!({"rate_limit": 3, "window_secs": 60}))).await;
    assert_eq!(cfg.status, 200);
    assert_eq!(cfg.body, json!({"rate_limit": 3, "window_secs": 60, "idempotency_ttl_secs": 86400}));
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = s.get("/locations").await;
        assert_eq!(r.status, 200);
        remaining.push(r.num_header("x-ratelimit-remaining"));
    }
    assert_eq!(remaining, [2, 1, 0]);
    let limited = s.get("/locations").await;
    assert_eq!((limited.status, limited.code()), (429, "rate_limited"));
    assert!((1..=60).contains(&limited.num_header("retry-after")));
    assert_eq!(limited.num_header("x-ratelimit-limit"), 3);
    assert_eq!(limited.num_header("x-ratelimit-remaining"), 0);
    assert!(limited.header("x-request-id").is_some());
    // The control API is not limited, and a wrong key still gets 401, not 429.
    assert_eq!(s.control(Method::GET, "/sandbox/records", None).await.status, 200);
    assert_eq!(send(s.bare(Method::GET, "/locations").bearer_auth("nope")).await.status, 401);
    s.control(Method::PUT, "/sandbox/config", Some(json!({"window_secs": 1}))).await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(s.get("/locations").await.status);
        if statuses.last() == Some(&429) {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "the limit of 3 survives a window change: {statuses:?}");
    wait_until_async("a fresh 1 s window", Duration::from_secs(5), || async {
        (s.get("/locations").await.status == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn bad_config_is_refused() {
    let s = Snap::start().await;
    for body in
        [json!({"rate_limit": 0}), json!({"window_secs": 0}), json!({"rate_limit": "many"}), json!({"burst": 5})]
    {
        let r = s.control(Method::PUT, "/sandbox/config", Some(body.clone())).await;
        assert_eq!((r.status, r.code()), (400, "bad_request"), "{body}");
    }
    let cfg = s.control(Method::GET, "/sandbox/config", None).await.body;
    assert_eq!(cfg["rate_limit"], 6000);
    assert_eq!(cfg["window_secs"], 60);
}

#[tokio::test]
async fn injected_faults_come_in_order_in_snapshots_shape_then_requests_pass() {
    let s = Snap::start().await;
    let rule = json!({"route": "POST /leads", "statuses": [500, 429, 503], "retry_after": 2});
    assert_eq!(s.control(Method::POST, "/sandbox/faults", Some(rule)).await.status, 201);
    let attempt =
        || send(s.req(Method::POST, "/leads").header("idempotency-key", "try-1").json(&json!({"name": "Gil"})));
    let (a, b, c, d) = (attempt().await, attempt().await, attempt().await, attempt().await);
    assert_eq!((a.status, a.code()), (500, "unavailable"));
    assert_eq!((b.status, b.code(), b.header("retry-after")), (429, "rate_limited", Some("2")));
    assert_eq!((c.status, c.code(), c.header("retry-after")), (503, "unavailable", Some("2")));
    for r in [&a, &b, &c] {
        assert!(r.header("x-request-id").is_some() && r.header("x-ratelimit-limit").is_some(), "{r:?}");
    }
    assert_eq!(d.status, 201, "the sequence is used up: {d:?}");
    assert!(d.header("idempotent-replayed").is_none(), "faulted attempts are not remembered");
    assert_eq!(s.records().await["leads"].as_array().unwrap().len(), 1);
    // Other routes were never faulted.
    assert_eq!(s.get("/leads").await.status, 200);
    let rules = s.control(Method::GET, "/sandbox/faults", None).await.body;
    assert_eq!(rules["rules"][0]["statuses_left"], 0);
}

#[tokio::test]
async fn reset_empties_collections_owners_and_idempotency_memory() {
    let s = Snap::start().await;
    let loc = s.create("/locations", json!({"name": "HQ", "external_id": "ringcentral:site:1"})).await;
    s.create("/accounts", json!({"company_name": "Acme"})).await;
    let keyed = || send(s.req(Method::POST, "/leads").header("idempotency-key", "k").json(&json!({"name": "Hal"})));
    let first = keyed().await;
    s.create(
        "/activities",
        json!({"type": "call", "lead_id": first.body["lead_id"], "location_id": loc["location_id"]}),
    )
    .await;
    s.control(Method::PUT, "/sandbox/owners/own_01", Some(json!({"active": false}))).await;
    let reset = s.control(Method::POST, "/sandbox/reset", None).await;
    assert_eq!(reset.status, 204);
    let dump = s.records().await;
    for c in ["locations", "accounts", "leads", "activities"] {
        assert_eq!(dump[c], json!([]), "{c} after reset");
    }
    let owners = dump["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 6);
    assert_eq!(owners.iter().filter(|o| o["active"] == false).count(), 1, "only own_06 is inactive again");
    let after = keyed().await;
    assert_eq!(after.status, 201);
    assert!(after.header("idempotent-replayed").is_none(), "idempotency keys are forgotten");
    assert_ne!(after.body["lead_id"], first.body["lead_id"], "ids are not reused after a reset");
    s.create("/locations", json!({"name": "HQ", "external_id": "ringcentral:site:1"})).await;
    assert_eq!(s.stats().await["writes"]["creates"], 2, "stats start again at reset");
}

#[tokio::test]
async fn stats_count_requests_and_writes_so_a_second_sync_can_prove_it_wrote_nothing() {
    let s = Snap::start().await;
    let a = s.create("/locations", json!({"name": "A", "external_id": "ringcentral:site:1"})).await;
    s.create("/locations", json!({"name": "B", "external_id": "ringcentral:site:2"})).await;
    let path = format!("/locations/{}", a["location_id"].as_str().unwrap());
    assert_eq!(s.patch(&path, json!({"city": "Lyon"})).await.status, 200);
    assert_eq!(s.patch(&path, json!({"city": "Lyon"})).await.status, 200);
    assert_eq!(send(s.req(Method::DELETE, &path)).await.status, 204);
    assert_eq!(s.post("/locations", json!({"name": "B", "external_id": "ringcentral:site:2"})).await.status, 409);
    let before = s.stats().await;
    let w = &before["writes"];
    assert_eq!((w["creates"].as_u64(), w["updates"].as_u64(), w["deletes"].as_u64()), (Some(2), Some(1), Some(1)));
    assert_eq!((w["total"].as_u64(), w["unchanged"].as_u64()), (Some(4), Some(1)));
    assert_eq!(w["by_collection"]["locations"]["creates"], 2);
    assert_eq!(before["requests"]["POST /locations"], 3);
    assert_eq!(before["requests"]["PATCH /locations"], 2);
    assert_eq!(before["responses"]["409"], 1);
    // "A second sync": reads and an unchanged PATCH only.
    s.get("/locations?external_id=ringcentral:site:2").await;
    let b = s.get("/locations").await.body["data"][0]["location_id"].as_str().unwrap().to_string();
    s.patch(&format!("/locations/{b}"), json!({"name": "B"})).await;
    let after = s.stats().await;
    assert_eq!(after["writes"]["total"], before["writes"]["total"]);
    assert_eq!(after["requests"]["GET /locations"], 2);
    assert_eq!(after["writes"]["unchanged"], 2);
}

#[tokio::test]
async fn idempotency_keys_expire_after_the_configured_ttl() {
    let s = Snap::start().await;
    let cfg = s.control(Method::PUT, "/sandbox/config", Some(json!({"idempotency_ttl_secs": 0}))).await;
    assert_eq!(cfg.body["idempotency_ttl_secs"], 0);
    let post =
        || send(s.req(Method::POST, "/activities").header("idempotency-key", "k").json(&json!({"type": "call"})));
    let (first, second) = (post().await, post().await);
    assert_eq!((first.status, second.status), (201, 201));
    assert!(second.header("idempotent-replayed").is_none());
    assert_ne!(first.body["activity_id"], second.body["activity_id"]);
    assert_eq!(s.records().await["activities"].as_array().unwrap().len(), 2);
}
