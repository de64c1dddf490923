//! Message store, call log and the telephony control routes of the RingCentral stand-in, over
//! real HTTP: voicemails and ended calls made through `/sandbox/` show up in the lists (paged,
//! filtered, 24 h default window) and fire the telephony-sessions events.

use crate::rc_support::webhook_receiver::{Handshake, Receiver};
use crate::rc_support::{error_code, ids, RcClient};
use reqwest::Method;
use serde_json::json;
use snapsync_tests::start_sandbox;

const EXT: &str = "/restapi/v1.0/account/~/extension/~";

#[tokio::test]
async fn voicemails_fill_the_message_store_newest_first_with_paging() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let mut made = Vec::new();
    for i in 0..3 {
        let from = json!({ "phoneNumber": format!("+1650555010{i}"), "name": format!("Caller {i}") });
        made.push(api.voicemail(json!({ "extensionId": 400000101, "from": from, "durationSecs": 10 + i })).await);
    }
    let m = &made[0];
    assert_eq!(m["type"], "VoiceMail");
    assert_eq!(m["readStatus"], "Unread");
    assert_eq!(m["availability"], "Alive");
    assert_eq!(m["attachments"][0]["contentType"], "audio/x-wav");
    assert_eq!(m["attachments"][0]["vmDuration"], 10);
    assert_eq!(m["from"]["name"], "Caller 0");

    let (status, page1) = api.get(&format!("{EXT}/message-store?perPage=2")).await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(ids(&page1), vec![made[2]["id"].clone(), made[1]["id"].clone()]);
    assert_eq!(page1["paging"]["totalElements"], 3);
    let next = page1["navigation"]["nextPage"]["uri"].as_str().unwrap();
    let next_path = next.strip_prefix(&sandbox.rc_url()).unwrap();
    assert!(next_path.starts_with("/restapi/v1.0/account/400000001/extension/400000101/message-store?"), "{next}");
    let (_, page2) = api.get(next_path).await;
    assert_eq!(ids(&page2), vec![made[0]["id"].clone()]);
    assert!(page2["navigation"].get("nextPage").is_none());

    let (status, one) = api.get(&format!("{EXT}/message-store/{}", made[1]["id"])).await;
    assert_eq!((status, &one), (200, &made[1]));

    let (_, vm) = api.get(&format!("{EXT}/message-store?messageType=VoiceMail&readStatus=Unread")).await;
    assert_eq!(vm["records"].as_array().unwrap().len(), 3);
    let (_, sms) = api.get(&format!("{EXT}/message-store?messageType=SMS")).await;
    assert_eq!(sms["records"], json!([]));
    let (_, read) = api.get(&format!("{EXT}/message-store?readStatus=Read")).await;
    assert_eq!(read["records"], json!([]));
}

#[tokio::test]
async fn message_store_defaults_to_the_last_24_hours() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    // Made after the new one, the backdated one still lists after it: lists sort by time.
    let new = api.voicemail(json!({})).await;
    let old = api.voicemail(json!({ "creationTime": "2020-01-02T03:04:05.000Z" })).await;
    let (_, list) = api.get(&format!("{EXT}/message-store")).await;
    assert_eq!(ids(&list), vec![new["id"].clone()]);
    let (_, list) = api.get(&format!("{EXT}/message-store?dateFrom=2020-01-01")).await;
    assert_eq!(ids(&list), vec![new["id"].clone(), old["id"].clone()]);
    let (_, list) = api.get(&format!("{EXT}/message-store?dateFrom=2020-01-01&dateTo=2020-01-03T00:00:00Z")).await;
    assert_eq!(ids(&list), vec![old["id"].clone()]);
}

#[tokio::test]
async fn message_store_rejects_bad_input() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    for (query, param) in [
        ("messageType=Letter", "messageType"),
        ("readStatus=Maybe", "readStatus"),
        ("availability=Gone", "availability"),
        ("dateFrom=yesterday", "dateFrom"),
        ("perPage=1001", "perPage"),
        ("page=0", "page"),
    ] {
        let (status, body) = api.get(&format!("{EXT}/message-store?{query}")).await;
        assert_eq!((status, error_code(&body)), (400, "CMN-101"), "{query}: {body}");
        assert_eq!(body["errors"][0]["parameterName"], param);
    }
    let (status, body) = api.get("/restapi/v1.0/account/~/extension/123/message-store").await;
    assert_eq!((status, error_code(&body)), (404, "CMN-102"));
    let (status, body) = api.get(&format!("{EXT}/message-store/999")).await;
    assert_eq!((status, error_code(&body)), (404, "CMN-102"));
    assert_eq!(body["errors"][0]["parameterName"], "messageId");
}

