//! `snapsync serve` against the RingCentral sandbox: the producer subscribes its own
//! webhook address at start, a voicemail left in the sandbox becomes a
//! `voicemail_follow_up` job, and `subscription::ensure` reuses, de-duplicates, renews and
//! recreates (after a blacklist).

use std::time::Duration;

use crate::common::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use snapsync::jobs::{Payload, VoicemailFollowUp};
use snapsync::ringcentral::types::Subscription;
use snapsync::ringcentral::{RcSettings, RingCentral};
use snapsync::subscription::{ensure, ensure_exclusive, lock_key, Action, SubscriptionSpec, VOICEMAIL_FILTER};
use snapsync_producer::Options;
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::RedisServer;
use tokio::net::TcpListener;

struct World {
    _redis: RedisServer,
    sandbox: Sandbox,
    producer: Producer,
    rc: RingCentral,
    address: String,
    queue: snapsync_queue::Queue,
    redis: snapsync_queue::RedisConn,
}

async fn world() -> World {
    let redis = RedisServer::start();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/webhooks/ringcentral", listener.local_addr().unwrap());
    let creds = sandbox.credentials().clone();
    let rc_lines = format!(
        "server_url = \"{}\"\nwebhook_address = \"{address}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\njwt = \"{}\"\n",
        sandbox.rc_url(),
        creds.client_id,
        creds.client_secret,
        creds.jwt
    );
    let config = config_rc(&redis.url(), &rc_lines, "");
    let producer = Producer::start_on(listener, config, Options::default()).await;
    let conn = snapsync_queue::RedisConn::connect(&redis.url(), snapsync_queue::ConnOptions::default()).await.unwrap();
    let rc = RingCentral::new(
        RcSettings {
            server_url: sandbox.rc_url(),
            client_id: creds.client_id.clone(),
            client_secret: SecretString::from(creds.client_secret.clone()),
            jwt: SecretString::from(creds.jwt.clone()),
            auth: Default::default(),
        },
        conn.clone(),
        "snapsync",
    )
    .unwrap();
    let queue = queue(&redis.url()).await;
    World { _redis: redis, sandbox, producer, rc, address, queue, redis: conn }
}

async fn ours(rc: &RingCentral, address: &str) -> Vec<Subscription> {
    let all = rc.list_subscriptions().await.expect("list subscriptions");
    all.into_iter().filter(|s| s.delivery_mode.as_ref().is_some_and(|d| d.address == address)).collect()
}

async fn wait_subscribed(w: &World) -> Subscription {
    snapsync_testkit::wait_until_async("the producer's subscription", DEADLINE, || async {
        ours(&w.rc, &w.address).await.into_iter().next()
    })
    .await
}

