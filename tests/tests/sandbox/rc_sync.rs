//! Address-book sync over real HTTP: FSync pages through a book by `nextPageId`; changes
//! made through the `/sandbox/` control API come back from ISync exactly once (deletions
//! with `availability: "Deleted"`); bad and stale sync tokens are a 400 that sends the
//! client back to FSync.
//!
//! Sync is in the Heavy group (10 calls per window): each test stays under that.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use snapsync_tests::{rc_token, start_sandbox, Sandbox};

async fn get(sandbox: &Sandbox, token: &str, path: &str) -> (u16, Value) {
    let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", sandbox.rc_url()) };
    let resp = reqwest::Client::new().get(url).bearer_auth(token).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

async fn control(sandbox: &Sandbox, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", sandbox.rc_url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control request");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.expect("JSON body")
}

/// FSync of one extension's book, following `nextPageId`; returns records, pages, token.
async fn full_sync(sandbox: &Sandbox, token: &str, ext: &str, per_page: usize) -> (Vec<Value>, usize, String) {
    let base = format!("/restapi/v1.0/account/~/extension/{ext}/address-book-sync");
    let (mut records, mut pages) = (Vec::new(), 0);
    let mut url = format!("{base}?syncType=FSync&perPage={per_page}");
    loop {
        let (s, b) = get(sandbox, token, &url).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["syncInfo"]["syncType"], "FSync");
        assert!(b["syncInfo"]["syncTime"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(b["syncInfo"]["olderRecordsExist"], false);
        records.extend(b["records"].as_array().expect("records").iter().cloned());
        pages += 1;
        match b["nextPageId"].as_u64() {
            Some(id) => {
                assert!(b["nextPageUri"].as_str().is_some_and(|u| u.contains(&format!("pageId={id}"))));
                url = format!("{base}?syncType=FSync&pageId={id}&perPage={per_page}");
            }
            None => return (records, pages, b["syncInfo"]["syncToken"].as_str().expect("syncToken").to_string()),
        }
    }
}

fn by_id(records: &[Value]) -> BTreeMap<u64, Value> {
    records.iter().map(|r| (r["id"].as_u64().expect("id"), r.clone())).collect()
}

fn assert_bad_param(status: u16, body: &Value, param: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["errorCode"], "CMN-101", "{body}");
    assert_eq!(body["errors"][0]["parameterName"], param, "{body}");
}

#[tokio::test]
async fn fsync_then_isync_returns_exactly_the_changes() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let (records, pages, sync_token) = full_sync(&sandbox, &token, "400000102", 25).await;
    assert_eq!((records.len(), pages), (60, 3));
    let fixture = by_id(&records);
    assert_eq!(fixture.len(), 60, "no contact twice");
    assert!(records.iter().all(|r| r["availability"] == "Alive"));
    let (first, second) = (500000081u64, 500000082u64);
    assert!(fixture.contains_key(&first) && fixture.contains_key(&second));

    let post = reqwest::Method::POST;
    let ext = "/sandbox/extensions/400000102/contacts";
    let a = control(&sandbox, post.clone(), ext, Some(json!({"firstName": "Ann", "email": "ann@x.example.com"}))).await;
    let b = control(&sandbox, post.clone(), ext, Some(json!({"lastName": "Bo"}))).await;
    let gone = control(&sandbox, post.clone(), ext, Some(json!({"firstName": "Brief"}))).await;
    let gone_id = gone["id"].as_u64().expect("id");
    control(&sandbox, reqwest::Method::DELETE, &format!("{ext}/{gone_id}"), None).await;
    let patch = reqwest::Method::PATCH;
    control(&sandbox, patch.clone(), &format!("{ext}/{first}"), Some(json!({"jobTitle": "CEO"}))).await;
    control(&sandbox, patch.clone(), &format!("{ext}/{first}"), Some(json!({"notes": "twice"}))).await;
    control(&sandbox, reqwest::Method::DELETE, &format!("{ext}/{second}"), None).await;
    // A change in another extension's book is not this book's change.
    control(&sandbox, patch, "/sandbox/extensions/400000101/contacts/500000001", Some(json!({"notes": "x"}))).await;

    let isync =
        format!("/restapi/v1.0/account/~/extension/400000102/address-book-sync?syncType=ISync&syncToken={sync_token}");
    let (s, body) = get(&sandbox, &token, &isync).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["syncInfo"]["syncType"], "ISync");
    assert!(body.get("nextPageId").is_none());
    let changes = by_id(body["records"].as_array().expect("records"));
    let want: Vec<u64> = vec![first, second, a["id"].as_u64().unwrap_or(0), b["id"].as_u64().unwrap_or(0), gone_id];
    let mut want_sorted = want.clone();
    want_sorted.sort_unstable();
    assert_eq!(changes.keys().copied().collect::<Vec<_>>(), want_sorted, "exactly the changes, each once");
    assert_eq!(changes[&first]["jobTitle"], "CEO");
    assert_eq!(changes[&first]["notes"], "twice");
    assert_eq!(changes[&first]["availability"], "Alive");
    assert_eq!(changes[&second]["availability"], "Deleted");
    assert_eq!(changes[&gone_id]["availability"], "Deleted");
    assert_eq!(changes[&a["id"].as_u64().unwrap_or(0)]["email"], "ann@x.example.com");

    let next_token = body["syncInfo"]["syncToken"].as_str().expect("syncToken");
    assert_ne!(next_token, sync_token);
    let again =
        format!("/restapi/v1.0/account/~/extension/400000102/address-book-sync?syncType=ISync&syncToken={next_token}");
    let (s, body) = get(&sandbox, &token, &again).await;
    assert_eq!(s, 200);
    assert_eq!(body["records"], json!([]), "nothing changed since");
    assert_eq!(body["syncInfo"]["syncToken"], next_token);

    let bad = "/restapi/v1.0/account/~/extension/400000102/address-book-sync?syncType=ISync&syncToken=bm90LWEtdG9rZW4";
    let (s, b) = get(&sandbox, &token, bad).await;
    assert_bad_param(s, &b, "syncToken");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book-sync?syncType=Partial").await;
    assert_bad_param(s, &b, "syncType");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book-sync?perPage=251").await;
    assert_bad_param(s, &b, "perPage");
    sandbox.stop().await;
}