#[tokio::test]
async fn ended_calls_and_voicemails_fill_the_call_log() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let from = json!({ "phoneNumber": "+16505550100", "name": "Jane Doe" });
    let to = json!({ "extensionNumber": "101" });
    let (status, answered) = api
        .control(
            Method::POST,
            "/sandbox/calls/end",
            json!({ "from": from, "to": to, "direction": "Inbound", "durationSecs": 42 }),
        )
        .await;
    assert_eq!(status, 200, "{answered}");
    assert_eq!(answered["result"], "Accepted");
    assert_eq!(answered["duration"], 42);
    assert_eq!(answered["durationMs"], 42000);
    let (_, missed) =
        api.control(Method::POST, "/sandbox/calls/end", json!({ "from": from, "direction": "Inbound" })).await;
    assert_eq!(missed["result"], "Missed");
    let (_, outbound) = api
        .control(Method::POST, "/sandbox/calls/end", json!({ "to": from, "direction": "Outbound", "durationSecs": 5 }))
        .await;
    let vm = api.voicemail(json!({ "from": from })).await;

    let (status, page1) = api.get(&format!("{EXT}/call-log?perPage=3")).await;
    assert_eq!(status, 200, "{page1}");
    let first = &page1["records"][0];
    assert_eq!(first["result"], "Voicemail");
    assert_eq!(first["message"]["id"], vm["id"].to_string());
    assert_eq!(first["message"]["type"], "VoiceMail");
    assert_eq!(page1["records"][1]["id"], outbound["id"]);
    let next = page1["navigation"]["nextPage"]["uri"].as_str().unwrap();
    let (_, page2) = api.get(next.strip_prefix(&sandbox.rc_url()).unwrap()).await;
    assert_eq!(ids(&page2), vec![answered["id"].clone()]);

    let (_, outbound_only) = api.get(&format!("{EXT}/call-log?direction=Outbound")).await;
    assert_eq!(ids(&outbound_only), vec![outbound["id"].clone()]);
    let (_, company) = api.get("/restapi/v1.0/account/~/call-log").await;
    assert_eq!(company["records"].as_array().unwrap().len(), 4);
    let uri = company["records"][0]["uri"].as_str().unwrap();
    assert!(uri.contains("/restapi/v1.0/account/400000001/call-log/"), "{uri}");

    let (_, detailed) = api.get(&format!("{EXT}/call-log?view=Detailed")).await;
    assert_eq!(detailed["records"][0]["legs"][0]["legType"], "Accept");
    assert!(detailed["records"][0]["lastModifiedTime"].is_string());
    let (_, simple) = api.get(&format!("{EXT}/call-log")).await;
    assert!(simple["records"][0].get("legs").is_none());
}

// Call-log reads are Heavy (10 per window), so the single-record and error cases get a
// sandbox (and a rate-limit budget) of their own.
#[tokio::test]
async fn call_log_single_records_errors_and_date_window() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let from = json!({ "phoneNumber": "+16505550100", "name": "Jane Doe" });
    let (status, answered) = api
        .control(
            Method::POST,
            "/sandbox/calls/end",
            json!({ "from": from, "direction": "Inbound", "durationSecs": 42 }),
        )
        .await;
    assert_eq!(status, 200, "{answered}");

    let (status, one) = api.get(&format!("{EXT}/call-log/{}", answered["id"].as_str().unwrap())).await;
    assert_eq!((status, &one["id"]), (200, &answered["id"]));
    let (status, body) = api.get(&format!("{EXT}/call-log/nope")).await;
    assert_eq!((status, error_code(&body)), (404, "CMN-102"));
    let (status, body) = api.get(&format!("{EXT}/call-log?view=Fancy")).await;
    assert_eq!((status, body["errors"][0]["parameterName"].as_str()), (400, Some("view")));
    let (status, _) = api.get(&format!("{EXT}/call-log?dateTo=tomorrow")).await;
    assert_eq!(status, 400);

    // Backdated calls stay out of the default 24 h window.
    let (_, old) =
        api.control(Method::POST, "/sandbox/calls/end", json!({ "startTime": "2021-06-01T10:00:00Z" })).await;
    let (_, list) = api.get(&format!("{EXT}/call-log?perPage=max")).await;
    assert!(!ids(&list).contains(&old["id"]));
    let (_, list) = api.get(&format!("{EXT}/call-log?dateFrom=2021-01-01")).await;
    assert!(ids(&list).contains(&old["id"]));
}

