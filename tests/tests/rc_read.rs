//! The RingCentral read endpoints over real HTTP: account info, business address,
//! extensions, sites, emergency locations and personal contacts, with paging, `~` and
//! numeric ids, unknown ids and bad query values.

use serde_json::Value;
use snapsync_tests::{rc_token, start_sandbox, Sandbox};

async fn get(sandbox: &Sandbox, token: &str, path: &str) -> (u16, Value) {
    let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", sandbox.rc_url()) };
    let resp = reqwest::Client::new().get(url).bearer_auth(token).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

#[tokio::test]
async fn account_info_and_business_address() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let (status, acc) = get(&sandbox, &token, "/restapi/v1.0/account/~").await;
    assert_eq!(status, 200, "{acc}");
    assert_eq!(acc["id"], 400000001);
    assert_eq!(acc["uri"], format!("{}/restapi/v1.0/account/400000001", sandbox.rc_url()));
    assert_eq!(acc["mainNumber"], "+16505550100");
    assert_eq!(acc["status"], "Confirmed");
    assert_eq!(acc["setupWizardState"], "Completed");
    assert_eq!(acc["operator"]["id"], 400000101);
    assert_eq!(acc["operator"]["extensionNumber"], "101");
    assert!(acc["serviceInfo"]["brand"]["name"].is_string());
    assert!(acc.get("company").is_none(), "company name lives in business-address only");

    let (status, same) = get(&sandbox, &token, "/restapi/v1.0/account/400000001").await;
    assert_eq!(status, 200);
    assert_eq!(same, acc, "~ and the numeric id agree");

    let (status, err) = get(&sandbox, &token, "/restapi/v1.0/account/999").await;
    assert_eq!(status, 404);
    assert_eq!(err["errors"][0]["errorCode"], "CMN-102");
    assert_eq!(err["errors"][0]["parameterName"], "accountId");

    let (status, ba) = get(&sandbox, &token, "/restapi/v1.0/account/~/business-address").await;
    assert_eq!(status, 200, "{ba}");
    assert_eq!(ba["company"], "Sandbox Widgets Inc.");
    assert_eq!(ba["email"], "admin@sandbox-widgets.example.com");
    assert_eq!(ba["mainSiteName"], "Headquarters");
    assert_eq!(ba["businessAddress"]["city"], "San Mateo");
    assert_eq!(ba["businessAddress"]["state"], "CA");
    assert_eq!(ba["uri"], format!("{}/restapi/v1.0/account/400000001/business-address", sandbox.rc_url()));
    sandbox.stop().await;
}
