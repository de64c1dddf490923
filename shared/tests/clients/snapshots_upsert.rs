//! The Snapshots client against the Snapshots stand-in and a private Redis: upsert
//! (create, unchanged, update, 409 and 412 paths, stale source versions, the requests each
//! costs by what the write state knows, create-only fields such as a lead's owner), idempotent
//! creates, error details and their classification, tag/delete/owners/activities, that
//! the API key never shows, and the per-record lease locks: a busy record snoozes, a
//! crashed holder's lock frees within its TTL, a read pipelined behind a lock comes back
//! only with it, a run that lost its lock writes no state,
//! and the lock and state keys of an id with braces share a slot on a real Redis Cluster.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{json, Map, Value};
use snapsync::errors::{classify, Classify};
use snapsync::snapshots::{
    state, ActivityOutcome, Collection, DeleteOutcome, OnCreate, SnapshotsClient, SnapshotsError, SourceVersion,
    TagOutcome, UpsertOutcome,
};
use snapsync_queue::{ConnOptions, LeaseLocks, LockError, RedisConn};
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::{wait_until_async, RedisCluster, RedisServer};

const KEY: &str = "sandbox-snapshots-key";
/// TTL of the tests' standalone locks: outlasts any single upsert here, faults included.
const LOCK_TTL: Duration = Duration::from_secs(30);

struct Env {
    sandbox: Sandbox,
    _redis: RedisServer,
    redis: RedisConn,
    client: SnapshotsClient,
    /// The locks of "this run" (standalone: no job, no heartbeat).
    locks: LeaseLocks,
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
        let locks = LeaseLocks::standalone(redis.clone(), LOCK_TTL);
        Env { sandbox, _redis: redis_server, redis, client, locks, http: reqwest::Client::new() }
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
    let first =
        env.client.upsert(&env.locks, Collection::Locations, "ringcentral:site:1", site("HQ"), "job-1", None).await;
    let first = first.expect("create");
    let UpsertOutcome::Created { id } = first else { panic!("expected Created, got {first:?}") };
    let before = env.stats().await;
    assert_eq!(count(&before, "/writes/total"), 1);

    let again =
        env.client.upsert(&env.locks, Collection::Locations, "ringcentral:site:1", site("HQ"), "job-2", None).await;
    assert_eq!(again.expect("unchanged"), UpsertOutcome::Unchanged { id: id.clone() });
    let after = env.stats().await;
    assert_eq!(count(&after, "/writes/total"), 1, "no write for an unchanged record");
    assert_eq!(after["requests"], before["requests"], "not even a request: the content hash matched");

    let changed = env
        .client
        .upsert(&env.locks, Collection::Locations, "ringcentral:site:1", site("HQ East"), "job-3", None)
        .await;
    assert_eq!(changed.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 2 });
    let rec = env.client.get(Collection::Locations, &id).await.expect("get").expect("exists");
    assert_eq!(rec.fields["name"], "HQ East");
    assert_eq!(rec.fields["external_id"], "ringcentral:site:1");
    assert_eq!(count(&env.stats().await, "/writes/by_collection/locations/updates"), 1);
}