#[tokio::test]
async fn ended_call_fires_account_and_extension_session_events() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let mut receiver = Receiver::start(Handshake::Echo).await;
    let filters =
        ["/restapi/v1.0/account/~/telephony/sessions", "/restapi/v1.0/account/~/extension/~/telephony/sessions"];
    let body =
        json!({ "eventFilters": filters, "deliveryMode": { "transportType": "WebHook", "address": receiver.url } });
    let resp = api.http.post(format!("{}/restapi/v1.0/subscription", api.base)).bearer_auth(&api.token).json(&body);
    assert_eq!(resp.send().await.unwrap().status(), 200);

    let (_, call) = api
        .control(
            Method::POST,
            "/sandbox/calls/end",
            json!({ "from": { "phoneNumber": "+16505550100" }, "result": "Missed" }),
        )
        .await;
    let mut events = vec![receiver.next_notification().await, receiver.next_notification().await];
    events.sort_by_key(|n| n.body["event"].as_str().unwrap().len());
    assert_eq!(events[0].body["event"], "/restapi/v1.0/account/400000001/telephony/sessions");
    assert_eq!(events[1].body["event"], "/restapi/v1.0/account/400000001/extension/400000101/telephony/sessions");
    for n in &events {
        let b = &n.body["body"];
        assert_eq!(b["telephonySessionId"], call["telephonySessionId"]);
        assert_eq!(b["parties"][0]["status"]["code"], "Disconnected");
        assert_eq!(b["parties"][0]["missedCall"], true);
        assert_eq!(b["parties"][0]["from"]["phoneNumber"], "+16505550100");
    }
}

#[tokio::test]
async fn control_routes_reject_bad_input() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    for (path, body, status, code) in [
        ("/sandbox/voicemail", json!({ "extensionId": 123 }), 404, "CMN-102"),
        ("/sandbox/voicemail", json!({ "extensionId": "abc" }), 404, "CMN-102"),
        ("/sandbox/voicemail", json!({ "durationSecs": -1 }), 400, "CMN-101"),
        ("/sandbox/voicemail", json!({ "from": "Jane" }), 400, "CMN-101"),
        ("/sandbox/voicemail", json!({ "creationTime": "last week" }), 400, "CMN-101"),
        ("/sandbox/voicemail", json!([1]), 400, "CMN-103"),
        ("/sandbox/calls/end", json!({ "extensionId": 123 }), 404, "CMN-102"),
        ("/sandbox/calls/end", json!({ "direction": "Sideways" }), 400, "CMN-101"),
        ("/sandbox/calls/end", json!({ "result": "Exploded" }), 400, "CMN-101"),
        ("/sandbox/calls/end", json!({ "to": { "phoneNumber": 5 } }), 400, "CMN-101"),
        ("/sandbox/calls/end", json!({ "startTime": 5 }), 400, "CMN-101"),
        ("/sandbox/calls/end", json!({ "deliver": "no" }), 400, "CMN-101"),
        ("/sandbox/messages", json!({}), 400, "CMN-101"),
        ("/sandbox/messages", json!({ "type": "Pager" }), 400, "CMN-101"),
        ("/sandbox/messages", json!({ "type": "SMS", "text": 5 }), 400, "CMN-101"),
        ("/sandbox/messages", json!({ "type": "Fax", "extensionId": 123 }), 404, "CMN-102"),
    ] {
        let (got, resp) = api.control(Method::POST, path, body.clone()).await;
        assert_eq!((got, error_code(&resp)), (status, code), "{path} {body}: {resp}");
    }
    // Nothing was recorded by the rejected requests.
    let (_, calls) = api.get(&format!("{EXT}/call-log")).await;
    assert_eq!(calls["records"], json!([]));
    let (_, messages) = api.get(&format!("{EXT}/message-store")).await;
    assert_eq!(messages["records"], json!([]));
}

