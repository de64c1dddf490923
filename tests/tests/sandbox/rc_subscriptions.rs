//! The Subscription API of the RingCentral stand-in, over real HTTP with a real webhook
//! receiver: the validation handshake and its error codes, validation of the request, the
//! 30-subscription cap, and list/get/put/renew/delete with expiry.

use std::time::Duration;

use crate::rc_support::webhook_receiver::{dead_address, Handshake, Receiver};
use crate::rc_support::{error_code, webhook, RcClient, ADMIN_EVENT_PREFIX, VOICEMAIL};
use reqwest::Method;
use serde_json::{json, Value};
use snapsync_tests::{start_sandbox, wait_until_async};

#[tokio::test]
async fn handshake_failures_have_their_codes() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;

    let mut no_echo = Receiver::start(Handshake::NoEcho).await;
    let (status, body) = api.create(webhook(&no_echo.url, &[VOICEMAIL])).await;
    assert_eq!((status, error_code(&body)), (400, "SUB-520"), "{body}");
    // The handshake carries a Validation-Token and the configured Verification-Token.
    let headers = no_echo.next_handshake().await;
    assert!(headers.get("validation-token").is_some_and(|v| !v.is_empty()));
    assert_eq!(headers.get("verification-token").unwrap(), "s3cret");

    let failing = Receiver::start(Handshake::Status(500)).await;
    let (status, body) = api.create(webhook(&failing.url, &[VOICEMAIL])).await;
    assert_eq!((status, error_code(&body)), (400, "SUB-521"), "{body}");

    let (status, body) = api.create(webhook(&dead_address().await, &[VOICEMAIL])).await;
    assert_eq!((status, error_code(&body)), (400, "SUB-521"), "{body}");

    let oversized = Receiver::start(Handshake::Oversized).await;
    let (status, body) = api.create(webhook(&oversized.url, &[VOICEMAIL])).await;
    assert_eq!((status, error_code(&body)), (400, "SUB-525"), "{body}");

    let (status, _) =
        api.control(Method::PUT, "/sandbox/subscriptions/settings", json!({ "handshake_timeout_ms": 200 })).await;
    assert_eq!(status, 200);
    let slow = Receiver::start(Handshake::Slow).await;
    let (status, body) = api.create(webhook(&slow.url, &[VOICEMAIL])).await;
    assert_eq!((status, error_code(&body)), (400, "SUB-521"), "{body}");

    // None of the failed attempts left a subscription behind.
    let (_, list) = api.send(Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(list["records"], json!([]));
}

#[tokio::test]
async fn created_subscription_is_normalised_and_hides_the_token() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let filters =
        [VOICEMAIL, "/restapi/v1.0/account/~/extension", "/restapi/v1.0/subscription/~?threshold=86400&interval=3600"];
    let (status, info) = api.create(webhook(&receiver.url, &filters)).await;
    assert_eq!(status, 200, "{info}");
    let id = info["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "id is a UUID: {id}");
    assert_eq!(info["uri"], format!("{}/restapi/v1.0/subscription/{id}", sandbox.rc_url()));
    assert_eq!(
        info["eventFilters"],
        json!([
            format!("{ADMIN_EVENT_PREFIX}/voicemail"),
            "/restapi/v1.0/account/400000001/extension",
            format!("/restapi/v1.0/subscription/{id}?threshold=86400&interval=3600"),
        ])
    );
    assert_eq!(info["disabledFilters"], json!([]));
    assert_eq!(info["status"], "Active");
    assert!(info.get("blacklistedData").is_none());
    let left = info["expiresIn"].as_i64().unwrap();
    assert!((604_790..=604_800).contains(&left), "default expiresIn is 7 days, got {left}");
    let expiration = info["expirationTime"].as_str().unwrap();
    assert!(expiration.len() == 24 && expiration.ends_with('Z') && &expiration[19..20] == ".", "{expiration}");
    assert_eq!(
        info["deliveryMode"],
        json!({ "transportType": "WebHook", "address": receiver.url, "encryption": false })
    );
    assert!(!info.to_string().contains("s3cret"), "verificationToken must never be echoed");

    // expiresIn above 10 years is clamped to 10 years.
    let mut body = webhook(&receiver.url, &[VOICEMAIL]);
    body["expiresIn"] = json!(400_000_000u64);
    let (status, info) = api.create(body).await;
    assert_eq!(status, 200);
    assert!(info["expiresIn"].as_i64().unwrap() > 315_359_990 && info["expiresIn"].as_i64().unwrap() <= 315_360_000);
}