#[tokio::test]
async fn lost_redis_state_finds_the_record_and_a_no_op_patch_is_unchanged() {
    let env = Env::start().await;
    let out =
        env.client.upsert(&env.locks, Collection::Locations, "ringcentral:site:2", site("NY"), "job-1", None).await;
    let id = out.expect("create").id().to_string();
    let mut conn = env.redis.clone();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.expect("flush");
    let again =
        env.client.upsert(&env.locks, Collection::Locations, "ringcentral:site:2", site("NY"), "job-2", None).await;
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
    let (client, locks) = (env.client.clone(), env.locks.clone());
    let upsert = tokio::spawn(async move {
        client.upsert(&locks, Collection::Locations, "ringcentral:site:9", site("Austin"), "job-9", None).await
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
    let out =
        env.client.upsert(&env.locks, Collection::Locations, "ringcentral:site:4", site("New"), "job-4", None).await;
    assert_eq!(out.expect("retried after 412"), UpsertOutcome::Updated { id: id.clone(), version: 2 });
    assert_eq!(count(&env.stats().await, "/requests/PATCH ~1locations"), 2);

    // A real stale If-Match: 412 version_mismatch, retryable (another writer is busy), and a
    // wait rather than a failure: it spends no attempt.
    let err = env.client.patch(Collection::Locations, &id, 1, &site("Stale")).await.expect_err("stale version");
    assert_eq!((err.status(), err.code()), (Some(412), Some("version_mismatch")));
    assert!(err.classify().is_retryable());
    assert!(err.classify().is_snooze(), "{:?}", err.classify());
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
    let new = env
        .client
        .upsert(&env.locks, Collection::Leads, ext, lead("Newer"), "j1", Some(t("2026-02-01T00:00:00Z")))
        .await;
    let id = new.expect("create").id().to_string();
    let old = env
        .client
        .upsert(&env.locks, Collection::Leads, ext, lead("Older"), "j2", Some(t("2026-01-01T00:00:00Z")))
        .await;
    assert_eq!(old.expect("stale"), UpsertOutcome::Stale { id: id.clone() });
    assert_eq!(count(&env.stats().await, "/writes/total"), 1, "the stale version was not written");
    let newer = env
        .client
        .upsert(&env.locks, Collection::Leads, ext, lead("Newest"), "j3", Some(t("2026-03-01T00:00:00Z")))
        .await;
    assert_eq!(newer.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 2 });
    // Sequences work the same way.
    let seq = |n| Some(SourceVersion::Sequence(n));
    let ext = "ringcentral:contact:8";
    env.client.upsert(&env.locks, Collection::Leads, ext, lead("Seq 5"), "j4", seq(5)).await.expect("create");
    let out = env.client.upsert(&env.locks, Collection::Leads, ext, lead("Seq 4"), "j5", seq(4)).await.expect("stale");
    assert!(matches!(out, UpsertOutcome::Stale { .. }), "{out:?}");
}

#[tokio::test]
async fn validation_error_is_permanent_and_names_the_field() {
    let env = Env::start().await;
    let mut bad = site("Bad");
    bad.insert("country".into(), json!("usa"));
    let err = env
        .client
        .upsert(&env.locks, Collection::Locations, "ringcentral:site:6", bad, "job-6", None)
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code(), err.field()), (Some(422), Some("validation_failed"), Some("country")));
    let c = classify(&err);
    assert!(!c.is_retryable(), "{c:?}");
    assert!(c.reason().contains("country") && c.reason().contains("422"), "{}", c.reason());
}

