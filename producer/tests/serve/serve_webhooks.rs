//! `POST /webhooks/ringcentral` and the health routes over real HTTP against a private
//! Redis: handshake, token check, body checks, uuid dedup, 503 while Redis is down.

use crate::common::*;
use snapsync_testkit::RedisServer;

fn voicemail(uuid: &str) -> String {
    format!(
        r#"{{"uuid":"{uuid}","event":"/restapi/v1.0/account/400000001/extension/400000101/voicemail","timestamp":"2026-01-01T00:00:00Z","subscriptionId":"s1","ownerId":"400000101","body":{{"id":"82063400004","type":"VoiceMail"}}}}"#
    )
}

#[tokio::test]
async fn handshake_echoes_the_validation_token() {
    let redis = RedisServer::start();
    let producer = Producer::start(config(&redis.url(), ""), Producer::no_subscribe()).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/webhooks/ringcentral", producer.base))
        .header("Validation-Token", "vt-123")
        .header("Verification-Token", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers().get("validation-token").unwrap(), "vt-123");
    assert!(resp.bytes().await.unwrap().len() < 64, "tiny body");
    // A handshake carrying a wrong verification token is refused.
    let resp = reqwest::Client::new()
        .post(format!("{}/webhooks/ringcentral", producer.base))
        .header("Validation-Token", "vt-123")
        .header("Verification-Token", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    producer.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_verification_token_is_401_and_nothing_is_enqueued() {
    let redis = RedisServer::start();
    let producer = Producer::start(config(&redis.url(), ""), Producer::no_subscribe()).await;
    let queue = queue(&redis.url()).await;
    for token in [None, Some("wrong-token"), Some(""), Some("test-verification-tokeN")] {
        let resp = post_webhook(&producer.base, token, &voicemail("u-auth")).await;
        assert_eq!(resp.status(), 401, "token {token:?}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("Verification-Token"), "{body}");
        assert!(!body.contains(TOKEN), "the expected token never appears in an answer: {body}");
    }
    assert_eq!(total_jobs(&queue).await, 0);
    producer.stop().await;
}

#[tokio::test]
async fn malformed_or_oversized_bodies_are_refused_and_nothing_is_enqueued() {
    let redis = RedisServer::start();
    let producer = Producer::start(config(&redis.url(), ""), Producer::no_subscribe()).await;
    let queue = queue(&redis.url()).await;
    let cases = [
        ("{not json", "not a JSON notification envelope"),
        (r#"{"event":"/restapi/v1.0/account/1/extension/2/voicemail","body":{}}"#, "uuid"),
        (r#"{"uuid":"u1","event":"/restapi/v1.0/account/1/extension/2/voicemail","body":{}}"#, "`id`"),
        ("", "not a JSON notification envelope"),
    ];
    for (body, expected) in cases {
        let resp = post_webhook(&producer.base, Some(TOKEN), body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(expected), "{body} → {text}");
    }
    let huge = format!(r#"{{"uuid":"u-big","event":"/x","body":"{}"}}"#, "a".repeat(300 * 1024));
    assert_eq!(post_webhook(&producer.base, Some(TOKEN), &huge).await.status(), 413);
    // A 200 KB uuid fits the body limit; it is refused before it can become a dedup key.
    let resp = post_webhook(&producer.base, Some(TOKEN), &voicemail(&"u".repeat(200 * 1024))).await;
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("at most 128") && text.len() < 300, "{text:.300}");
    assert_eq!(total_jobs(&queue).await, 0);
    let mut conn = queue.conn().clone();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut conn).await.unwrap();
    assert!(keys.iter().all(|k| k.len() < 200), "a key carries the caller's value");
    producer.stop().await;
}

#[tokio::test]
async fn the_same_uuid_twice_makes_one_job_and_unknown_events_none() {
    let redis = RedisServer::start();
    let producer = Producer::start(config(&redis.url(), ""), Producer::no_subscribe()).await;
    let queue = queue(&redis.url()).await;
    for _ in 0..2 {
        let resp = post_webhook(&producer.base, Some(TOKEN), &voicemail("u-dup")).await;
        assert_eq!(resp.status(), 200);
    }
    let jobs = payloads(&queue, "voicemail_follow_up").await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let p: snapsync::jobs::VoicemailFollowUp =
        snapsync::jobs::Payload::decode(&jobs[0]).expect("the worker can decode the payload");
    assert_eq!(
        (p.message_id.as_str(), p.extension_id.as_str(), p.uuid.as_str()),
        ("82063400004", "400000101", "u-dup")
    );
    // Another uuid is another job.
    assert_eq!(post_webhook(&producer.base, Some(TOKEN), &voicemail("u-other")).await.status(), 200);
    assert_eq!(payloads(&queue, "voicemail_follow_up").await.len(), 2);
    // Unknown events: 200, no job.
    let presence = r#"{"uuid":"u-p","event":"/restapi/v1.0/account/1/extension/2/presence","body":{}}"#;
    assert_eq!(post_webhook(&producer.base, Some(TOKEN), presence).await.status(), 200);
    // Account change and renewal reminder map to their kinds.
    let account = r#"{"uuid":"u-a","event":"/restapi/v1.0/account/1/extension/2","body":{"hints":["AccountStatus"]}}"#;
    assert_eq!(post_webhook(&producer.base, Some(TOKEN), account).await.status(), 200);
    let reminder = r#"{"uuid":"u-r","event":"/restapi/v1.0/subscription/s1?threshold=86400&interval=3600","subscriptionId":"s1","body":{"expiresIn":80000}}"#;
    assert_eq!(post_webhook(&producer.base, Some(TOKEN), reminder).await.status(), 200);
    assert_eq!(payloads(&queue, "sync_account").await.len(), 1);
    let renew = payloads(&queue, "renew_subscription").await;
    assert!(renew.len() == 1 && renew[0].contains(r#""expires_in":80000"#), "{renew:?}");
    assert_eq!(total_jobs(&queue).await, 4);
    producer.stop().await;
}

#[tokio::test]
async fn redis_down_is_503_and_the_resent_webhook_is_enqueued_after_restart() {
    let mut redis = RedisServer::start();
    let producer = Producer::start(config(&redis.url(), ""), Producer::no_subscribe()).await;
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{}/readyz", producer.base)).send().await.unwrap().status(), 200);
    redis.kill();
    let resp = post_webhook(&producer.base, Some(TOKEN), &voicemail("u-down")).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(client.get(format!("{}/readyz", producer.base)).send().await.unwrap().status(), 503);
    // The process is still up.
    assert_eq!(client.get(format!("{}/healthz", producer.base)).send().await.unwrap().status(), 200);
    redis.restart();
    // RingCentral re-sends until it gets a 2xx; the connection comes back on its own.
    let base = producer.base.clone();
    snapsync_testkit::wait_until_async("re-sent webhook accepted", DEADLINE, || {
        let base = base.clone();
        async move { (post_webhook(&base, Some(TOKEN), &voicemail("u-down")).await.status() == 200).then_some(()) }
    })
    .await;
    let queue = queue(&redis.url()).await;
    assert_eq!(payloads(&queue, "voicemail_follow_up").await.len(), 1);
    assert_eq!(client.get(format!("{}/readyz", producer.base)).send().await.unwrap().status(), 200);
    producer.stop().await;
}
