//! The Snapshots client against the Snapshots stand-in and a private Redis: upsert
//! (create, unchanged, update, 409 and 412 paths, stale source versions), idempotent
//! creates, error details and their classification, tag/delete/owners/activities, and
//! that the API key never shows.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{json, Map, Value};
use snapsync::errors::{classify, Classify};
use snapsync::snapshots::{
    ActivityOutcome, Collection, DeleteOutcome, SnapshotsClient, SourceVersion, TagOutcome, UpsertOutcome,
};
use snapsync_queue::{ConnOptions, RedisConn};
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::{wait_until_async, RedisServer};

const KEY: &str = "sandbox-snapshots-key";

struct Env {
    sandbox: Sandbox,
    _redis: RedisServer,
    redis: RedisConn,
    client: SnapshotsClient,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("start the sandbox");
        let redis_server = RedisServer::start();
        let redis = RedisConn::connect(&redis_server.url(), ConnOptions::default())
            .await
            .expect("connect to the private redis");
        let client = SnapshotsClient::new(&sandbox.snapshots_url(), SecretString::from(KEY), redis.clone(), "test")
            .expect("build the client");
        Env { sandbox, _redis: redis_server, redis, client, http: reqwest::Client::new() }
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.sandbox.snapshots_url()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("control request");
        assert!(resp.status().is_success(), "control {path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    async fn stats(&self) -> Value {
        self.control(reqwest::Method::GET, "/sandbox/stats", None).await
    }

    async fn fault(&self, rule: Value) {
        self.control(reqwest::Method::POST, "/sandbox/faults", Some(rule)).await;
    }

    /// A create behind the client's back, straight over HTTP.
    async fn post_direct(&self, collection: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/{collection}", self.sandbox.snapshots_url()))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("direct post");
        assert_eq!(resp.status(), 201);
        resp.json().await.expect("json")
    }
}

fn site(name: &str) -> Map<String, Value> {
    let v = json!({"name": name, "city": "San Mateo", "region": "CA", "country": "US", "tags": ["ringcentral"]});
    v.as_object().cloned().unwrap_or_default()
}

fn count(stats: &Value, path: &str) -> u64 {
    stats.pointer(path).and_then(Value::as_u64).unwrap_or(0)
}

#[tokio::test]
async fn create_then_same_record_is_unchanged_without_a_request_then_change_updates() {
    let env = Env::start().await;
    let first = env.client.upsert(Collection::Locations, "ringcentral:site:1", site("HQ"), "job-1", None).await;
    let first = first.expect("create");
    let UpsertOutcome::Created { id } = first else { panic!("expected Created, got {first:?}") };
    let before = env.stats().await;
    assert_eq!(count(&before, "/writes/total"), 1);

    let again = env.client.upsert(Collection::Locations, "ringcentral:site:1", site("HQ"), "job-2", None).await;
    assert_eq!(again.expect("unchanged"), UpsertOutcome::Unchanged { id: id.clone() });
    let after = env.stats().await;
    assert_eq!(count(&after, "/writes/total"), 1, "no write for an unchanged record");
    assert_eq!(after["requests"], before["requests"], "not even a request: the content hash matched");

    let changed = env.client.upsert(Collection::Locations, "ringcentral:site:1", site("HQ East"), "job-3", None).await;
    assert_eq!(changed.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 2 });
    let rec = env.client.get(Collection::Locations, &id).await.expect("get").expect("exists");
    assert_eq!(rec.fields["name"], "HQ East");
    assert_eq!(rec.fields["external_id"], "ringcentral:site:1");
    assert_eq!(count(&env.stats().await, "/writes/by_collection/locations/updates"), 1);
}

