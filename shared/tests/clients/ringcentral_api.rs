//! API calls against the sandbox: paging through `navigation`, typed reads, rate-limit
//! headers, classified errors (429 with `Retry-After`, 5xx retryable, 4xx permanent with
//! RingCentral's code), subscriptions, and no secret in any log line.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ringcentral_support::{start, webhook_receiver, ADMIN_EXT};
use reqwest::Method;
use serde_json::json;
use snapsync::ringcentral::{RateInfo, RcError};

#[tokio::test]
async fn logs_in_and_pages_through_extensions_and_contacts() {
    let env = start().await;
    let seen: Arc<Mutex<Vec<RateInfo>>> = Arc::default();
    let sink = seen.clone();
    let rc = env.client().await.on_rate_info(move |r| sink.lock().expect("lock").push(r.clone()));

    let exts = rc.extensions(&[("perPage", "10".into())]).await.expect("extensions");
    let ids: HashSet<&str> = exts.iter().map(|e| e.id.as_str()).collect();
    assert_eq!((exts.len(), ids.len()), (25, 25), "three pages of 10, 10, 5, no repeats");
    assert!(ids.contains(ADMIN_EXT) && ids.contains("400000125"));
    let admin = exts.iter().find(|e| e.id == ADMIN_EXT).expect("admin");
    assert_eq!(admin.kind.as_deref(), Some("User"));

    let path = format!("/restapi/v1.0/account/~/extension/{ADMIN_EXT}/address-book/contact");
    let contacts: Vec<snapsync::ringcentral::types::Contact> =
        rc.pages(&path, &[("perPage", "30".into())]).await.expect("contacts");
    let ids: HashSet<&str> = contacts.iter().map(|c| c.id.as_str()).collect();
    assert_eq!((contacts.len(), ids.len()), (80, 80), "extension 101's book over three pages");

    let seen = seen.lock().expect("lock");
    let medium: Vec<_> = seen.iter().filter(|r| r.group == "medium").collect();
    let heavy: Vec<_> = seen.iter().filter(|r| r.group == "heavy").collect();
    assert_eq!(medium.len(), 3, "one rate info per extension page: {seen:?}");
    assert_eq!(heavy.len(), 3);
    assert_eq!((heavy[0].limit, heavy[0].window), (10, Duration::from_secs(2)));
    assert!(heavy[2].remaining < heavy[0].remaining, "remaining counts down");
    assert!(seen.iter().any(|r| r.group == "auth"), "the login's headers are observed too");
}

#[tokio::test]
async fn typed_reads() {
    let env = start().await;
    let rc = env.client().await;
    let account = rc.account_info().await.expect("account");
    assert_eq!(account.id, "400000001");
    assert_eq!(account.main_number.as_deref(), Some("+16505550100"));
    assert_eq!(account.operator.and_then(|o| o.id).as_deref(), Some(ADMIN_EXT));
    let business = rc.business_address().await.expect("business address");
    assert_eq!(business.company.as_deref(), Some("Sandbox Widgets Inc."));
    let sites = rc.sites().await.expect("sites");
    let site_ids: Vec<&str> = sites.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(site_ids.len(), 3);
    assert!(site_ids.contains(&"400000201") && site_ids.contains(&"400000203"));
    let locations = rc.emergency_locations(&[("perPage", "4".into())]).await.expect("locations");
    assert_eq!(locations.len(), 6, "two pages");
    let ext = rc.extension("400000103").await.expect("one extension");
    assert_eq!(ext.extension_number.as_deref(), Some("103"));
    assert_eq!(ext.site.and_then(|s| s.id).as_deref(), Some("400000202"), "103 is in New York");

    let vm = env.control(Method::POST, "/sandbox/voicemail", Some(json!({"extensionId": ADMIN_EXT}))).await;
    let vm_id = vm["id"].to_string().trim_matches('"').to_owned();
    let msg = rc.message(ADMIN_EXT, &vm_id).await.expect("message");
    assert_eq!((msg.id.as_str(), msg.kind.as_deref()), (vm_id.as_str(), Some("VoiceMail")));
    let call = env
        .control(Method::POST, "/sandbox/calls/end", Some(json!({"extensionId": ADMIN_EXT, "durationSecs": 30})))
        .await;
    let calls = rc.call_log(ADMIN_EXT, &[]).await.expect("call log");
    let call_id = call["id"].as_str().expect("call id");
    assert!(calls.iter().any(|c| c.id == call_id), "the ended call is in the log");
    let record = rc.call_log_record(ADMIN_EXT, call_id).await.expect("one record");
    assert_eq!(record.duration, Some(30));
}

