//! Issue 4, "Done when" 5, through the real `snapsync serve` process and two workers: a
//! re-sent webhook (same uuid) makes one job; a missing or wrong Verification-Token is
//! refused with 401 and enqueues nothing; with Redis down the receiver answers 503, and once
//! Redis is back the re-sent webhook is processed.

use crate::pipeline_support::{find, id_text, wait, Options, System, ADMIN_EXT, TOKEN, WAIT};
use reqwest::Method;
use serde_json::{json, Value};
use snapsync_testkit::poll_until_async;

/// The notification RingCentral sends for a new voicemail (the sandbox's own shape).
fn voicemail_event(uuid: &str, message_id: &str) -> String {
    json!({
        "uuid": uuid,
        "event": format!("/restapi/v1.0/account/400000001/extension/{ADMIN_EXT}/voicemail"),
        "timestamp": "2026-01-01T00:00:00Z",
        "subscriptionId": "s1",
        "ownerId": ADMIN_EXT,
        "body": {"id": message_id, "type": "VoiceMail"},
    })
    .to_string()
}

async fn post(sys: &System, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = sys
        .http
        .post(format!("{}/webhooks/ringcentral", sys.serve_url))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.header("Verification-Token", t);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        }
        Err(e) => panic!("POST webhook: {e}"),
    }
}

/// Jobs of `voicemail_follow_up` in any state.
async fn follow_up_jobs(sys: &System) -> u64 {
    let k = sys.kind("voicemail_follow_up").await;
    k.ready + k.scheduled + k.running + k.done + k.dead
}

/// The uuid of the sandbox's delivery for the newest voicemail.
async fn delivered_uuid(sys: &System, status: u16) -> String {
    let url = format!("{}/sandbox/deliveries", sys.sandbox.rc_url());
    let found = poll_until_async(WAIT, || async {
        let deliveries = sys.get(&url).await;
        deliveries.as_array()?.iter().rev().find_map(|d| {
            let voicemail = d["event"].as_str().is_some_and(|e| e.ends_with("/voicemail"));
            (voicemail && d["status"].as_u64() == Some(u64::from(status)))
                .then(|| d["uuid"].as_str().map(str::to_owned))?
        })
    })
    .await;
    match found {
        Some(uuid) => uuid,
        None => panic!(
            "no voicemail delivery answered {status} within {WAIT:?}; deliveries: {}\nlogs:\n{}",
            sys.get(&url).await,
            sys.logs()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_dedup_authenticate_and_survive_a_redis_outage() {
    let mut sys = System::start(Options { every: None, ..Options::default() }).await;

    // A voicemail: the sandbox delivers it; re-sending the same uuid is a no-op.
    let message = sys.rc(Method::POST, "/sandbox/voicemail", Some(json!({"extensionId": ADMIN_EXT}))).await;
    let message_id = id_text(&message["id"]);
    let uuid = delivered_uuid(&sys, 200).await;
    let (status, body) = post(&sys, Some(TOKEN), &voicemail_event(&uuid, &message_id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], true, "the re-sent notification must be a duplicate: {body}");
    let external = format!("ringcentral:voicemail:{message_id}");
    sys.records_until("the follow-up", |r| find(r, "activities", "external_id", &external).len() == 1).await;
    assert_eq!(follow_up_jobs(&sys).await, 1, "same uuid twice → one job");

    // Missing or wrong Verification-Token → 401, nothing enqueued.
    let total = sys.queue.counts().await.expect("counts").totals;
    for token in [None, Some("wrong-token")] {
        let (status, body) = post(&sys, token, &voicemail_event("u-unauthorised", &message_id)).await;
        assert_eq!(status, 401, "token {token:?}: {body}");
    }
    assert_eq!(follow_up_jobs(&sys).await, 1, "a refused webhook enqueued a job");
    let after = sys.queue.counts().await.expect("counts").totals;
    assert_eq!(
        after.ready + after.scheduled + after.running + after.done + after.dead,
        total.ready + total.scheduled + total.running + total.done + total.dead
    );

    // Redis down → 503 (RingCentral re-sends); back → the re-sent webhook is processed.
    sys.redis.kill();
    let second = sys.rc(Method::POST, "/sandbox/voicemail", Some(json!({"extensionId": ADMIN_EXT}))).await;
    let second_id = id_text(&second["id"]);
    let lost_uuid = delivered_uuid(&sys, 503).await;
    let (status, _) = post(&sys, Some(TOKEN), &voicemail_event(&lost_uuid, &second_id)).await;
    assert_eq!(status, 503, "with Redis down the receiver must refuse");
    sys.redis.restart();
    let event = voicemail_event(&lost_uuid, &second_id);
    wait("the re-sent webhook to be accepted", || async {
        (post(&sys, Some(TOKEN), &event).await.0 == 200).then_some(())
    })
    .await;
    let external = format!("ringcentral:voicemail:{second_id}");
    sys.records_until("the re-sent voicemail's follow-up", |r| {
        find(r, "activities", "external_id", &external).len() == 1
    })
    .await;
    sys.stop().await;
}
