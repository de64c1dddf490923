//! The `/sandbox/` control API for the account's data, over real HTTP: contacts, sites,
//! emergency locations, account and business address change, the RingCentral endpoints
//! show the change, and bad input is a 400 naming the field (unknown ids a 404).

use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

use snapsync_tests::{rc_token, start_sandbox, start_sandbox_with, Sandbox};

async fn get(sandbox: &Sandbox, token: &str, path: &str) -> (u16, Value) {
    let resp =
        reqwest::Client::new().get(format!("{}{path}", sandbox.rc_url())).bearer_auth(token).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

async fn control(sandbox: &Sandbox, method: Method, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", sandbox.rc_url()));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let resp = req.send().await.expect("control request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

/// A 400 whose `error` names `field`.
fn assert_bad(result: (u16, Value), field: &str) {
    let (status, body) = result;
    assert_eq!(status, 400, "{body}");
    let msg = body["error"].as_str().unwrap_or("");
    assert!(msg.contains(field), "error {msg:?} should name {field:?}");
}

fn assert_missing(result: (u16, Value)) {
    assert_eq!(result.0, 404, "{}", result.1);
    assert!(result.1["error"].is_string());
}

#[tokio::test]
async fn contacts_create_patch_delete() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let body = r#"{"firstName":"Zed","lastName":"Zulu","company":"Zeta","email":"zed@zeta.example.com",
                   "businessAddress":{"city":"Reno","state":"NV"}}"#;
    let (s, created) = control(&sandbox, Method::POST, "/sandbox/extensions/400000101/contacts", Some(body)).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["id"], 500000201, "new ids follow the fixture's");
    assert_eq!(created["availability"], "Alive");
    let path = "/restapi/v1.0/account/400000001/extension/400000101/address-book/contact/500000201";
    assert_eq!(created["uri"], format!("{}{path}", sandbox.rc_url()));
    let (s, read) = get(&sandbox, &token, path).await;
    assert_eq!(s, 200);
    assert_eq!(read, created);

    let control_path = "/sandbox/extensions/400000101/contacts/500000201";
    let patch = r#"{"email":"zed@new.example.com","company":null,"businessAddress":{"zip":"89501"}}"#;
    let (s, patched) = control(&sandbox, Method::PATCH, control_path, Some(patch)).await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["firstName"], "Zed", "untouched fields stay");
    assert_eq!(patched["email"], "zed@new.example.com");
    assert!(patched.get("company").is_none(), "null removes");
    assert_eq!(patched["businessAddress"], json!({"city": "Reno", "state": "NV", "zip": "89501"}));

    assert_bad(control(&sandbox, Method::PATCH, control_path, Some(r#"{"firstName":5}"#)).await, "firstName");
    assert_bad(control(&sandbox, Method::PATCH, control_path, Some(r#"{"shoeSize":"9"}"#)).await, "shoeSize");
    assert_bad(control(&sandbox, Method::PATCH, control_path, Some(r#"{"id":1}"#)).await, "id");
    let nested = r#"{"homeAddress":{"planet":"Mars"}}"#;
    assert_bad(control(&sandbox, Method::PATCH, control_path, Some(nested)).await, "homeAddress");
    assert_bad(control(&sandbox, Method::POST, "/sandbox/extensions/400000101/contacts", Some("{nope")).await, "JSON");
    assert_bad(control(&sandbox, Method::POST, "/sandbox/extensions/400000101/contacts", Some("[1]")).await, "object");
    assert_missing(control(&sandbox, Method::POST, "/sandbox/extensions/400000999/contacts", Some("{}")).await);
    assert_missing(control(&sandbox, Method::PATCH, "/sandbox/extensions/400000101/contacts/1", Some("{}")).await);
    assert_missing(control(&sandbox, Method::PATCH, "/sandbox/extensions/400000101/contacts/x", Some("{}")).await);
    assert_missing(control(&sandbox, Method::DELETE, "/sandbox/extensions/abc/contacts/500000001", None).await);
    assert_missing(
        control(&sandbox, Method::POST, "/sandbox/extensions/400000999/address-book-sync/reset", None).await,
    );
    // Contact 500000081 lives in 102's book, not 101's.
    assert_missing(control(&sandbox, Method::DELETE, "/sandbox/extensions/400000101/contacts/500000081", None).await);

    let (s, deleted) = control(&sandbox, Method::DELETE, control_path, None).await;
    assert_eq!(s, 200);
    assert_eq!(deleted["availability"], "Deleted");
    let (s, b) = get(&sandbox, &token, path).await;
    assert_eq!(s, 404);
    assert_eq!(b["errors"][0]["errorCode"], "CMN-102");
    assert_missing(control(&sandbox, Method::DELETE, control_path, None).await);
    sandbox.stop().await;
}

#[tokio::test]
async fn sites_and_emergency_locations_control() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let body =
        r#"{"name":"Denver Office","code":"DEN","businessAddress":{"city":"Denver","state":"CO","country":"US"}}"#;
    let (s, site) = control(&sandbox, Method::POST, "/sandbox/sites", Some(body)).await;
    assert_eq!(s, 201, "{site}");
    assert_eq!(site["id"], "400000204");
    assert_eq!(site["siteAccess"], "Limited");
    let (_, list) = get(&sandbox, &token, "/restapi/v1.0/account/~/sites").await;
    assert_eq!(list["paging"]["totalElements"], 4);
    let (s, renamed) =
        control(&sandbox, Method::PATCH, "/sandbox/sites/400000204", Some(r#"{"name":"Denver HQ"}"#)).await;
    assert_eq!((s, renamed["name"].as_str()), (200, Some("Denver HQ")));
    assert_eq!(renamed["businessAddress"]["city"], "Denver");
    assert_bad(control(&sandbox, Method::POST, "/sandbox/sites", Some(r#"{"code":"X"}"#)).await, "name");
    let access = r#"{"name":"A","siteAccess":"Some"}"#;
    assert_bad(control(&sandbox, Method::POST, "/sandbox/sites", Some(access)).await, "siteAccess");
    assert_bad(control(&sandbox, Method::PATCH, "/sandbox/sites/400000204", Some(r#"{"id":"1"}"#)).await, "id");
    assert_missing(control(&sandbox, Method::PATCH, "/sandbox/sites/999", Some("{}")).await);
    let op = r#"{"name":"B","operator":{"id":"400000999"}}"#;
    assert_bad(control(&sandbox, Method::POST, "/sandbox/sites", Some(op)).await, "operator.id");

    let loc = r#"{"name":"Denver Floor 3","site":{"id":"400000204"},
                  "address":{"street":"1 Main St","city":"Denver","state":"CO","stateName":"Colorado","zip":"80202"}}"#;
    let (s, created) = control(&sandbox, Method::POST, "/sandbox/emergency-locations", Some(loc)).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["id"], "400000307");
    assert_eq!(created["site"], json!({"id": "400000204", "name": "Denver HQ"}));
    assert_eq!(created["addressStatus"], "Valid");
    let (_, filtered) = get(&sandbox, &token, "/restapi/v1.0/account/~/emergency-locations?siteId=400000204").await;
    assert_eq!(filtered["records"][0]["address"]["stateName"], "Colorado");
    let patch = r#"{"usageStatus":"Inactive","address":{"street2":"Suite 9"}}"#;
    let (s, patched) = control(&sandbox, Method::PATCH, "/sandbox/emergency-locations/400000307", Some(patch)).await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(
        (patched["usageStatus"].as_str(), patched["address"]["city"].as_str()),
        (Some("Inactive"), Some("Denver"))
    );
    let bad_status = r#"{"addressStatus":"Sparkly"}"#;
    assert_bad(
        control(&sandbox, Method::PATCH, "/sandbox/emergency-locations/400000307", Some(bad_status)).await,
        "addressStatus",
    );
    let bad_site = r#"{"name":"X","site":{"id":"nowhere"}}"#;
    assert_bad(control(&sandbox, Method::POST, "/sandbox/emergency-locations", Some(bad_site)).await, "site.id");
    assert_bad(control(&sandbox, Method::POST, "/sandbox/emergency-locations", Some("{}")).await, "name");
    let no_id = r#"{"name":"X","site":{"name":"HQ"}}"#;
    assert_bad(control(&sandbox, Method::POST, "/sandbox/emergency-locations", Some(no_id)).await, "site.id");

    // A site still holding a location, and the main site, cannot go.
    assert_bad(control(&sandbox, Method::DELETE, "/sandbox/sites/400000204", None).await, "400000204");
    assert_bad(control(&sandbox, Method::DELETE, "/sandbox/sites/400000201", None).await, "main site");
    let (s, _) = control(&sandbox, Method::DELETE, "/sandbox/emergency-locations/400000307", None).await;
    assert_eq!(s, 200);
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/emergency-locations/400000307").await;
    assert_eq!((s, &b["errors"][0]["errorCode"]), (404, &json!("CMN-102")));
    let (s, _) = control(&sandbox, Method::DELETE, "/sandbox/sites/400000204", None).await;
    assert_eq!(s, 200);
    let (s, _) = get(&sandbox, &token, "/restapi/v1.0/account/~/sites/400000204").await;
    assert_eq!(s, 404);
    assert_missing(control(&sandbox, Method::DELETE, "/sandbox/emergency-locations/400000307", None).await);
    sandbox.stop().await;
}

#[tokio::test]
async fn account_and_business_address_control() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let patch = r#"{"mainNumber":"+14155550199","status":"Disabled","regionalSettings":{"timeFormat":"24h"}}"#;
    let (s, acc) = control(&sandbox, Method::PATCH, "/sandbox/account", Some(patch)).await;
    assert_eq!(s, 200, "{acc}");
    let (_, read) = get(&sandbox, &token, "/restapi/v1.0/account/~").await;
    assert_eq!(read, acc);
    assert_eq!(read["mainNumber"], "+14155550199");
    assert_eq!(read["status"], "Disabled");
    assert_eq!(read["regionalSettings"]["timeFormat"], "24h");
    assert_eq!(read["regionalSettings"]["timezone"]["name"], "US/Pacific", "merge keeps siblings");
    assert_bad(control(&sandbox, Method::PATCH, "/sandbox/account", Some(r#"{"id":5}"#)).await, "id");
    assert_bad(control(&sandbox, Method::PATCH, "/sandbox/account", Some(r#"{"status":"Sleepy"}"#)).await, "status");
    assert_bad(
        control(&sandbox, Method::PATCH, "/sandbox/account", Some(r#"{"mainNumber":"555"}"#)).await,
        "mainNumber",
    );
    assert_bad(control(&sandbox, Method::PATCH, "/sandbox/account", Some(r#"{"federated":"no"}"#)).await, "federated");
    let op = r#"{"operator":{"id":"400000999"}}"#;
    assert_bad(control(&sandbox, Method::PATCH, "/sandbox/account", Some(op)).await, "operator");

    let patch = r#"{"company":"Renamed Widgets","businessAddress":{"street":"1 New St"}}"#;
    let (s, ba) = control(&sandbox, Method::PATCH, "/sandbox/business-address", Some(patch)).await;
    assert_eq!(s, 200, "{ba}");
    let (_, read) = get(&sandbox, &token, "/restapi/v1.0/account/~/business-address").await;
    assert_eq!(read, ba);
    assert_eq!(read["company"], "Renamed Widgets");
    assert_eq!(read["businessAddress"]["street"], "1 New St");
    assert_eq!(read["businessAddress"]["city"], "San Mateo");
    let nested = r#"{"businessAddress":{"street2":"x"}}"#;
    assert_bad(control(&sandbox, Method::PATCH, "/sandbox/business-address", Some(nested)).await, "businessAddress");
    assert_bad(control(&sandbox, Method::PATCH, "/sandbox/business-address", Some(r#"{"email":1}"#)).await, "email");
    sandbox.stop().await;
}

#[tokio::test]
async fn a_full_address_book_takes_no_more_contacts() {
    // With 100,000 contacts, 400000101..=400000110 each hold RingCentral's 10,000 cap.
    let sandbox = start_sandbox_with(Duration::from_secs(60), Some(100_000)).await;
    let body = Some(r#"{"firstName":"One","lastName":"Toomany"}"#);
    assert_bad(control(&sandbox, Method::POST, "/sandbox/extensions/400000101/contacts", body).await, "full");
    let (s, created) = control(&sandbox, Method::POST, "/sandbox/extensions/400000111/contacts", body).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["id"], 500100001);
    sandbox.stop().await;
}
