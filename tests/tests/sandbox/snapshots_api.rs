//! The Snapshots stand-in's API over real HTTP: the key, request ids, records and their
//! versions, external ids, `Idempotency-Key`, `If-Match`, validation and paging
//! (`docs/snapshots-api.md`).

use crate::snapshots_support::{send, Snap};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn api_key_is_required_and_every_answer_has_a_request_id() {
    let s = Snap::start().await;
    let missing = send(s.bare(Method::GET, "/locations")).await;
    let wrong = send(s.bare(Method::GET, "/locations").bearer_auth("not-the-key")).await;
    let basic = send(s.bare(Method::GET, "/locations").basic_auth(&s.key, None::<&str>)).await;
    for r in [&missing, &wrong, &basic] {
        assert_eq!((r.status, r.code()), (401, "invalid_api_key"), "{r:?}");
        assert!(r.header("x-request-id").is_some_and(|id| id.starts_with("req_")));
        assert!(r.header("x-ratelimit-limit").is_some());
    }
    let ok = s.get("/locations").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.num_header("x-ratelimit-limit"), 6000);
    assert!(ok.num_header("x-ratelimit-remaining") < 6000);
    assert!((1..=60).contains(&ok.num_header("x-ratelimit-reset")));
    assert_ne!(ok.header("x-request-id"), missing.header("x-request-id"));
    let unknown = s.get("/nope").await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    assert!(unknown.header("x-request-id").is_some());
    // Unknown paths and methods are behind the key too.
    assert_eq!(send(s.bare(Method::GET, "/nope")).await.status, 401);
    assert_eq!(send(s.bare(Method::DELETE, "/accounts/acc_1")).await.status, 401);
    let control = s.control(Method::GET, "/sandbox/records", None).await;
    assert!(control.header("x-request-id").is_some(), "control answers carry a request id too");
}