#[tokio::test]
async fn unavailable_with_retry_after_snoozes_for_it() {
    let env = Env::start().await;
    env.fault(json!({"route": "POST /locations", "statuses": [503], "retry_after": 7})).await;
    let err =
        env.client.upsert(&env.locks, Collection::Locations, "ringcentral:site:3", site("X"), "job-3", None).await;
    let err = err.expect_err("503");
    assert_eq!((err.status(), err.retry_after()), (Some(503), Some(Duration::from_secs(7))));
    let c = err.classify();
    assert!(c.is_retryable());
    assert!(c.is_snooze(), "a 503 naming its Retry-After is a wait, not a failed attempt: {c:?}");
    assert_eq!(c.retry_after(), Some(Duration::from_secs(7)));
    // The lock was released: the next attempt goes through.
    let ok = env.client.upsert(&env.locks, Collection::Locations, "ringcentral:site:3", site("X"), "job-3", None).await;
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
    let id =
        env.client.upsert(&env.locks, Collection::Locations, ext, site("Gone"), "job-10", None).await.expect("create");
    let id = id.id().to_string();
    let tagged = env.client.tag(&env.locks, Collection::Locations, ext, "deleted").await.expect("tag");
    assert_eq!(tagged, TagOutcome::Tagged { id: id.clone(), version: 2 });
    assert_eq!(
        env.client.tag(&env.locks, Collection::Locations, ext, "deleted").await.expect("tag"),
        TagOutcome::AlreadyTagged { id: id.clone() }
    );
    assert_eq!(
        env.client.tag(&env.locks, Collection::Locations, "nope", "deleted").await.expect("tag"),
        TagOutcome::NotFound
    );
    assert_eq!(
        env.client.delete(&env.locks, Collection::Locations, ext).await.expect("delete"),
        DeleteOutcome::Deleted { id }
    );
    assert_eq!(
        env.client.delete(&env.locks, Collection::Locations, ext).await.expect("delete"),
        DeleteOutcome::NotFound
    );
    // After a delete the remembered hash is gone: the same record is created again.
    let again =
        env.client.upsert(&env.locks, Collection::Locations, ext, site("Gone"), "job-11", None).await.expect("create");
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

/// The record's lock key as the client (prefix `test`) names it.
fn lock_of(ext: &str) -> String {
    state::lock_key("test", Collection::Locations, ext)
}

#[tokio::test]
async fn a_record_being_written_by_another_run_is_busy_and_snoozes() {
    let env = Env::start().await;
    let ext = "ringcentral:site:12";
    // Hold the first run inside its create long enough for the second to arrive.
    env.fault(json!({"route": "POST /locations", "latency_ms": 1500})).await;
    let (a, first_locks) = (env.client.clone(), env.locks.clone());
    let first =
        tokio::spawn(async move { a.upsert(&first_locks, Collection::Locations, ext, site("A"), "a", None).await });
    wait_until_async("the first run's create to arrive", Duration::from_secs(10), || async {
        (count(&env.stats().await, "/requests/POST ~1locations") == 1).then_some(())
    })
    .await;
    // Another run: another lease, its own locks.
    let second = LeaseLocks::standalone(env.redis.clone(), LOCK_TTL);
    let err = env.client.upsert(&second, Collection::Locations, ext, site("B"), "b", None).await.expect_err("busy");
    let SnapshotsError::Busy { retry_in, .. } = &err else { panic!("expected Busy, got {err:?}") };
    assert!(!retry_in.is_zero() && *retry_in <= LOCK_TTL, "retry_in is the holder's remaining TTL: {retry_in:?}");
    let c = err.classify();
    assert!(c.is_snooze(), "{c:?}");
    assert_eq!(c.retry_after(), Some(*retry_in), "the snooze waits out the lock");
    let stats = env.stats().await;
    assert_eq!(
        stats["requests"].as_object().map(|r| r.values().filter_map(Value::as_u64).sum::<u64>()),
        Some(1),
        "a busy record costs no Snapshots request: {stats}"
    );

    assert!(matches!(first.await.expect("join"), Ok(UpsertOutcome::Created { .. })));
    let later = env.client.upsert(&second, Collection::Locations, ext, site("B"), "b", None).await;
    assert!(matches!(later, Ok(UpsertOutcome::Updated { .. })), "free once the first run released it: {later:?}");
}

#[tokio::test]
async fn a_read_pipelined_behind_a_lock_comes_back_only_with_the_lock() {
    let server = RedisServer::start();
    let redis = RedisConn::connect(&server.url(), ConnOptions::default()).await.expect("connect");
    let _: () = redis::cmd("SET").arg("{r}:value").arg("v1").query_async(&mut redis.clone()).await.expect("SET");
    let mut read = redis::cmd("GET");
    read.arg("{r}:value");
    let mine = LeaseLocks::standalone(redis.clone(), LOCK_TTL);
    let (guard, value) = mine.acquire_and_read::<Option<String>>("{r}:lock", &read).await.expect("a free lock");
    assert_eq!(value.as_deref(), Some("v1"));
    assert_eq!(mine.keys(), ["{r}:lock".to_string()], "held, so renewed with the lease");
    let other = LeaseLocks::standalone(redis.clone(), LOCK_TTL);
    match other.acquire_and_read::<Option<String>>("{r}:lock", &read).await {
        Err(LockError::Busy { retry_in, .. }) => assert!(retry_in > Duration::ZERO && retry_in <= LOCK_TTL),
        other => panic!("expected Busy, got {:?}", other.map(|(_, v)| v)),
    }
    assert!(other.keys().is_empty(), "a busy lock is not held");
    assert!(guard.release().await.expect("release"), "still ours");
    let (_guard, value) = other.acquire_and_read::<Option<String>>("{r}:lock", &read).await.expect("released: free");
    assert_eq!(value.as_deref(), Some("v1"));
}

#[tokio::test]
async fn a_lock_left_by_a_crashed_holder_frees_within_its_ttl_and_the_waiting_upsert_lands() {
    let env = Env::start().await;
    let ext = "ringcentral:site:13";
    let lease = Duration::from_millis(500);
    let dead = LeaseLocks::new(env.redis.clone(), "dead-owner".into(), lease);
    let guard = dead.acquire(&lock_of(ext)).await.expect("the dead run's lock");
    // A SIGKILL: no release and no drop (a dropped guard releases in the background), and
    // nobody renews it any more.
    std::mem::forget(guard);
    let started = Instant::now();

    let err = env.client.upsert(&env.locks, Collection::Locations, ext, site("Here"), "j", None).await;
    let err = err.expect_err("the dead run still holds it");
    let SnapshotsError::Busy { retry_in, .. } = &err else { panic!("expected Busy, got {err:?}") };
    assert!(*retry_in <= lease, "free within the dead run's lease, not minutes: {retry_in:?}");
    assert!(err.classify().is_snooze());
    // As the queue would: come back after the snooze until the lock is gone.
    let out = wait_until_async("the upsert to land once the dead lock expired", Duration::from_secs(10), || async {
        match env.client.upsert(&env.locks, Collection::Locations, ext, site("Here"), "j", None).await {
            Ok(out) => Some(out),
            Err(SnapshotsError::Busy { .. }) => None,
            Err(e) => panic!("only Busy while the dead lock lives: {e}"),
        }
    })
    .await;
    let waited = started.elapsed();
    assert!(matches!(out, UpsertOutcome::Created { .. }), "{out:?}");
    assert!(waited < Duration::from_secs(2), "the record was locked for {waited:?} after its holder died");
    assert_eq!(count(&env.stats().await, "/writes/by_collection/locations/creates"), 1);
}

#[tokio::test]
async fn a_run_that_lost_its_lock_writes_no_state_and_does_not_free_the_new_holder() {
    let env = Env::start().await;
    let ext = "ringcentral:site:14";
    let (lock, key) = (lock_of(ext), state::state_key("test", Collection::Locations, ext));
    // The slow run's create is held long enough for its lock to lapse and be taken.
    env.fault(json!({"route": "POST /locations", "latency_ms": 2000})).await;
    let (client, locks) = (env.client.clone(), env.locks.clone());
    let slow =
        tokio::spawn(
            async move { client.upsert(&locks, Collection::Locations, ext, site("Slow"), "slow", None).await },
        );
    wait_until_async("the slow run's POST to arrive", Duration::from_secs(10), || async {
        (count(&env.stats().await, "/requests/POST ~1locations") == 1).then_some(())
    })
    .await;
    // Its lock expires (its lease was lost, say) and another run takes the record and
    // records its own state.
    let mut conn = env.redis.clone();
    let _: i64 = redis::cmd("PEXPIRE").arg(&lock).arg(1).query_async(&mut conn).await.expect("pexpire");
    let other = LeaseLocks::standalone(env.redis.clone(), LOCK_TTL);
    let guard = wait_until_async("the other run to take the lock", Duration::from_secs(10), || async {
        match other.acquire(&lock).await {
            Ok(g) => Some(g),
            Err(LockError::Busy { .. }) => None,
            Err(e) => panic!("{e}"),
        }
    })
    .await;
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("hash")
        .arg("theirs")
        .arg("id")
        .arg("loc_theirs")
        .query_async(&mut conn)
        .await
        .expect("hset");
    assert!(!slow.is_finished(), "the slow run must still be in its POST here; raise the fault's latency");

    let err = slow.await.expect("join").expect_err("the slow run lost its lock");
    assert!(matches!(err, SnapshotsError::LockLost { .. }), "{err:?}");
    let c = err.classify();
    assert_eq!((c.is_snooze(), c.retry_after()), (true, Some(Duration::from_millis(100))), "{c:?}");
    let (hash, id): (Option<String>, Option<String>) =
        redis::cmd("HMGET").arg(&key).arg("hash").arg("id").query_async(&mut conn).await.expect("hmget");
    assert_eq!((hash.as_deref(), id.as_deref()), (Some("theirs"), Some("loc_theirs")), "the state is the new holder's");
    let holder: Option<String> = redis::cmd("GET").arg(&lock).query_async(&mut conn).await.expect("get");
    assert_eq!(holder.as_deref(), Some(other.token()), "the slow run's release left the new holder's lock alone");

    // Once the record is free, the slow job's next run finds no `loc_theirs` (404) and
    // creates: Snapshots replays the slow run's create (same key, same body).
    assert!(guard.release().await.expect("release"));
    let again = env.client.upsert(&env.locks, Collection::Locations, ext, site("Slow"), "slow", None).await;
    assert!(matches!(again, Ok(UpsertOutcome::Created { .. })), "{again:?}");
    let stats = env.stats().await;
    assert_eq!(count(&stats, "/writes/by_collection/locations/creates"), 1, "no duplicate");
    assert_eq!(count(&stats, "/replays"), 1, "{stats}");
    let (hash, _): (Option<String>, Option<String>) =
        redis::cmd("HMGET").arg(&key).arg("hash").arg("id").query_async(&mut conn).await.expect("hmget");
    assert_ne!(hash.as_deref(), Some("theirs"), "the state was written by the run that held the lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn braces_in_an_external_id_keep_its_lock_and_state_in_one_slot_on_a_redis_cluster() {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3)).await.expect("a 3-master cluster");
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("start the sandbox");
    let redis = RedisConn::connect(&cluster.url(), ConnOptions::default()).await.expect("connect to the cluster");
    assert!(redis.is_cluster());
    let client =
        SnapshotsClient::new(&sandbox.snapshots_url(), SecretString::from(KEY), redis.clone(), "test").expect("client");
    let locks = LeaseLocks::standalone(redis, LOCK_TTL);
    // The fenced script reads the lock and writes the state in one call: a CROSSSLOT error
    // if their hash tags differed.
    for ext in ["ringcentral:site:{a}b", "ringcentral:site:}x{", "a{", "{}"] {
        let key = format!("create-{ext}");
        let out = client.upsert(&locks, Collection::Locations, ext, site("Braces"), &key, None).await;
        assert!(matches!(out, Ok(UpsertOutcome::Created { .. })), "{ext}: {out:?}");
        let again = client.upsert(&locks, Collection::Locations, ext, site("Braces"), &key, None).await;
        assert!(matches!(again, Ok(UpsertOutcome::Unchanged { .. })), "{ext}: the state was stored: {again:?}");
        let gone = client.delete(&locks, Collection::Locations, ext).await;
        assert!(matches!(gone, Ok(DeleteOutcome::Deleted { .. })), "{ext}: {gone:?}");
    }
}

/// Every API request the stand-in counted, by `"METHOD /collection"`.
fn requests(stats: &Value) -> BTreeMap<String, u64> {
    let counts = stats["requests"].as_object().cloned().unwrap_or_default();
    counts.into_iter().map(|(k, v)| (k, v.as_u64().unwrap_or(0))).collect()
}

/// The requests `f` made, by route (routes it did not use left out).
async fn requests_of<T>(env: &Env, f: impl std::future::Future<Output = T>) -> (T, BTreeMap<String, u64>) {
    let before = requests(&env.stats().await);
    let out = f.await;
    let after = requests(&env.stats().await);
    let delta = after
        .into_iter()
        .map(|(k, n)| {
            let was = before.get(&k).copied().unwrap_or(0);
            (k, n - was)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    (out, delta)
}

fn routes(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[tokio::test]
async fn requests_per_upsert_follow_what_the_write_state_knows() {
    let env = Env::start().await;
    let ext = "ringcentral:site:20";
    let upsert = |name: &str, key: &'static str| {
        env.client.upsert(&env.locks, Collection::Locations, ext, site(name), key, None)
    };
    // New: a POST at once, no lookup by external id.
    let (out, calls) = requests_of(&env, upsert("A", "k1")).await;
    let id = out.expect("create").id().to_string();
    assert_eq!(calls, routes(&[("POST /locations", 1)]));
    // Changed: a PATCH of the remembered id with the remembered version.
    let (out, calls) = requests_of(&env, upsert("B", "k2")).await;
    assert_eq!(out.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 2 });
    assert_eq!(calls, routes(&[("PATCH /locations", 1)]));
    // Unchanged: nothing.
    let (out, calls) = requests_of(&env, upsert("B", "k3")).await;
    assert_eq!(out.expect("unchanged"), UpsertOutcome::Unchanged { id: id.clone() });
    assert_eq!(calls, routes(&[]));

    // Someone else edited it since: 412, read it by id, patch again.
    let edit = Map::from_iter([("city".to_string(), json!("Foster City"))]);
    env.client.patch(Collection::Locations, &id, 2, &edit).await.expect("a foreign edit");
    let (out, calls) = requests_of(&env, upsert("C", "k4")).await;
    assert_eq!(out.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 4 });
    assert_eq!(calls, routes(&[("GET /locations", 1), ("PATCH /locations", 2)]));
    assert_eq!(count(&env.stats().await, "/responses/412"), 1);

    // Our own tag moves the version too, and the state follows it: the next change is one PATCH.
    assert_eq!(
        env.client.tag(&env.locks, Collection::Locations, ext, "deleted").await.expect("tag"),
        TagOutcome::Tagged { id: id.clone(), version: 5 }
    );
    let (out, calls) = requests_of(&env, upsert("D", "k5")).await;
    assert_eq!(out.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 6 });
    assert_eq!(calls, routes(&[("PATCH /locations", 1)]));

    // A state written before versions were kept: read by id, then patch.
    let key = state::state_key("test", Collection::Locations, ext);
    let mut conn = env.redis.clone();
    let _: i64 = redis::cmd("HDEL").arg(&key).arg("ver").query_async(&mut conn).await.expect("hdel");
    let (out, calls) = requests_of(&env, upsert("E", "k6")).await;
    assert_eq!(out.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 7 });
    assert_eq!(calls, routes(&[("GET /locations", 1), ("PATCH /locations", 1)]));

    // The state lost: the create meets the record (409), which is read and patched.
    let _: i64 = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.expect("del");
    let (out, calls) = requests_of(&env, upsert("F", "k7")).await;
    assert_eq!(out.expect("update"), UpsertOutcome::Updated { id: id.clone(), version: 8 });
    assert_eq!(calls, routes(&[("GET /locations", 1), ("PATCH /locations", 1), ("POST /locations", 1)]));

    // Deleted in Snapshots by hand: the PATCH finds nothing (404) and the record is created again.
    assert!(env.client.delete_by_id(Collection::Locations, &id).await.expect("delete by hand"));
    let (out, calls) = requests_of(&env, upsert("G", "k8")).await;
    let UpsertOutcome::Created { id: again } = out.expect("created again") else { panic!("expected Created") };
    assert_ne!(again, id);
    assert_eq!(calls, routes(&[("PATCH /locations", 1), ("POST /locations", 1)]));
    let stats = env.stats().await;
    assert_eq!(count(&stats, "/writes/by_collection/locations/creates"), 2, "{stats}");
    assert_eq!(env.sandbox.snapshots_state().dump()["locations"].as_array().map(Vec::len), Some(1));
}