async fn sandbox_post(w: &World, path: &str, body: Value) -> Value {
    let resp = reqwest::Client::new().post(format!("{}{path}", w.sandbox.rc_url())).json(&body).send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_voicemail_left_in_the_sandbox_becomes_a_follow_up_job() {
    let w = world().await;
    let sub = wait_subscribed(&w).await;
    assert_eq!(sub.status.as_deref(), Some("Active"));
    assert!(sub.event_filters.iter().any(|f| f.ends_with("/voicemail")), "{:?}", sub.event_filters);
    let message = sandbox_post(&w, "/sandbox/voicemail", json!({})).await;
    let id = message["id"].to_string().trim_matches('"').to_owned();
    let job = snapsync_testkit::wait_until_async("voicemail_follow_up job", DEADLINE, || async {
        payloads(&w.queue, "voicemail_follow_up")
            .await
            .into_iter()
            .filter_map(|p| VoicemailFollowUp::decode(&p).ok())
            .find(|p| p.message_id == id)
    })
    .await;
    assert!(!job.extension_id.is_empty());
    // An account change fires the admin extension's info event with `AccountSettings`.
    let resp = reqwest::Client::new()
        .patch(format!("{}/sandbox/account", w.sandbox.rc_url()))
        .json(&json!({"mainNumber": "+16505550100"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let account = snapsync_testkit::wait_until_async("sync_account job", DEADLINE, || async {
        payloads(&w.queue, "sync_account").await.into_iter().next()
    })
    .await;
    let account = <snapsync::jobs::SyncAccount as Payload>::decode(&account).unwrap();
    assert_eq!(account.hints, vec!["AccountSettings".to_owned()]);
    w.producer.stop().await;
}

#[tokio::test]
async fn ensure_reuses_deduplicates_renews_and_recreates_a_blacklisted_one() {
    let w = world().await;
    let first = wait_subscribed(&w).await;
    let spec = SubscriptionSpec::new(w.address.clone(), SecretString::from(TOKEN));

    // Restart-like: the one in place is reused.
    let out = ensure(&w.rc, &spec).await.unwrap();
    assert_eq!((out.action, out.id.as_str()), (Action::Reused, first.id.as_str()));

    // A duplicate to our address (a replica's race) is deleted; one stays.
    let filters = vec![VOICEMAIL_FILTER.to_owned()];
    w.rc.create_subscription(&filters, &w.address, Some(TOKEN), None).await.unwrap();
    assert_eq!(ours(&w.rc, &w.address).await.len(), 2);
    let out = ensure(&w.rc, &spec).await.unwrap();
    assert_eq!(out.deleted.len(), 1, "{out:?}");
    assert_eq!(ours(&w.rc, &w.address).await.len(), 1);

    // One made by an older release (fewer filters): updated in place to ours.
    for s in ours(&w.rc, &w.address).await {
        w.rc.delete_subscription(&s.id).await.unwrap();
    }
    let kept = w.rc.create_subscription(&filters, &w.address, Some(TOKEN), None).await.unwrap();
    let out = ensure(&w.rc, &spec).await.unwrap();
    assert_eq!((out.action, out.id.as_str()), (Action::Updated, kept.id.as_str()));
    let now = w.rc.subscription(&kept.id).await.unwrap();
    assert!(now.event_filters.iter().any(|f| f.ends_with("/telephony/sessions")), "{:?}", now.event_filters);
    let out = ensure(&w.rc, &spec).await.unwrap();
    assert_eq!(out.action, Action::Reused, "once updated it is reused");

    // Close to expiry: renewed in place.
    for s in ours(&w.rc, &w.address).await {
        w.rc.delete_subscription(&s.id).await.unwrap();
    }
    // Our filters, with a reminder that fits a one-hour lifetime.
    let mut ours_short: Vec<String> =
        spec.event_filters.iter().filter(|f| !f.starts_with("/restapi/v1.0/subscription/")).cloned().collect();
    ours_short.push("/restapi/v1.0/subscription/~?threshold=1800&interval=900".into());
    let short = w.rc.create_subscription(&ours_short, &w.address, Some(TOKEN), Some(3600)).await.unwrap();
    let out = ensure(&w.rc, &spec).await.unwrap();
    assert_eq!((out.action, out.id.as_str()), (Action::Renewed, short.id.as_str()));

    // Blacklisted (deliveries refused: this one has no verification token): recreated.
    w.rc.delete_subscription(&short.id).await.unwrap();
    let settings = json!({"blacklist_after_failures": 1, "blacklist_after_secs": 0});
    let resp = reqwest::Client::new()
        .put(format!("{}/sandbox/subscriptions/settings", w.sandbox.rc_url()))
        .json(&settings)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let bad = w.rc.create_subscription(&filters, &w.address, None, None).await.unwrap();
    sandbox_post(&w, "/sandbox/voicemail", json!({})).await;
    snapsync_testkit::wait_until_async("subscription blacklisted", DEADLINE, || async {
        let s = w.rc.subscription(&bad.id).await.ok()?;
        (s.status.as_deref() == Some("Blacklisted")).then_some(())
    })
    .await;
    let out = ensure(&w.rc, &spec).await.unwrap();
    assert_eq!(out.action, Action::Recreated);
    assert_eq!(out.deleted, vec![bad.id.clone()]);
    let now = ours(&w.rc, &w.address).await;
    assert_eq!(now.len(), 1);
    assert_eq!((now[0].id.as_str(), now[0].status.as_deref()), (out.id.as_str(), Some("Active")));
    tokio::time::timeout(Duration::from_secs(15), w.producer.stop()).await.unwrap();
}

#[tokio::test]
async fn one_process_at_a_time_sets_up_the_subscription() {
    let w = world().await;
    wait_subscribed(&w).await;
    for s in ours(&w.rc, &w.address).await {
        w.rc.delete_subscription(&s.id).await.unwrap();
    }
    let spec = SubscriptionSpec::new(w.address.clone(), SecretString::from(TOKEN));
    let lock = lock_key("snapsync");
    let mut conn = w.redis.clone();
    // Another process holds the lock: nothing is created here.
    let _: () = redis::cmd("SET").arg(&lock).arg("other").query_async(&mut conn).await.unwrap();
    assert!(ensure_exclusive(&w.rc, &w.redis, &lock, &spec).await.unwrap().is_none());
    assert!(ours(&w.rc, &w.address).await.is_empty());
    // Its lock is not released by us.
    let held: Option<String> = redis::cmd("GET").arg(&lock).query_async(&mut conn).await.unwrap();
    assert_eq!(held.as_deref(), Some("other"));
    let _: () = redis::cmd("DEL").arg(&lock).query_async(&mut conn).await.unwrap();
    let out = ensure_exclusive(&w.rc, &w.redis, &lock, &spec).await.unwrap().expect("lock free");
    assert_eq!(out.action, Action::Created);
    assert_eq!(ours(&w.rc, &w.address).await.len(), 1);
    // Released after the run.
    let held: Option<String> = redis::cmd("GET").arg(&lock).query_async(&mut conn).await.unwrap();
    assert_eq!(held, None);
    w.producer.stop().await;
}