#[tokio::test]
async fn location_lifecycle_with_versions() {
    let s = Snap::start().await;
    let loc = s.create("/locations", json!({"name": "HQ", "country": "US", "tags": ["main"]})).await;
    let id = loc["location_id"].as_str().unwrap();
    assert!(id.starts_with("loc_"));
    assert_eq!(loc["version"], 1);
    let updated = loc["updated_at"].as_str().unwrap();
    assert!(updated.len() >= 20 && updated.as_bytes()[10] == b'T' && updated.ends_with('Z'), "{updated}");
    assert_eq!(loc["city"], Value::Null);
    assert_eq!(s.get(&format!("/locations/{id}")).await.body, loc);
    let gone = send(s.req(Method::DELETE, &format!("/locations/{id}"))).await;
    assert_eq!((gone.status, &gone.body), (204, &Value::Null));
    assert_eq!(s.get(&format!("/locations/{id}")).await.code(), "not_found");
    assert_eq!(send(s.req(Method::DELETE, &format!("/locations/{id}"))).await.status, 404);
    assert_eq!(s.records().await["locations"], json!([]));
    let accounts_cannot_be_deleted = send(s.req(Method::DELETE, "/accounts/acc_1")).await;
    assert_eq!((accounts_cannot_be_deleted.status, accounts_cannot_be_deleted.code()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_creates_nothing() {
    let s = Snap::start().await;
    let post = |key: &str, body: &str| {
        s.req(Method::POST, "/leads")
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let first = send(post("k-1", r#"{"name":"Ann Lee","phone":"+14155550100"}"#)).await;
    assert_eq!(first.status, 201);
    assert!(first.header("idempotent-replayed").is_none());
    let again = send(post("k-1", r#"{ "phone": "+14155550100", "name": "Ann Lee" }"#)).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(s.records().await["leads"].as_array().unwrap().len(), 1);
    let reused = send(post("k-1", r#"{"name":"Bob"}"#)).await;
    assert_eq!((reused.status, reused.code()), (422, "idempotency_key_reused"));
    let too_long = send(post(&"k".repeat(256), r#"{"name":"Cy"}"#)).await;
    assert_eq!((too_long.status, too_long.code()), (400, "bad_request"));
    assert!(send(post(&"k".repeat(255), r#"{"name":"Cy"}"#)).await.status == 201);
    // An error answer is remembered too: the same bad request replays its 422.
    let bad = send(post("k-2", r#"{"name":"Di","phone":"12"}"#)).await;
    let bad_again = send(post("k-2", r#"{"name":"Di","phone":"12"}"#)).await;
    assert_eq!((bad.status, bad_again.status, bad_again.header("idempotent-replayed")), (422, 422, Some("true")));
    let leads = s.records().await["leads"].as_array().unwrap().len();
    assert_eq!(leads, 2);
    let stats = s.stats().await;
    assert_eq!((stats["writes"]["creates"].as_u64(), stats["replays"].as_u64()), (Some(2), Some(2)));
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_once() {
    let s = Snap::start().await;
    let tries = (0..8)
        .map(|_| send(s.req(Method::POST, "/leads").header("idempotency-key", "race").json(&json!({"name": "Eve"}))));
    let answers = futures_join(tries).await;
    let ids: Vec<_> = answers.iter().map(|r| r.body["lead_id"].clone()).collect();
    assert!(answers.iter().all(|r| r.status == 201), "{answers:?}");
    assert!(ids.iter().all(|id| id == &ids[0]));
    assert_eq!(answers.iter().filter(|r| r.header("idempotent-replayed").is_some()).count(), 7);
    assert_eq!(s.records().await["leads"].as_array().unwrap().len(), 1);
}

async fn futures_join<F: std::future::Future<Output = crate::snapshots_support::Resp> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<crate::snapshots_support::Resp> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("request task"));
    }
    out
}

#[tokio::test]
async fn existing_external_id_is_a_conflict_naming_the_holder() {
    let s = Snap::start().await;
    let ext = "ringcentral:site:1234";
    let first = s.create("/locations", json!({"name": "Main", "external_id": ext})).await;
    let dup = s.post("/locations", json!({"name": "Main again", "external_id": ext})).await;
    assert_eq!((dup.status, dup.code()), (409, "conflict"));
    assert_eq!(dup.body["error"]["existing_id"], first["location_id"]);
    // External ids are unique per collection, not across them.
    s.create("/accounts", json!({"company_name": "Acme", "external_id": ext})).await;
    let other = s.create("/locations", json!({"name": "Branch", "external_id": "ringcentral:site:9"})).await;
    let steal =
        s.patch(&format!("/locations/{}", other["location_id"].as_str().unwrap()), json!({"external_id": ext})).await;
    assert_eq!((steal.status, steal.body["error"]["existing_id"].clone()), (409, first["location_id"].clone()));
    assert_eq!(s.records().await["locations"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn validation_names_the_field() {
    let s = Snap::start().await;
    let loc = s.create("/locations", json!({"name": "HQ"})).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/leads", json!({"name": "A", "phone": "555-0100"}), "phone"),
        ("/leads", json!({"name": "A", "phone": "+1234567"}), "phone"),
        ("/leads", json!({"name": "A", "favourite_colour": "red"}), "favourite_colour"),
        ("/leads", json!({"name": "A", "lead_id": "lead_x"}), "lead_id"),
        ("/leads", json!({"name": "A", "version": 3}), "version"),
        ("/leads", json!({"phone": "+14155550100"}), "name"),
        ("/leads", json!({"name": "   "}), "name"),
        ("/leads", json!({"name": "x".repeat(201)}), "name"),
        ("/leads", json!({"name": "A", "company": "x".repeat(2001)}), "company"),
        ("/leads", json!({"name": "A", "email": "a@b@c"}), "email"),
        ("/leads", json!({"name": "A", "status": "won"}), "status"),
        ("/leads", json!({"name": "A", "owner": "own_99"}), "owner"),
        ("/leads", json!({"name": "A", "owner": "own_06"}), "owner"),
        ("/leads", json!({"name": "A", "location_id": "loc_missing"}), "location_id"),
        ("/leads", json!({"name": "A", "tags": "vip"}), "tags"),
        ("/leads", json!({"name": 7}), "name"),
        ("/locations", json!({"name": "B", "country": "usa"}), "country"),
        ("/accounts", json!({"name": "Acme"}), "name"),
        ("/accounts", json!({"company_name": "Acme", "primary_contact": {"phone": "0"}}), "primary_contact.phone"),
        ("/activities", json!({"type": "meeting"}), "type"),
        ("/activities", json!({"type": "call", "lead_id": "lead_missing"}), "lead_id"),
        ("/activities", json!({"type": "call", "occurred_at": "last tuesday"}), "occurred_at"),
        ("/activities", json!({"type": "call", "details": [1]}), "details"),
    ];
    for (path, body, field) in cases {
        let r = s.post(path, body.clone()).await;
        assert_eq!((r.status, r.code(), r.field()), (422, "validation_failed", field), "POST {path} {body}: {r:?}");
    }
    let lead = s
        .create(
            "/leads",
            json!({"name": "Ok", "owner": "own_01", "location_id": loc["location_id"], "phone": "+441632960961"}),
        )
        .await;
    assert_eq!((lead["status"].as_str(), lead["tags"].clone()), (Some("new"), json!([])));
    let act = s
        .create(
            "/activities",
            json!({"type": "follow_up", "lead_id": lead["lead_id"], "due_at": "2026-12-01T09:00:00Z"}),
        )
        .await;
    assert!(act["activity_id"].as_str().unwrap().starts_with("act_"));
    let recs = s.records().await;
    assert_eq!((recs["leads"].as_array().unwrap().len(), recs["accounts"].as_array().unwrap().len()), (1, 0));
}

#[tokio::test]
async fn unreadable_bodies_are_bad_requests() {
    let s = Snap::start().await;
    let raw = |body: Vec<u8>| s.req(Method::POST, "/locations").header("content-type", "application/json").body(body);
    for body in [b"{\"name\": ".to_vec(), b"[1,2]".to_vec(), Vec::new(), vec![b'x'; 3 * 1024 * 1024]] {
        let r = send(raw(body)).await;
        assert_eq!((r.status, r.code()), (400, "bad_request"), "{r:?}");
    }
    let loc = s.create("/locations", json!({"name": "HQ"})).await;
    let path = format!("/locations/{}", loc["location_id"].as_str().unwrap());
    let r = send(s.req(Method::PATCH, &path).body("nope")).await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    let r = send(s.req(Method::PATCH, &path).header("if-match", "abc").json(&json!({}))).await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    assert_eq!(s.records().await["locations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn patch_changes_only_what_is_sent_and_honours_if_match() {
    let s = Snap::start().await;
    let acc = s.create("/accounts", json!({"company_name": "Acme", "email": "hi@acme.test", "country": "DE"})).await;
    let path = format!("/accounts/{}", acc["account_id"].as_str().unwrap());
    let stale = send(s.req(Method::PATCH, &path).header("if-match", "0").json(&json!({"city": "Berlin"}))).await;
    assert_eq!((stale.status, stale.code()), (412, "version_mismatch"));
    let ok = send(s.req(Method::PATCH, &path).header("if-match", "1").json(&json!({"city": "Berlin"}))).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!((ok.body["version"].as_i64(), ok.body["city"].as_str()), (Some(2), Some("Berlin")));
    assert_eq!((ok.body["email"].as_str(), ok.body["country"].as_str()), (Some("hi@acme.test"), Some("DE")));
    assert_ne!(ok.body["updated_at"], Value::Null);
    let again = send(s.req(Method::PATCH, &path).header("if-match", "1").json(&json!({"city": "Bonn"}))).await;
    assert_eq!(again.status, 412);
    let quoted = send(s.req(Method::PATCH, &path).header("if-match", "\"2\"").json(&json!({"email": null}))).await;
    assert_eq!((quoted.status, quoted.body["version"].as_i64()), (200, Some(3)));
    assert_eq!(quoted.body["email"], Value::Null);
    let same = s.patch(&path, json!({"city": "Berlin"})).await;
    assert_eq!((same.status, same.body["version"].as_i64()), (200, Some(3)), "an unchanged record keeps its version");
    let cleared = s.patch(&path, json!({"company_name": null})).await;
    assert_eq!((cleared.status, cleared.field()), (422, "company_name"));
    let ro = s.patch(&path, json!({"updated_at": "2020-01-01T00:00:00Z"})).await;
    assert_eq!((ro.status, ro.field()), (422, "updated_at"));
    assert_eq!(s.patch("/accounts/acc_nope", json!({"city": "X"})).await.code(), "not_found");
    assert_eq!(s.get(&path).await.body["version"], 3);
}

#[tokio::test]
async fn lists_page_and_filter_by_external_id() {
    let s = Snap::start().await;
    let mut ids = Vec::new();
    for n in 0..7 {
        let loc = s
            .create("/locations", json!({"name": format!("Site {n}"), "external_id": format!("ringcentral:site:{n}")}))
            .await;
        ids.push(loc["location_id"].clone());
    }
    let p1 = s.get("/locations?per_page=3").await.body;
    assert_eq!((p1["page"].as_u64(), p1["per_page"].as_u64(), p1["total"].as_u64()), (Some(1), Some(3), Some(7)));
    assert_eq!(p1["next_page"], 2);
    let listed: Vec<_> = p1["data"].as_array().unwrap().iter().map(|r| r["location_id"].clone()).collect();
    assert_eq!(listed, ids[..3].to_vec(), "lists keep creation order");
    let p3 = s.get("/locations?per_page=3&page=3").await.body;
    assert_eq!((p3["data"].as_array().unwrap().len(), p3["next_page"].clone()), (1, Value::Null));
    let past = s.get("/locations?page=9").await.body;
    assert_eq!((past["data"].clone(), past["total"].as_u64()), (json!([]), Some(7)));
    let one = s.get("/locations?external_id=ringcentral%3Asite%3A4").await.body;
    assert_eq!((one["total"].as_u64(), one["data"][0]["location_id"].clone()), (Some(1), ids[4].clone()));
    assert_eq!(s.get("/locations?external_id=ringcentral:site:99").await.body["total"], 0);
    for (q, field) in [("per_page=501", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"), ("page=x", "page")]
    {
        let r = s.get(&format!("/locations?{q}")).await;
        assert_eq!((r.status, r.field()), (422, field), "{q}");
    }
    assert_eq!(s.get("/locations?per_page=500").await.body["per_page"], 500);
}

#[tokio::test]
async fn owners_fixture_and_deactivation() {
    let s = Snap::start().await;
    let owners = s.get("/owners").await.body;
    let data = owners["data"].as_array().unwrap();
    let ids: Vec<_> = data.iter().map(|o| o["owner_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["own_01", "own_02", "own_03", "own_04", "own_05", "own_06"]);
    let inactive: Vec<_> = data.iter().filter(|o| o["active"] == false).map(|o| o["owner_id"].clone()).collect();
    assert_eq!(inactive, [json!("own_06")]);
    assert!(data.iter().all(|o| o["name"].is_string() && o["email"].as_str().is_some_and(|e| e.contains('@'))));
    let off = s.control(Method::PUT, "/sandbox/owners/own_02", Some(json!({"active": false}))).await;
    assert_eq!((off.status, off.body["active"].clone()), (200, json!(false)));
    let refused = s.post("/leads", json!({"name": "Fay", "owner": "own_02"})).await;
    assert_eq!((refused.status, refused.field()), (422, "owner"));
    s.control(Method::PUT, "/sandbox/owners/own_06", Some(json!({"active": true}))).await;
    s.create("/leads", json!({"name": "Fay", "owner": "own_06"})).await;
    assert_eq!(s.control(Method::PUT, "/sandbox/owners/own_77", Some(json!({"active": true}))).await.status, 404);
    let bad = s.control(Method::PUT, "/sandbox/owners/own_01", Some(json!({"active": "no"}))).await;
    assert_eq!((bad.status, bad.code()), (400, "bad_request"));
    assert_eq!(send(s.req(Method::POST, "/owners").json(&json!({"name": "X"}))).await.status, 405);
}

/// A read-only key (`PUT /sandbox/keys/{key}`): reads work, every write is 403 `forbidden`
/// before the body is validated (so an invalid write is 422 only for a key that may write);
/// removed, it is 401; bad bodies are 400.
#[tokio::test]
async fn read_only_keys_read_and_are_refused_writes_before_validation() {
    let s = Snap::start().await;
    let added = s.control(Method::PUT, "/sandbox/keys/ro-key-1", Some(json!({"access": "read"}))).await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    let ro = |m: Method, path: &str| s.http.request(m, format!("{}{path}", s.url)).bearer_auth("ro-key-1");
    assert_eq!(send(ro(Method::GET, "/owners")).await.status, 200);
    let refused = send(ro(Method::POST, "/leads").json(&json!({}))).await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    let refused = send(ro(Method::POST, "/leads").json(&json!({"external_id": "x:1", "name": "Ann"}))).await;
    assert_eq!(refused.status, 403);
    // The configured key's invalid write: 422, nothing created.
    assert_eq!(s.post("/leads", json!({})).await.status, 422);
    assert_eq!(s.records().await["leads"], json!([]));
    // Bad bodies; the configured key cannot be made read-only.
    for body in [json!({"access": "write"}), json!({"access": "read", "more": 1}), json!("read")] {
        assert_eq!(s.control(Method::PUT, "/sandbox/keys/ro-key-2", Some(body)).await.status, 400);
    }
    let own = s.key.clone();
    let path = format!("/sandbox/keys/{own}");
    assert_eq!(s.control(Method::PUT, &path, Some(json!({"access": "read"}))).await.status, 400);
    assert_eq!(s.get("/owners").await.status, 200);
    assert_eq!(s.control(Method::DELETE, "/sandbox/keys/ro-key-1", None).await.status, 204);
    assert_eq!(send(ro(Method::GET, "/owners")).await.status, 401);
}