/// The error type of a caller whose create-only fields can fail for its own reasons.
#[derive(Debug)]
enum CallerError {
    Snapshots(SnapshotsError),
    Routing(&'static str),
}

impl From<SnapshotsError> for CallerError {
    fn from(e: SnapshotsError) -> Self {
        CallerError::Snapshots(e)
    }
}

#[tokio::test]
async fn create_only_fields_go_with_a_create_never_with_an_update() {
    let env = Env::start().await;
    let ext = "ringcentral:contact:21";
    let lead = |name: &str| json!({"name": name}).as_object().cloned().unwrap_or_default();
    let routed = &AtomicUsize::new(0);
    let keys = &std::sync::Mutex::new(Vec::<Value>::new());
    let upsert = |name: &str, owner: &'static str| {
        let on_create = OnCreate {
            idempotency_key: |body: &Map<String, Value>| {
                keys.lock().unwrap_or_else(|e| e.into_inner()).push(Value::Object(body.clone()));
                format!("create-{}", keys.lock().unwrap_or_else(|e| e.into_inner()).len())
            },
            fields: move || async move {
                routed.fetch_add(1, AtomicOrdering::SeqCst);
                Ok::<_, CallerError>(Map::from_iter([("owner".to_string(), json!(owner))]))
            },
        };
        env.client.upsert_with(&env.locks, Collection::Leads, ext, lead(name), None, on_create)
    };

