//! The Snapshots client against the Snapshots stand-in and a private Redis: upsert
//! (create, unchanged, update, 409 and 412 paths, stale source versions), idempotent
//! creates, error details and their classification, tag/delete/owners/activities, that
//! the API key never shows, and the per-record lease locks: a busy record snoozes, a
//! crashed holder's lock frees within its TTL, a run that lost its lock writes no state,
//! and the lock and state keys of an id with braces share a slot on a real Redis Cluster.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{json, Map, Value};
use snapsync::errors::{classify, Classify};
use snapsync::snapshots::{
    state, ActivityOutcome, Collection, DeleteOutcome, SnapshotsClient, SnapshotsError, SourceVersion, TagOutcome,
    UpsertOutcome,
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
    env.fault(json!({"route": "GET /locations", "statuses": [503], "retry_after": 7})).await;
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
    // Hold the first run inside its lookup long enough for the second to arrive.
    env.fault(json!({"route": "GET /locations", "latency_ms": 1500})).await;
    let (a, first_locks) = (env.client.clone(), env.locks.clone());
    let first =
        tokio::spawn(async move { a.upsert(&first_locks, Collection::Locations, ext, site("A"), "a", None).await });
    wait_until_async("the first run's lookup to arrive", Duration::from_secs(10), || async {
        (count(&env.stats().await, "/requests/GET ~1locations") == 1).then_some(())
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
    assert_eq!(count(&env.stats().await, "/requests/GET ~1locations"), 1, "a busy record costs no Snapshots request");

    assert!(matches!(first.await.expect("join"), Ok(UpsertOutcome::Created { .. })));
    let later = env.client.upsert(&second, Collection::Locations, ext, site("B"), "b", None).await;
    assert!(matches!(later, Ok(UpsertOutcome::Updated { .. })), "free once the first run released it: {later:?}");
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

    // Once the record is free, the slow job's next run finds its create by external id.
    assert!(guard.release().await.expect("release"));
    let again = env.client.upsert(&env.locks, Collection::Locations, ext, site("Slow"), "slow", None).await;
    assert!(matches!(again, Ok(UpsertOutcome::Unchanged { .. })), "{again:?}");
    assert_eq!(count(&env.stats().await, "/writes/by_collection/locations/creates"), 1, "no duplicate");
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
