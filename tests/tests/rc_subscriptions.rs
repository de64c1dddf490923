//! The Subscription API of the RingCentral stand-in, over real HTTP with a real webhook
//! receiver: the validation handshake and its error codes, validation of the request, the
//! 30-subscription cap, list/get/put/renew/delete, notification delivery (headers and
//! envelope), blacklisting of failing receivers and renewal reminders.

mod webhook_receiver;

use std::time::Duration;

use serde_json::{json, Value};
use snapsync_tests::{rc_token, start_sandbox, wait_until_async, Sandbox};
use webhook_receiver::{dead_address, Handshake, Receiver};

const VOICEMAIL: &str = "/restapi/v1.0/account/~/extension/~/voicemail";
const ADMIN_EVENT_PREFIX: &str = "/restapi/v1.0/account/400000001/extension/400000101";

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn new(sandbox: &Sandbox) -> Api {
        Api { http: reqwest::Client::new(), base: sandbox.rc_url(), token: rc_token(sandbox).await }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request to the sandbox");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("response body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create(&self, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, "/restapi/v1.0/subscription", Some(body)).await
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let resp = self.http.request(method, format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn deliveries(&self) -> Vec<Value> {
        let resp = self.http.get(format!("{}/sandbox/deliveries", self.base)).send().await.unwrap();
        resp.json::<Vec<Value>>().await.unwrap()
    }
}

fn webhook(address: &str, filters: &[&str]) -> Value {
    json!({
        "eventFilters": filters,
        "deliveryMode": { "transportType": "WebHook", "address": address, "verificationToken": "s3cret" },
    })
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["errorCode"].as_str().unwrap_or("")
}

#[tokio::test]
async fn handshake_failures_have_their_codes() {
    let sandbox = start_sandbox().await;
    let api = Api::new(&sandbox).await;

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

    let (status, _) = api
        .control(reqwest::Method::PUT, "/sandbox/subscriptions/settings", json!({ "handshake_timeout_ms": 200 }))
        .await;
    assert_eq!(status, 200);
    let slow = Receiver::start(Handshake::Slow).await;
    let (status, body) = api.create(webhook(&slow.url, &[VOICEMAIL])).await;
    assert_eq!((status, error_code(&body)), (400, "SUB-521"), "{body}");

    // None of the failed attempts left a subscription behind.
    let (_, list) = api.send(reqwest::Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(list["records"], json!([]));
}

#[tokio::test]
async fn created_subscription_is_normalised_and_hides_the_token() {
    let sandbox = start_sandbox().await;
    let api = Api::new(&sandbox).await;
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
    let api = Api::new(&sandbox).await;
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
    let (status, body) = api
        .control(reqwest::Method::PUT, "/sandbox/subscriptions/settings", json!({ "blacklist_after_secs": -1 }))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = api.control(reqwest::Method::PUT, "/sandbox/subscriptions/settings", json!({ "nope": 1 })).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn voicemail_is_delivered_with_ringcentral_headers_and_envelope() {
    let sandbox = start_sandbox().await;
    let api = Api::new(&sandbox).await;
    let mut receiver = Receiver::start(Handshake::Echo).await;
    let filters = [VOICEMAIL, "/restapi/v1.0/account/~/extension/~/message-store"];
    let (status, info) = api.create(webhook(&receiver.url, &filters)).await;
    assert_eq!(status, 200, "{info}");
    let id = info["id"].as_str().unwrap().to_string();

    let from = json!({ "phoneNumber": "+16505550100", "name": "Jane Doe" });
    let (status, message) =
        api.control(reqwest::Method::POST, "/sandbox/voicemail", json!({ "from": from, "durationSecs": 7 })).await;
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
async fn notify_fires_extension_info_events_only_to_matching_filters() {
    let sandbox = start_sandbox().await;
    let api = Api::new(&sandbox).await;
    let mut info_rx = Receiver::start(Handshake::Echo).await;
    let mut vm_rx = Receiver::start(Handshake::Echo).await;
    assert_eq!(api.create(webhook(&info_rx.url, &["/restapi/v1.0/account/~/extension/~"])).await.0, 200);
    assert_eq!(api.create(webhook(&vm_rx.url, &[VOICEMAIL])).await.0, 200);

    let body = json!({ "extensionId": "400000101", "eventType": "Update", "hints": ["AccountSettings"] });
    snapsync_sandbox::ringcentral::subscriptions::notify(sandbox.rc_state(), ADMIN_EVENT_PREFIX, body.clone());
    let n = info_rx.next_notification().await;
    assert_eq!(n.body["event"], ADMIN_EVENT_PREFIX);
    assert_eq!(n.body["body"], body);

    // The voicemail subscriber got nothing: its next notification is the voicemail itself.
    api.control(reqwest::Method::POST, "/sandbox/voicemail", json!({})).await;
    let n = vm_rx.next_notification().await;
    assert_eq!(n.body["event"], format!("{ADMIN_EVENT_PREFIX}/voicemail"));
}

#[tokio::test]
async fn thirty_first_subscription_is_refused() {
    let sandbox = start_sandbox().await;
    let api = Api::new(&sandbox).await;
    let receiver = Receiver::start(Handshake::Echo).await;
    for i in 0..30 {
        let (status, body) = api.create(webhook(&receiver.url, &[VOICEMAIL])).await;
        assert_eq!(status, 200, "subscription {i}: {body}");
    }
    let (status, body) = api.create(webhook(&receiver.url, &[VOICEMAIL])).await;
    assert_eq!((status, error_code(&body)), (403, "SUB-505"), "{body}");
    let (_, list) = api.send(reqwest::Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(list["records"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn list_get_put_renew_delete_and_expiry() {
    let sandbox = start_sandbox().await;
    let api = Api::new(&sandbox).await;
    let mut first = Receiver::start(Handshake::Echo).await;
    let mut second = Receiver::start(Handshake::Echo).await;
    let mut body = webhook(&first.url, &[VOICEMAIL]);
    body["expiresIn"] = json!(3600);
    let (_, info) = api.create(body).await;
    let id = info["id"].as_str().unwrap().to_string();
    let path = format!("/restapi/v1.0/subscription/{id}");

    let (status, list) = api.send(reqwest::Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["uri"], format!("{}/restapi/v1.0/subscription", sandbox.rc_url()));
    assert_eq!(list["records"][0]["id"], id.as_str());
    let (status, got) = api.send(reqwest::Method::GET, &path, None).await;
    assert_eq!((status, &got["id"]), (200, &json!(id)));

    // PUT moves the subscription to another address (new handshake), new filters, and renews.
    first.next_handshake().await;
    let change = json!({
        "eventFilters": ["/restapi/v1.0/account/~/extension/~/message-store"],
        "deliveryMode": { "transportType": "WebHook", "address": second.url },
        "expiresIn": 7200,
    });
    let (status, put) = api.send(reqwest::Method::PUT, &path, Some(change)).await;
    assert_eq!(status, 200, "{put}");
    second.next_handshake().await;
    assert_eq!(put["eventFilters"], json!([format!("{ADMIN_EVENT_PREFIX}/message-store")]));
    assert_eq!(put["deliveryMode"]["address"], second.url.as_str());
    assert!(put["expiresIn"].as_i64().unwrap() > 7190);
    api.control(reqwest::Method::POST, "/sandbox/voicemail", json!({})).await;
    let n = second.next_notification().await;
    assert_eq!(n.body["event"], format!("{ADMIN_EVENT_PREFIX}/message-store"));
    assert!(n.headers.get("verification-token").is_none(), "the PUT set no verification token");

    let (status, renewed) = api.send(reqwest::Method::POST, &format!("{path}/renew"), None).await;
    assert_eq!(status, 200);
    assert!(renewed["expiresIn"].as_i64().unwrap() > 7190);

    // Forced expiry: gone from get, list and renew, and no more events.
    let (status, _) =
        api.control(reqwest::Method::POST, &format!("/sandbox/subscriptions/{id}/expire"), json!({})).await;
    assert_eq!(status, 200);
    for (method, p) in [(reqwest::Method::GET, path.clone()), (reqwest::Method::POST, format!("{path}/renew"))] {
        let (status, body) = api.send(method, &p, None).await;
        assert_eq!((status, error_code(&body)), (404, "CMN-102"), "{body}");
        assert_eq!(body["errors"][0]["parameterName"], "subscriptionId");
    }
    let (_, list) = api.send(reqwest::Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(list["records"], json!([]));
    // A sentinel subscription on the same event proves the event went out meanwhile.
    let mut sentinel = Receiver::start(Handshake::Echo).await;
    assert_eq!(api.create(webhook(&sentinel.url, &["/restapi/v1.0/account/~/extension/~/message-store"])).await.0, 200);
    api.control(reqwest::Method::POST, "/sandbox/voicemail", json!({})).await;
    sentinel.next_notification().await;
    assert!(second.drain().is_empty(), "an expired subscription got an event");
    let to_expired = api.deliveries().await.into_iter().filter(|d| d["subscriptionId"] == id.as_str()).count();
    assert_eq!(to_expired, 1);

    // Delete: 204, then 404.
    let (_, info) = api.create(webhook(&first.url, &[VOICEMAIL])).await;
    let path = format!("/restapi/v1.0/subscription/{}", info["id"].as_str().unwrap());
    let resp = api.http.delete(format!("{}{path}", api.base)).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let (status, body) = api.send(reqwest::Method::DELETE, &path, None).await;
    assert_eq!((status, error_code(&body)), (404, "CMN-102"));
    let (status, _) = api.send(reqwest::Method::PUT, "/restapi/v1.0/subscription/nope", Some(json!({}))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn failing_receiver_is_blacklisted_and_gets_nothing_more() {
    let sandbox = start_sandbox().await;
    let api = Api::new(&sandbox).await;
    let settings = json!({ "blacklist_after_failures": 2, "blacklist_after_secs": 0 });
    let (status, now) = api.control(reqwest::Method::PUT, "/sandbox/subscriptions/settings", settings).await;
    assert_eq!((status, &now["blacklist_after_failures"]), (200, &json!(2)));
    let mut bad = Receiver::start(Handshake::Echo).await;
    let mut good = Receiver::start(Handshake::Echo).await;
    let (_, info) = api.create(webhook(&bad.url, &[VOICEMAIL])).await;
    let bad_id = info["id"].as_str().unwrap().to_string();
    bad.answer_notifications_with(500);

    for _ in 0..2 {
        api.control(reqwest::Method::POST, "/sandbox/voicemail", json!({})).await;
        bad.next_notification().await;
    }
    let path = format!("/restapi/v1.0/subscription/{bad_id}");
    let info = wait_until_async("the failing subscription to be blacklisted", Duration::from_secs(5), || async {
        let (_, info) = api.send(reqwest::Method::GET, &path, None).await;
        (info["status"] == "Blacklisted").then_some(info)
    })
    .await;
    let reason = info["blacklistedData"]["reason"].as_str().unwrap();
    assert!(reason.contains("[500]"), "{reason}");
    assert!(info["blacklistedData"]["blacklistedAt"].as_str().unwrap().ends_with('Z'));

    // Renewing does not lift the blacklisting.
    let (_, renewed) = api.send(reqwest::Method::POST, &format!("{path}/renew"), None).await;
    assert_eq!(renewed["status"], "Blacklisted");

    // A healthy subscriber receives the next voicemail; the blacklisted one does not.
    assert_eq!(api.create(webhook(&good.url, &[VOICEMAIL])).await.0, 200);
    api.control(reqwest::Method::POST, "/sandbox/voicemail", json!({})).await;
    good.next_notification().await;
    assert!(bad.drain().is_empty());
    let to_bad = api.deliveries().await.into_iter().filter(|d| d["subscriptionId"] == bad_id.as_str()).count();
    assert_eq!(to_bad, 2);
}

#[tokio::test]
async fn renewal_reminder_arrives_inside_the_threshold() {
    let sandbox = start_sandbox().await;
    let api = Api::new(&sandbox).await;
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