#[tokio::test]
async fn call_log_finds_a_call_by_its_telephony_session() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let (_, first) = api.control(Method::POST, "/sandbox/calls/end", json!({ "durationSecs": 3 })).await;
    let (_, second) = api.control(Method::POST, "/sandbox/calls/end", json!({ "extensionId": 400000103 })).await;
    let session = second["telephonySessionId"].as_str().unwrap();
    let (status, found) = api.get(&format!("/restapi/v1.0/account/~/call-log?telephonySessionId={session}")).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(ids(&found), vec![second["id"].clone()]);
    assert_eq!(found["records"][0]["extension"]["id"], 400000103);
    let by_session = format!("{EXT}/call-log?sessionId={}", first["sessionId"].as_str().unwrap());
    assert_eq!(ids(&api.get(&by_session).await.1), vec![first["id"].clone()]);
    let (_, none) = api.get("/restapi/v1.0/account/~/call-log?telephonySessionId=s-nope").await;
    assert_eq!(none["records"], json!([]));
}

#[tokio::test]
async fn call_log_sync_runs_fsync_then_isync_from_its_token() {
    // More Heavy reads than RingCentral's 10 a minute.
    let rc_limits = snapsync_sandbox::RcLimits { heavy: 100, ..Default::default() };
    let sandbox = snapsync_tests::Sandbox::start(snapsync_tests::SandboxConfig { rc_limits, ..Default::default() })
        .await
        .expect("sandbox starts");
    let api = RcClient::new(&sandbox).await;
    let (_, old) =
        api.control(Method::POST, "/sandbox/calls/end", json!({ "startTime": "2021-06-01T10:00:00Z" })).await;
    let (_, a) = api.control(Method::POST, "/sandbox/calls/end", json!({ "durationSecs": 3 })).await;
    let (_, b) = api.control(Method::POST, "/sandbox/calls/end", json!({ "extensionId": 400000104 })).await;
    let account = "/restapi/v1.0/account/~/call-log-sync";
    let (status, full) = api.get(&format!("{account}?syncType=FSync")).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(ids(&full), vec![b["id"].clone(), a["id"].clone()], "newest first; no call older than 30 days");
    assert!(!ids(&full).contains(&old["id"]));
    assert_eq!(full["syncInfo"]["syncType"], "FSync");
    let token = full["syncInfo"]["syncToken"].as_str().unwrap().to_string();
    let (_, mine) = api.get(&format!("{EXT}/call-log-sync")).await;
    assert_eq!(ids(&mine), vec![a["id"].clone()], "an extension's sync holds its own calls");

    let (_, empty) = api.get(&format!("{account}?syncType=ISync&syncToken={token}")).await;
    assert_eq!(empty["records"], json!([]));
    assert_eq!(empty["syncInfo"]["syncToken"], token.as_str(), "nothing new: the same token");
    let (_, c) = api.control(Method::POST, "/sandbox/calls/end", json!({ "deliver": false })).await;
    let (_, d) = api.control(Method::POST, "/sandbox/calls/end", json!({ "extensionId": 400000103 })).await;
    let (_, one) = api.get(&format!("{account}?syncType=ISync&syncToken={token}&recordCount=1")).await;
    assert_eq!(ids(&one), vec![c["id"].clone()], "oldest first, recordCount bounds it");
    let next = one["syncInfo"]["syncToken"].as_str().unwrap();
    let (_, rest) = api.get(&format!("{account}?syncType=ISync&syncToken={next}")).await;
    assert_eq!(ids(&rest), vec![d["id"].clone()]);

    let (status, bad) = api.get(&format!("{account}?syncType=ISync&syncToken=garbage")).await;
    assert_eq!((status, error_code(&bad)), (400, "CLG-101"), "{bad}");
    let (status, other_scope) = api.get(&format!("{EXT}/call-log-sync?syncType=ISync&syncToken={token}")).await;
    assert_eq!((status, error_code(&other_scope)), (400, "CLG-101"), "{other_scope}");
    for query in ["syncType=Sometimes", "recordCount=0", "dateFrom=yesterday", "syncType=ISync"] {
        let (status, body) = api.get(&format!("{account}?{query}")).await;
        assert_eq!((status, error_code(&body)), (400, "CMN-101"), "{query}: {body}");
    }
}

