//! Webhook delivery of the RingCentral stand-in, over real HTTP with a real receiver:
//! notification headers and envelope, events reaching only matching filters, blacklisting of
//! a failing receiver, and renewal reminders.

use std::time::Duration;

use crate::rc_support::webhook_receiver::{Handshake, Receiver};
use crate::rc_support::{webhook, RcClient, ADMIN_EVENT_PREFIX, VOICEMAIL};
use reqwest::Method;
use serde_json::json;
use snapsync_tests::{start_sandbox, wait_until_async};

#[tokio::test]
async fn voicemail_is_delivered_with_ringcentral_headers_and_envelope() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let mut receiver = Receiver::start(Handshake::Echo).await;
    let filters = [VOICEMAIL, "/restapi/v1.0/account/~/extension/~/message-store"];
    let (status, info) = api.create(webhook(&receiver.url, &filters)).await;
    assert_eq!(status, 200, "{info}");
    let id = info["id"].as_str().unwrap().to_string();

    let from = json!({ "phoneNumber": "+16505550100", "name": "Jane Doe" });
    let (status, message) =
        api.control(Method::POST, "/sandbox/voicemail", json!({ "from": from, "durationSecs": 7 })).await;
    assert_eq!(status, 200, "{message}");

    let n = receiver.next_event("/voicemail").await;
    assert_eq!(n.headers["verification-token"], "s3cret");
    assert_eq!(n.headers["user-agent"], "RingCentral-Webhook/8.3");
    assert_eq!(n.headers["content-type"], "application/json; charset=UTF-8");
    assert_eq!(n.headers["accept"], "application/json");
    assert_eq!(n.body["event"], format!("{ADMIN_EVENT_PREFIX}/voicemail"));
    assert_eq!(n.body["subscriptionId"], id);
    assert_eq!(n.body["ownerId"], "400000101");
    assert_eq!(n.body["uuid"].as_str().unwrap().len(), 36);
    assert!(n.body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(n.body["body"]["id"], message["id"]);
    assert_eq!(n.body["body"]["from"], from);
    assert_eq!(n.body["body"]["type"], "VoiceMail");
    assert_eq!(n.body["body"]["attachments"][0]["vmDuration"], 7);

    let n = receiver.next_event("/message-store").await;
    let change = &n.body["body"]["changes"][0];
    assert_eq!(change["type"], "VoiceMail");
    assert_eq!(change["newCount"], 1);
    assert_eq!(change["newMessageIds"], json!([message["id"]]));

    let recorded = wait_until_async("two recorded deliveries", Duration::from_secs(5), || async {
        let d = api.deliveries().await;
        (d.len() == 2).then_some(d)
    })
    .await;
    assert!(recorded.iter().all(|d| d["subscriptionId"] == id && d["status"] == 200), "{recorded:?}");
    let resp = api.http.delete(format!("{}/sandbox/deliveries", api.base)).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(api.deliveries().await.is_empty());
}