    // A new lead: the owner goes with the POST, and the key is made from that body.
    let (out, calls) = requests_of(&env, upsert("Ann", "own_01")).await;
    let id = out.expect("create").id().to_string();
    assert_eq!(calls, routes(&[("POST /leads", 1)]));
    assert_eq!(routed.load(AtomicOrdering::SeqCst), 1);
    let seen = keys.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen, vec![json!({"name": "Ann", "owner": "own_01", "external_id": ext})]);
    let rec = env.client.get(Collection::Leads, &id).await.expect("get").expect("exists");
    assert_eq!(rec.fields["owner"], "own_01");

    // Reassigned in Snapshots; a change at the source keeps that owner and routes nothing.
    let reassign = Map::from_iter([("owner".to_string(), json!("own_02"))]);
    env.client.patch(Collection::Leads, &id, 1, &reassign).await.expect("reassign");
    let out = upsert("Ann B", "own_03").await.expect("update");
    assert_eq!(out, UpsertOutcome::Updated { id: id.clone(), version: 3 });
    assert_eq!(routed.load(AtomicOrdering::SeqCst), 1, "no routing for an update");
    let rec = env.client.get(Collection::Leads, &id).await.expect("get").expect("exists");
    assert_eq!((&rec.fields["name"], &rec.fields["owner"]), (&json!("Ann B"), &json!("own_02")));

    // The state lost: the create carries an owner, meets the lead (409) and becomes an
    // update without it: the lead keeps its owner, and there is still one lead.
    let mut conn = env.redis.clone();
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.expect("flush");
    let out = upsert("Ann C", "own_04").await.expect("409 → update");
    assert_eq!(out, UpsertOutcome::Updated { id: id.clone(), version: 4 });
    let rec = env.client.get(Collection::Leads, &id).await.expect("get").expect("exists");
    assert_eq!((&rec.fields["name"], &rec.fields["owner"]), (&json!("Ann C"), &json!("own_02")));
    assert_eq!(count(&env.stats().await, "/writes/by_collection/leads/creates"), 1);

    // Create-only fields that fail: their error comes back as it is and nothing is sent.
    let before = requests(&env.stats().await);
    let on_create = OnCreate {
        idempotency_key: |_: &Map<String, Value>| "never".to_string(),
        fields: || async { Err::<Map<String, Value>, _>(CallerError::Routing("no owner today")) },
    };
    let err = env
        .client
        .upsert_with(&env.locks, Collection::Leads, "ringcentral:contact:22", lead("Bo"), None, on_create)
        .await
        .expect_err("routing failed");
    assert!(matches!(err, CallerError::Routing("no owner today")), "{err:?}");
    assert_eq!(requests(&env.stats().await), before, "nothing was sent");
    // The client's own errors reach the caller through `From`.
    let on_create = OnCreate {
        idempotency_key: |_: &Map<String, Value>| "never".to_string(),
        fields: || async { Ok::<_, CallerError>(Map::new()) },
    };
    let err = env.client.upsert_with(&env.locks, Collection::Leads, " ", lead("Cy"), None, on_create).await;
    assert!(matches!(err, Err(CallerError::Snapshots(SnapshotsError::Invalid(_)))), "{err:?}");
}