#[tokio::test]
async fn lost_redis_state_finds_the_record_and_a_no_op_patch_is_unchanged() {
    let env = Env::start().await;
    let out = env.client.upsert(Collection::Locations, "ringcentral:site:2", site("NY"), "job-1", None).await;
    let id = out.expect("create").id().to_string();
    let mut conn = env.redis.clone();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.expect("flush");
    let again = env.client.upsert(Collection::Locations, "ringcentral:site:2", site("NY"), "job-2", None).await;
    assert_eq!(again.expect("unchanged"), UpsertOutcome::Unchanged { id });
    let stats = env.stats().await;
    assert_eq!(count(&stats, "/writes/total"), 1, "found by external id and patched with the same values");
    assert_eq!(count(&stats, "/writes/by_collection/locations/creates"), 1, "no duplicate");
}

#[tokio::test]
async fn conflict_on_create_uses_the_existing_id() {
    let env = Env::start().await;
    // Another writer's record, which will take our external id while our POST is in flight.
    let theirs = env.post_direct("locations", json!({"name": "Theirs", "external_id": "someone-else"})).await;
    let their_id = theirs["location_id"].as_str().expect("id").to_string();
    env.fault(json!({"route": "POST /locations", "latency_ms": 1500})).await;
    let client = env.client.clone();
    let upsert = tokio::spawn(async move {
        client.upsert(Collection::Locations, "ringcentral:site:9", site("Austin"), "job-9", None).await
    });
    // The client has looked and found nothing; its POST is now held by the fault. (The
    // first POST counted is the direct create of "Theirs" above; the client's is the second.)
    wait_until_async("the client's POST to arrive", Duration::from_secs(10), || async {
        (count(&env.stats().await, "/requests/POST ~1locations") == 2).then_some(())
    })
    .await;
    let resp = env
        .http
        .patch(format!("{}/locations/{their_id}", env.sandbox.snapshots_url()))
        .bearer_auth(KEY)
        .json(&json!({"external_id": "ringcentral:site:9"}))
        .send()
        .await
        .expect("patch behind the client's back");
    assert_eq!(resp.status(), 200);
    let out = upsert.await.expect("join").expect("the 409 turns into an update");
    assert_eq!(out, UpsertOutcome::Updated { id: their_id.clone(), version: 3 });
    let stats = env.stats().await;
    assert_eq!(count(&stats, "/responses/409"), 1, "the create met the conflict");
    assert_eq!(count(&stats, "/writes/by_collection/locations/creates"), 1, "only theirs was created");
    let rec = env.client.get(Collection::Locations, &their_id).await.expect("get").expect("exists");
    assert_eq!(rec.fields["name"], "Austin");
}

#[tokio::test]
async fn precondition_failed_rereads_and_retries_once() {
    let env = Env::start().await;
    let id = env.post_direct("locations", json!({"name": "Old", "external_id": "ringcentral:site:4"})).await
        ["location_id"]
        .as_str()
        .expect("id")
        .to_string();
    env.fault(json!({"route": "PATCH /locations/*", "statuses": [412]})).await;
    let out = env.client.upsert(Collection::Locations, "ringcentral:site:4", site("New"), "job-4", None).await;
    assert_eq!(out.expect("retried after 412"), UpsertOutcome::Updated { id: id.clone(), version: 2 });
    assert_eq!(count(&env.stats().await, "/requests/PATCH ~1locations"), 2);

    // A real stale If-Match: 412 version_mismatch, retryable (another writer is busy).
    let err = env.client.patch(Collection::Locations, &id, 1, &site("Stale")).await.expect_err("stale version");
    assert_eq!((err.status(), err.code()), (Some(412), Some("version_mismatch")));
    assert!(err.classify().is_retryable());
}

#[tokio::test]
async fn idempotency_key_replay_creates_once() {
    let env = Env::start().await;
    let mut body = site("Replay");
    body.insert("external_id".into(), json!("ringcentral:site:5"));
    let a = env.client.create(Collection::Locations, &body, "job-5-create").await.expect("first");
    let b = env.client.create(Collection::Locations, &body, "job-5-create").await.expect("replayed");
    assert_eq!(a.id, b.id);
    let stats = env.stats().await;
    assert_eq!((count(&stats, "/writes/by_collection/locations/creates"), count(&stats, "/replays")), (1, 1));
    let bad = env.client.create(Collection::Locations, &body, "").await.expect_err("empty key");
    assert!(!bad.classify().is_retryable());
}