#[tokio::test]
async fn bad_requests_get_ringcentral_errors() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let url = receiver.url.as_str();
    let mode = json!({ "transportType": "WebHook", "address": url });
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (json!({ "deliveryMode": mode }), 400, "CMN-101", Some("eventFilters")),
        (json!({ "eventFilters": [], "deliveryMode": mode }), 400, "CMN-101", Some("eventFilters")),
        (json!({ "eventFilters": ["/restapi/v1.0/account/~/nonsense"], "deliveryMode": mode }), 400, "SUB-508", None),
        (json!({ "eventFilters": [""], "deliveryMode": mode }), 400, "SUB-508", None),
        (
            json!({ "eventFilters": ["/restapi/v1.0/account/777/extension"], "deliveryMode": mode }),
            403,
            "SUB-406",
            None,
        ),
        (
            json!({ "eventFilters": ["/restapi/v1.0/subscription/~?threshold=400000&interval=3600"], "deliveryMode": mode }),
            400,
            "SUB-516",
            None,
        ),
        (
            json!({ "eventFilters": [VOICEMAIL], "deliveryMode": { "transportType": "PubNub", "address": url } }),
            400,
            "CMN-101",
            Some("deliveryMode.transportType"),
        ),
        (
            json!({ "eventFilters": [VOICEMAIL], "deliveryMode": { "transportType": "WebHook", "address": "not a url" } }),
            400,
            "CMN-101",
            Some("deliveryMode.address"),
        ),
        (json!({ "eventFilters": [VOICEMAIL] }), 400, "CMN-101", Some("deliveryMode.address")),
        (
            json!({ "eventFilters": [VOICEMAIL], "deliveryMode": mode, "expiresIn": 0 }),
            400,
            "CMN-101",
            Some("expiresIn"),
        ),
        (
            json!({ "eventFilters": [VOICEMAIL], "deliveryMode": mode, "expiresIn": "x" }),
            400,
            "CMN-101",
            Some("expiresIn"),
        ),
    ];
    for (body, status, code, param) in cases {
        let (got, resp) = api.create(body.clone()).await;
        assert_eq!((got, error_code(&resp)), (status, code), "for {body}: {resp}");
        if let Some(p) = param {
            assert_eq!(resp["errors"][0]["parameterName"], p, "for {body}");
        }
    }
    let resp = api
        .http
        .post(format!("{}/restapi/v1.0/subscription", api.base))
        .bearer_auth(&api.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = api.http.post(format!("{}/restapi/v1.0/subscription", api.base)).json(&webhook(url, &[VOICEMAIL]));
    assert_eq!(resp.send().await.unwrap().status(), 401, "no token, no subscription");
    let (status, body) =
        api.control(Method::PUT, "/sandbox/subscriptions/settings", json!({ "blacklist_after_secs": -1 })).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = api.control(Method::PUT, "/sandbox/subscriptions/settings", json!({ "nope": 1 })).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn thirty_first_subscription_is_refused() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let receiver = Receiver::start(Handshake::Echo).await;
    for i in 0..30 {
        let (status, body) = api.create(webhook(&receiver.url, &[VOICEMAIL])).await;
        assert_eq!(status, 200, "subscription {i}: {body}");
    }
    let (status, body) = api.create(webhook(&receiver.url, &[VOICEMAIL])).await;
    assert_eq!((status, error_code(&body)), (403, "SUB-505"), "{body}");
    let (_, list) = api.send(Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(list["records"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn list_get_put_renew_delete_and_expiry() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let mut first = Receiver::start(Handshake::Echo).await;
    let mut second = Receiver::start(Handshake::Echo).await;
    let mut body = webhook(&first.url, &[VOICEMAIL]);
    body["expiresIn"] = json!(3600);
    let (_, info) = api.create(body).await;
    let id = info["id"].as_str().unwrap().to_string();
    let path = format!("/restapi/v1.0/subscription/{id}");

    let (status, list) = api.send(Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["uri"], format!("{}/restapi/v1.0/subscription", sandbox.rc_url()));
    assert_eq!(list["records"][0]["id"], id.as_str());
    let (status, got) = api.send(Method::GET, &path, None).await;
    assert_eq!((status, &got["id"]), (200, &json!(id)));

    // PUT moves the subscription to another address (new handshake), new filters, and renews.
    first.next_handshake().await;
    let change = json!({
        "eventFilters": ["/restapi/v1.0/account/~/extension/~/message-store"],
        "deliveryMode": { "transportType": "WebHook", "address": second.url },
        "expiresIn": 7200,
    });
    let (status, put) = api.send(Method::PUT, &path, Some(change)).await;
    assert_eq!(status, 200, "{put}");
    second.next_handshake().await;
    assert_eq!(put["eventFilters"], json!([format!("{ADMIN_EVENT_PREFIX}/message-store")]));
    assert_eq!(put["deliveryMode"]["address"], second.url.as_str());
    assert!(put["expiresIn"].as_i64().unwrap() > 7190);
    api.control(Method::POST, "/sandbox/voicemail", json!({})).await;
    let n = second.next_notification().await;
    assert_eq!(n.body["event"], format!("{ADMIN_EVENT_PREFIX}/message-store"));
    assert!(n.headers.get("verification-token").is_none(), "the PUT set no verification token");

    let (status, renewed) = api.send(Method::POST, &format!("{path}/renew"), None).await;
    assert_eq!(status, 200);
    assert!(renewed["expiresIn"].as_i64().unwrap() > 7190);

    // Forced expiry: gone from get, list and renew, and no more events.
    let (status, _) = api.control(Method::POST, &format!("/sandbox/subscriptions/{id}/expire"), json!({})).await;
    assert_eq!(status, 200);
    for (method, p) in [(Method::GET, path.clone()), (Method::POST, format!("{path}/renew"))] {
        let (status, body) = api.send(method, &p, None).await;
        assert_eq!((status, error_code(&body)), (404, "CMN-102"), "{body}");
        assert_eq!(body["errors"][0]["parameterName"], "subscriptionId");
    }
    let (_, list) = api.send(Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(list["records"], json!([]));
    // A sentinel subscription on the same event proves the event went out meanwhile.
    let mut sentinel = Receiver::start(Handshake::Echo).await;
    let (_, info) = api.create(webhook(&sentinel.url, &["/restapi/v1.0/account/~/extension/~/message-store"])).await;
    let sentinel_id = info["id"].clone();
    api.control(Method::POST, "/sandbox/voicemail", json!({})).await;
    sentinel.next_notification().await;
    assert!(second.drain().is_empty(), "an expired subscription got an event");
    // Deliveries are recorded once the receiver has answered: wait for the sentinel's record.
    let recorded = wait_until_async("the sentinel's delivery record", Duration::from_secs(5), || async {
        let d = api.deliveries().await;
        d.iter().any(|d| d["subscriptionId"] == sentinel_id).then_some(d)
    })
    .await;
    assert_eq!(recorded.iter().filter(|d| d["subscriptionId"] == id.as_str()).count(), 1, "{recorded:?}");

    // Delete: 204, then 404.
    let (_, info) = api.create(webhook(&first.url, &[VOICEMAIL])).await;
    let path = format!("/restapi/v1.0/subscription/{}", info["id"].as_str().unwrap());
    let resp = api.http.delete(format!("{}{path}", api.base)).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let (status, body) = api.send(Method::DELETE, &path, None).await;
    assert_eq!((status, error_code(&body)), (404, "CMN-102"));
    let (status, _) = api.send(Method::PUT, "/restapi/v1.0/subscription/nope", Some(json!({}))).await;
    assert_eq!(status, 404);
}