#[tokio::test]
async fn isync_pages_and_stale_tokens() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let (records, pages, sync_token) = full_sync(&sandbox, &token, "400000103", 250).await;
    assert_eq!((records.len(), pages), (40, 1), "default perPage holds the whole book");
    let changed: Vec<u64> = records.iter().take(5).map(|r| r["id"].as_u64().unwrap_or(0)).collect();
    for id in &changed {
        let path = format!("/sandbox/extensions/400000103/contacts/{id}");
        control(&sandbox, reqwest::Method::PATCH, &path, Some(json!({"company": "Renamed Ltd"}))).await;
    }
    let base = "/restapi/v1.0/account/~/extension/400000103/address-book-sync";
    let mut url = format!("{base}?syncType=ISync&perPage=2&syncToken={sync_token}");
    let (mut seen, mut pages) = (Vec::new(), 0);
    let mut last_token: String;
    loop {
        let (s, b) = get(&sandbox, &token, &url).await;
        assert_eq!(s, 200, "{b}");
        pages += 1;
        seen.extend(b["records"].as_array().expect("records").iter().map(|r| r["id"].as_u64().unwrap_or(0)));
        last_token = b["syncInfo"]["syncToken"].as_str().unwrap_or("").to_string();
        match b["nextPageUri"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!((seen.clone(), pages), (changed, 3), "perPage limits each ISync page; change order kept");

    // The token of another extension's book, a token from before a reset, and an unknown
    // page id are all refused.
    let other =
        format!("/restapi/v1.0/account/~/extension/400000101/address-book-sync?syncType=ISync&syncToken={last_token}");
    let (s, b) = get(&sandbox, &token, &other).await;
    assert_bad_param(s, &b, "syncToken");
    control(&sandbox, reqwest::Method::POST, "/sandbox/extensions/400000103/address-book-sync/reset", None).await;
    let (s, b) = get(&sandbox, &token, &format!("{base}?syncType=ISync&syncToken={last_token}")).await;
    assert_bad_param(s, &b, "syncToken");
    let (s, b) = get(&sandbox, &token, &format!("{base}?syncType=FSync&pageId=987654")).await;
    assert_bad_param(s, &b, "pageId");
    let (s, b) = get(&sandbox, &token, &format!("{base}?syncType=FSync&pageId=abc")).await;
    assert_bad_param(s, &b, "pageId");
    let (s, b) = get(&sandbox, &token, &format!("{base}?syncType=ISync")).await;
    assert_bad_param(s, &b, "syncToken");
    sandbox.stop().await;
}