#[tokio::test]
async fn an_older_source_version_never_overwrites_a_newer_one() {
    let env = Env::start().await;
    let t = |s: &str| SourceVersion::from_timestamp(s).expect("timestamp");
    let ext = "ringcentral:contact:7";
    let lead = |name: &str| json!({"name": name}).as_object().cloned().unwrap_or_default();
    let new = env.client.upsert(Collection::Leads, ext, lead("Newer"), "j1", Some(t("2026-02-01T00:00:00Z"))).await;
    let id = new.expect("create").id().to_string();
    let old = env.client.upsert(Collection::Leads, ext, lead("Older"), "j2", Some(t("2026-01-01T00:00:00Z"))).await;
    assert_eq!(old.expect("stale"), UpsertOutcome::Stale { id: id.clone() });
    assert_eq!(count(&env.stats().await, "/writes/total"), 1, "the stale version was not written");
    let newer = env.client.upsert(Collection::Leads, ext, lead("Newest"), "j3", Some(t("2026-03-01T00:00:00Z"))).await;
    assert_eq!(newer.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 2 });
    // Sequences work the same way.
    let seq = |n| Some(SourceVersion::Sequence(n));
    let ext = "ringcentral:contact:8";
    env.client.upsert(Collection::Leads, ext, lead("Seq 5"), "j4", seq(5)).await.expect("create");
    let out = env.client.upsert(Collection::Leads, ext, lead("Seq 4"), "j5", seq(4)).await.expect("stale");
    assert!(matches!(out, UpsertOutcome::Stale { .. }), "{out:?}");
}

#[tokio::test]
async fn validation_error_is_permanent_and_names_the_field() {
    let env = Env::start().await;
    let mut bad = site("Bad");
    bad.insert("country".into(), json!("usa"));
    let err = env.client.upsert(Collection::Locations, "ringcentral:site:6", bad, "job-6", None).await.unwrap_err();
    assert_eq!((err.status(), err.code(), err.field()), (Some(422), Some("validation_failed"), Some("country")));
    let c = classify(&err);
    assert!(!c.is_retryable(), "{c:?}");
    assert!(c.reason().contains("country") && c.reason().contains("422"), "{}", c.reason());
}

#[tokio::test]
async fn unavailable_with_retry_after_is_retryable() {
    let env = Env::start().await;
    env.fault(json!({"route": "GET /locations", "statuses": [503], "retry_after": 7})).await;
    let err = env.client.upsert(Collection::Locations, "ringcentral:site:3", site("X"), "job-3", None).await;
    let err = err.expect_err("503");
    assert_eq!((err.status(), err.retry_after()), (Some(503), Some(Duration::from_secs(7))));
    let c = err.classify();
    assert!(c.is_retryable());
    assert_eq!(c.retry_after(), Some(Duration::from_secs(7)));
    // The lock was released: the next attempt goes through.
    let ok = env.client.upsert(Collection::Locations, "ringcentral:site:3", site("X"), "job-3", None).await;
    assert!(matches!(ok, Ok(UpsertOutcome::Created { .. })), "{ok:?}");
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let env = Env::start().await;
    let port = snapsync_testkit::free_port();
    let client = SnapshotsClient::new(&format!("http://127.0.0.1:{port}"), SecretString::from(KEY), env.redis, "t")
        .expect("client");
    let err = client.list_owners().await.expect_err("nothing listens");
    assert!(classify(&err).is_retryable(), "{err}");
}