#[tokio::test]
async fn account_change_fires_extension_info_event_and_contact_site_changes_fire_none() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let mut info_rx = Receiver::start(Handshake::Echo).await;
    let mut vm_rx = Receiver::start(Handshake::Echo).await;
    let everything = [
        "/restapi/v1.0/account/~/extension/~",
        "/restapi/v1.0/account/~/extension",
        "/restapi/v1.0/account/~/directory/entries",
    ];
    assert_eq!(api.create(webhook(&info_rx.url, &everything)).await.0, 200);
    assert_eq!(api.create(webhook(&vm_rx.url, &[VOICEMAIL])).await.0, 200);

    // RingCentral has no event for personal contacts, sites or emergency locations.
    let (status, _) = api
        .control(
            Method::POST,
            "/sandbox/extensions/400000101/contacts",
            json!({ "firstName": "Ada", "lastName": "Lovelace" }),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(api.control(Method::PATCH, "/sandbox/sites/400000202", json!({ "name": "NYC Office" })).await.0, 200);
    assert_eq!(
        api.control(Method::PATCH, "/sandbox/emergency-locations/400000304", json!({ "name": "NYC Lobby" })).await.0,
        200
    );
    // An account change fires the extension-info event with the AccountSettings hint.
    let (status, _) = api.control(Method::PATCH, "/sandbox/account", json!({ "mainNumber": "+16505550199" })).await;
    assert_eq!(status, 200);
    let n = info_rx.next_notification().await;
    assert_eq!(n.body["event"], ADMIN_EVENT_PREFIX);
    assert_eq!(
        n.body["body"],
        json!({ "extensionId": "400000101", "eventType": "Update", "hints": ["AccountSettings"] })
    );
    // Deliveries are recorded in order, so the account event being the only one so far
    // shows the contact, site and location changes fired nothing.
    // (A delivery is recorded once its answer is in, which can trail the receiver's view.)
    let delivered =
        snapsync_tests::wait_until_async("the account event's delivery record", Duration::from_secs(5), || async {
            let d = api.deliveries().await;
            (!d.is_empty()).then_some(d)
        })
        .await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");

    // The voicemail subscriber got nothing: its next notification is the voicemail itself.
    api.control(Method::POST, "/sandbox/voicemail", json!({})).await;
    let n = vm_rx.next_notification().await;
    assert_eq!(n.body["event"], format!("{ADMIN_EVENT_PREFIX}/voicemail"));
}

#[tokio::test]
async fn failing_receiver_is_blacklisted_and_gets_nothing_more() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let settings = json!({ "blacklist_after_failures": 2, "blacklist_after_secs": 0 });
    let (status, now) = api.control(Method::PUT, "/sandbox/subscriptions/settings", settings).await;
    assert_eq!((status, &now["blacklist_after_failures"]), (200, &json!(2)));
    let mut bad = Receiver::start(Handshake::Echo).await;
    let mut good = Receiver::start(Handshake::Echo).await;
    let (_, info) = api.create(webhook(&bad.url, &[VOICEMAIL])).await;
    let bad_id = info["id"].as_str().unwrap().to_string();
    bad.answer_notifications_with(500);

    for _ in 0..2 {
        api.control(Method::POST, "/sandbox/voicemail", json!({})).await;
        bad.next_notification().await;
    }
    let path = format!("/restapi/v1.0/subscription/{bad_id}");
    let info = wait_until_async("the failing subscription to be blacklisted", Duration::from_secs(5), || async {
        let (_, info) = api.send(Method::GET, &path, None).await;
        (info["status"] == "Blacklisted").then_some(info)
    })
    .await;
    let reason = info["blacklistedData"]["reason"].as_str().unwrap();
    assert!(reason.contains("[500]"), "{reason}");
    assert!(info["blacklistedData"]["blacklistedAt"].as_str().unwrap().ends_with('Z'));

    // Renewing does not lift the blacklisting.
    let (_, renewed) = api.send(Method::POST, &format!("{path}/renew"), None).await;
    assert_eq!(renewed["status"], "Blacklisted");

    // A healthy subscriber receives the next voicemail; the blacklisted one does not.
    assert_eq!(api.create(webhook(&good.url, &[VOICEMAIL])).await.0, 200);
    api.control(Method::POST, "/sandbox/voicemail", json!({})).await;
    good.next_notification().await;
    assert!(bad.drain().is_empty());
    let to_bad = api.deliveries().await.into_iter().filter(|d| d["subscriptionId"] == bad_id.as_str()).count();
    assert_eq!(to_bad, 2);
}

#[tokio::test]
async fn renewal_reminder_arrives_inside_the_threshold() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let mut receiver = Receiver::start(Handshake::Echo).await;
    let mut body = webhook(&receiver.url, &["/restapi/v1.0/subscription/~?threshold=2&interval=1"]);
    body["expiresIn"] = json!(4);
    let (status, info) = api.create(body).await;
    assert_eq!(status, 200, "{info}");
    let id = info["id"].as_str().unwrap();
    let n = receiver.next_notification().await;
    assert_eq!(n.body["event"], format!("/restapi/v1.0/subscription/{id}?threshold=2&interval=1"));
    let left = n.body["body"]["expiresIn"].as_i64().unwrap();
    assert!((0..=2).contains(&left), "reminder inside the 2 s threshold, got {left}");
}