#[tokio::test]
async fn a_4xx_is_permanent_with_ringcentral_error_code() {
    let env = start().await;
    let rc = env.client().await;
    let err = rc.extension("400000999").await.expect_err("unknown extension");
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.error_code(), Some("CMN-102"));
    assert_eq!(err.parameter(), Some("extensionId"));
    assert!(!err.is_retryable());
    assert_eq!(err.retry_after(), None);
    assert!(err.to_string().contains("404 CMN-102"), "{err}");
    assert!(err.rate_info().is_some_and(|r| r.group == "light"), "errors carry rate headers too");

    let err = rc.extension("../../oauth/token").await.expect_err("an id that is not a path segment");
    assert!(matches!(err, RcError::InvalidId { what: "extensionId", .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_429_carries_retry_after_and_a_503_is_retryable() {
    let env = start().await;
    let rc = env.client().await;
    rc.account_info().await.expect("login first");
    env.fault(json!({"route": "GET /restapi/v1.0/account/*/sites", "statuses": [429, 503], "retry_after": 7})).await;
    let err = rc.sites().await.expect_err("429");
    assert!(matches!(err, RcError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.error_code(), Some("CMN-301"));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_retryable());
    let err = rc.sites().await.expect_err("503");
    assert_eq!((err.status(), err.error_code()), (Some(503), Some("CMN-201")));
    assert!(err.is_retryable());
    assert_eq!(rc.sites().await.expect("the rule is used up").len(), 3);
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_connect_error() {
    let env = start().await;
    let mut settings = env.settings();
    let port = snapsync_testkit::free_port();
    settings.server_url = format!("http://127.0.0.1:{port}");
    let rc = snapsync::ringcentral::RingCentral::new(settings, env.conn().await, "t-down").expect("client");
    let err = rc.account_info().await.expect_err("nobody listens");
    assert!(matches!(err, RcError::Connect { .. }), "{err:?}");
    assert!(err.is_retryable());

    let mut settings = env.settings();
    settings.server_url = "platform.ringcentral.com".into();
    let err = snapsync::ringcentral::RingCentral::new(settings, env.conn().await, "t").expect_err("not a URL");
    assert!(err.to_string().contains("ringcentral.server_url"), "{err}");
}

#[tokio::test]
async fn subscription_lifecycle() {
    let env = start().await;
    let rc = env.client().await;
    let address = webhook_receiver().await;
    let filters = vec![
        "/restapi/v1.0/account/~/extension/~/voicemail".to_string(),
        "/restapi/v1.0/subscription/~?threshold=86400&interval=3600".to_string(),
    ];
    let sub = rc.create_subscription(&filters, &address, Some("verify-me"), Some(604800)).await.expect("create");
    assert_eq!(sub.status.as_deref(), Some("Active"));
    assert_eq!(sub.event_filters.len(), 2);
    let mode = sub.delivery_mode.clone().expect("delivery mode");
    assert_eq!((mode.address.as_str(), mode.verification_token), (address.as_str(), None));
    let listed = rc.list_subscriptions().await.expect("list");
    assert!(listed.iter().any(|s| s.id == sub.id));
    assert_eq!(rc.subscription(&sub.id).await.expect("get").id, sub.id);
    assert_eq!(rc.renew_subscription(&sub.id).await.expect("renew").id, sub.id);
    let updated = rc.update_subscription(&sub.id, &filters[..1], Some(3600)).await.expect("update");
    assert_eq!(updated.event_filters.len(), 1);
    rc.delete_subscription(&sub.id).await.expect("delete");
    let err = rc.subscription(&sub.id).await.expect_err("gone");
    assert_eq!((err.status(), err.error_code()), (Some(404), Some("CMN-102")));
}