#[tokio::test]
async fn tag_delete_owners_and_activities() {
    let env = Env::start().await;
    let ext = "ringcentral:site:10";
    let id = env.client.upsert(Collection::Locations, ext, site("Gone"), "job-10", None).await.expect("create");
    let id = id.id().to_string();
    let tagged = env.client.tag(Collection::Locations, ext, "deleted").await.expect("tag");
    assert_eq!(tagged, TagOutcome::Tagged { id: id.clone(), version: 2 });
    assert_eq!(
        env.client.tag(Collection::Locations, ext, "deleted").await.expect("tag"),
        TagOutcome::AlreadyTagged { id: id.clone() }
    );
    assert_eq!(env.client.tag(Collection::Locations, "nope", "deleted").await.expect("tag"), TagOutcome::NotFound);
    assert_eq!(env.client.delete(Collection::Locations, ext).await.expect("delete"), DeleteOutcome::Deleted { id });
    assert_eq!(env.client.delete(Collection::Locations, ext).await.expect("delete"), DeleteOutcome::NotFound);
    // After a delete the remembered hash is gone: the same record is created again.
    let again = env.client.upsert(Collection::Locations, ext, site("Gone"), "job-11", None).await.expect("create");
    assert!(matches!(again, UpsertOutcome::Created { .. }), "{again:?}");

    let owners = env.client.list_owners().await.expect("owners");
    assert_eq!(owners.len(), 6);
    assert!(owners.iter().any(|o| o.owner_id == "own_06" && !o.active));

    let act = json!({"type": "follow_up", "subject": "Call back"}).as_object().cloned().unwrap_or_default();
    let a = env.client.create_activity("ringcentral:voicemail:1", act.clone(), "vm-1").await.expect("activity");
    let ActivityOutcome::Created { id } = a else { panic!("{a:?}") };
    let b = env.client.create_activity("ringcentral:voicemail:1", act, "vm-1-rerun").await.expect("activity");
    assert_eq!(b, ActivityOutcome::Existing { id });
}

#[tokio::test]
async fn the_api_key_never_shows() {
    let env = Env::start().await;
    let secret = "super-secret-key-123";
    let client = SnapshotsClient::new(&env.sandbox.snapshots_url(), SecretString::from(secret), env.redis.clone(), "t")
        .expect("client");
    assert!(!format!("{client:?}").contains(secret));
    let err = client.list_owners().await.expect_err("wrong key");
    assert_eq!((err.status(), err.code()), (Some(401), Some("invalid_api_key")));
    assert!(!err.classify().is_retryable());
    for text in [err.to_string(), format!("{err:?}"), classify(&err).reason().to_string()] {
        assert!(!text.contains(secret), "{text}");
    }
    let bad = SnapshotsClient::new("ftp://x", SecretString::from(secret), env.redis.clone(), "t").expect_err("url");
    assert!(!format!("{bad} {bad:?}").contains(secret));
}

#[tokio::test]
async fn a_record_being_written_by_another_worker_is_busy_and_retryable() {
    let env = Env::start().await;
    // Hold the first writer inside its lookup long enough for the second to arrive.
    env.fault(json!({"route": "GET /locations", "latency_ms": 800})).await;
    let (a, b) = (env.client.clone(), env.client.clone());
    let first =
        tokio::spawn(async move { a.upsert(Collection::Locations, "ringcentral:site:12", site("A"), "a", None).await });
    let second =
        tokio::spawn(async move { b.upsert(Collection::Locations, "ringcentral:site:12", site("B"), "b", None).await });
    let results = [first.await.expect("join"), second.await.expect("join")];
    let busy: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(busy.len(), 1, "{results:?}");
    assert!(matches!(busy[0], snapsync::snapshots::SnapshotsError::Busy { .. }), "{:?}", busy[0]);
    assert!(busy[0].classify().is_retryable());
    assert_eq!(results.iter().filter(|r| matches!(r, Ok(UpsertOutcome::Created { .. }))).count(), 1);
}