#[tokio::test]
async fn message_sync_runs_fsync_then_isync_from_its_token_and_filters_by_type() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let sms = |text: &str| json!({ "type": "SMS", "from": { "phoneNumber": "+14155550199" }, "text": text });
    let (_, a) = api.control(Method::POST, "/sandbox/messages", sms("a")).await;
    let (_, fax) = api.control(Method::POST, "/sandbox/messages", json!({ "type": "Fax", "pages": 1 })).await;
    let sync = format!("{EXT}/message-sync");
    let (status, full) = api.get(&format!("{sync}?syncType=FSync&messageType=SMS")).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(ids(&full), vec![a["id"].clone()], "messageType filters");
    let (_, both) = api.get(&format!("{sync}?syncType=FSync&messageType=SMS,Fax")).await;
    assert_eq!(ids(&both), vec![fax["id"].clone(), a["id"].clone()], "newest first");
    assert_eq!(both["syncInfo"]["syncType"], "FSync");
    let token = both["syncInfo"]["syncToken"].as_str().unwrap().to_string();

    let (_, empty) = api.get(&format!("{sync}?syncType=ISync&syncToken={token}")).await;
    assert_eq!(empty["records"], json!([]));
    assert_eq!(empty["syncInfo"]["syncToken"], token.as_str(), "nothing new: the same token");
    let lost = json!({ "type": "SMS", "from": { "phoneNumber": "+14155550198" }, "text": "b", "deliver": false });
    let (_, b) = api.control(Method::POST, "/sandbox/messages", lost).await;
    let (_, c) = api.control(Method::POST, "/sandbox/messages", sms("c")).await;
    let (_, one) = api.get(&format!("{sync}?syncType=ISync&syncToken={token}&recordCount=1")).await;
    assert_eq!(ids(&one), vec![b["id"].clone()], "oldest first, recordCount bounds it; an undelivered one too");
    let next = one["syncInfo"]["syncToken"].as_str().unwrap();
    let (_, rest) = api.get(&format!("{sync}?syncType=ISync&syncToken={next}")).await;
    assert_eq!(ids(&rest), vec![c["id"].clone()]);
    assert_eq!(rest["records"][0], c, "the records are the message-store records");

    let (status, bad) = api.get(&format!("{sync}?syncType=ISync&syncToken=clg.a.0")).await;
    assert_eq!((status, error_code(&bad)), (400, "MSG-333"), "{bad}");
    for query in ["syncType=Sometimes", "recordCount=300", "messageType=Carrier", "syncType=ISync"] {
        let (status, body) = api.get(&format!("{sync}?{query}")).await;
        assert_eq!((status, error_code(&body)), (400, "CMN-101"), "{query}: {body}");
    }
}

#[tokio::test]
async fn sms_and_fax_arrive_in_the_message_store_and_fire_their_events() {
    let sandbox = start_sandbox().await;
    let api = RcClient::new(&sandbox).await;
    let mut receiver = Receiver::start(Handshake::Echo).await;
    let filters = [
        "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS",
        "/restapi/v1.0/account/~/extension/~/fax?direction=Inbound",
    ];
    let body =
        json!({ "eventFilters": filters, "deliveryMode": { "transportType": "WebHook", "address": receiver.url } });
    let resp = api.http.post(format!("{}/restapi/v1.0/subscription", api.base)).bearer_auth(&api.token).json(&body);
    assert_eq!(resp.send().await.unwrap().status(), 200);

    let from = json!({ "phoneNumber": "+14155550199", "name": "Pat" });
    let (status, sms) =
        api.control(Method::POST, "/sandbox/messages", json!({ "type": "sms", "from": from, "text": "hi" })).await;
    assert_eq!(status, 200, "{sms}");
    assert_eq!((sms["type"].as_str(), sms["direction"].as_str()), (Some("SMS"), Some("Inbound")));
    assert_eq!(sms["subject"], "hi");
    let n = receiver.next_notification().await;
    assert_eq!(n.body["event"], "/restapi/v1.0/account/400000001/extension/400000101/message-store/instant?type=SMS");
    assert_eq!(n.body["body"], sms, "the instant-SMS event carries the message");

    let (_, fax) =
        api.control(Method::POST, "/sandbox/messages", json!({ "type": "Fax", "from": from, "pages": 3 })).await;
    assert_eq!(fax["faxPageCount"], 3);
    let n = receiver.next_notification().await;
    assert_eq!(n.body["event"], "/restapi/v1.0/account/400000001/extension/400000101/fax?direction=Inbound");
    assert_eq!(n.body["body"]["id"], fax["id"]);

    let (_, stored) = api.get(&format!("{EXT}/message-store/{}", sms["id"])).await;
    assert_eq!(stored, sms);
    let (_, faxes) = api.get(&format!("{EXT}/message-store?messageType=Fax")).await;
    assert_eq!(ids(&faxes), vec![fax["id"].clone()]);
}
