//! The sandbox starts on free ports, logs in with its JWT, and answers unknown paths and
//! missing tokens the way RingCentral does.

use snapsync_tests::{rc_token, start_sandbox};

#[tokio::test]
async fn login_and_unknown_route() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    assert!(!token.is_empty());
    let resp = reqwest::get(format!("{}/restapi/v1.0/nope", sandbox.rc_url())).await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "CMN-120");
    sandbox.stop().await;
}
