//! The RingCentral read endpoints over real HTTP: account info, business address,
//! extensions, sites, emergency locations and personal contacts, with paging, `~` and
//! numeric ids, unknown ids and bad query values.

use serde_json::Value;
use std::time::Duration;

use snapsync_tests::{rc_token, start_sandbox, start_sandbox_with, Sandbox, SandboxConfig};

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

/// Follows `navigation.nextPage` from `path` until it is absent; returns all records and
/// the number of pages fetched.
async fn walk(sandbox: &Sandbox, token: &str, path: &str) -> (Vec<Value>, usize) {
    let (mut records, mut pages) = (Vec::new(), 0);
    let mut next = Some(path.to_string());
    while let Some(url) = next {
        let (status, body) = get(sandbox, token, &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert!(body["navigation"]["firstPage"]["uri"].as_str().is_some_and(|u| u.starts_with("http://")));
        records.extend(body["records"].as_array().expect("records").iter().cloned());
        pages += 1;
        assert!(pages < 100, "paging never ends");
        next = body["navigation"]["nextPage"]["uri"].as_str().map(str::to_string);
    }
    (records, pages)
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str, param: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["errors"][0]["errorCode"], code, "{body}");
    assert_eq!(body["errors"][0]["parameterName"], param, "{body}");
}

fn ids(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["id"].as_u64().expect("numeric id")).collect()
}

#[tokio::test]
async fn extensions_page_walk_filters_and_ids() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let (all, pages) = walk(&sandbox, &token, "/restapi/v1.0/account/~/extension?perPage=7").await;
    assert_eq!((all.len(), pages), (25, 4));
    assert_eq!(ids(&all), (400000101..=400000125).collect::<Vec<_>>());
    let admin = &all[0];
    assert_eq!(admin["extensionNumber"], "101");
    assert_eq!(admin["type"], "User");
    assert_eq!(admin["status"], "Enabled");
    assert_eq!(admin["permissions"]["admin"]["enabled"], true);
    assert!(admin["contact"]["email"].as_str().is_some_and(|e| e.contains('@')));
    assert_eq!(admin["site"]["id"], "400000201");
    assert!(all.iter().all(|e| e["contact"].is_object() && e["site"]["name"].is_string()));

    let filtered = |q: &'static str| {
        let (sandbox, token) = (&sandbox, &token);
        async move {
            let (status, body) = get(sandbox, token, &format!("/restapi/v1.0/account/~/extension?{q}")).await;
            assert_eq!(status, 200, "{q}: {body}");
            ids(body["records"].as_array().expect("records"))
        }
    };
    assert_eq!(filtered("status=Disabled&type=User").await, vec![400000110]);
    assert_eq!(filtered("type=User").await.len(), 18);
    assert_eq!(filtered("type=User&status=Enabled").await.len(), 15);
    assert_eq!(filtered("type=Department&type=IvrMenu").await, vec![400000119, 400000120, 400000123]);
    assert_eq!(filtered("extensionNumber=105").await, vec![400000105]);

    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension?status=Sleeping").await;
    assert_error(s, &b, 400, "CMN-101", "status");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension?type=Robot").await;
    assert_error(s, &b, 400, "CMN-101", "type");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension?perPage=1001").await;
    assert_error(s, &b, 400, "CMN-101", "perPage");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension?page=0").await;
    assert_error(s, &b, 400, "CMN-101", "page");

    let (s, mine) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~").await;
    assert_eq!(s, 200);
    let (_, numeric) = get(&sandbox, &token, "/restapi/v1.0/account/400000001/extension/400000101").await;
    assert_eq!(mine, numeric);
    assert_eq!(mine["id"], 400000101);
    assert_eq!(mine["uri"], format!("{}/restapi/v1.0/account/400000001/extension/400000101", sandbox.rc_url()));
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/400000999").await;
    assert_error(s, &b, 404, "CMN-102", "extensionId");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/abc").await;
    assert_error(s, &b, 404, "CMN-102", "extensionId");
    sandbox.stop().await;
}

#[tokio::test]
async fn sites_and_emergency_locations() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let (sites, _) = walk(&sandbox, &token, "/restapi/v1.0/account/~/sites").await;
    let names: Vec<&str> = sites.iter().map(|s| s["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["Headquarters", "New York Office", "Austin Office"]);
    assert!(sites[0]["businessAddress"].get("stateName").is_none(), "sites have no stateName");
    assert!(sites[0]["businessAddress"].get("street2").is_none());
    assert_eq!(sites[0]["operator"]["id"], "400000101");
    let (s, one) = get(&sandbox, &token, "/restapi/v1.0/account/400000001/sites/400000202").await;
    assert_eq!(s, 200);
    assert_eq!(one, sites[1]);
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/sites/999").await;
    assert_error(s, &b, 404, "CMN-102", "siteId");

    let (all, pages) = walk(&sandbox, &token, "/restapi/v1.0/account/~/emergency-locations?perPage=4").await;
    assert_eq!((all.len(), pages), (6, 2));
    for l in &all {
        let a = &l["address"];
        assert!(a["state"].is_string() && a["stateName"].is_string() && a["countryIsoCode"] == "US", "{l}");
        assert!(l["site"]["id"].is_string() && l["site"]["name"].is_string());
    }
    let count = |q: &'static str| {
        let (sandbox, token) = (&sandbox, &token);
        async move {
            let (s, b) = get(sandbox, token, &format!("/restapi/v1.0/account/~/emergency-locations?{q}")).await;
            assert_eq!(s, 200, "{q}: {b}");
            b["paging"]["totalElements"].as_u64().expect("totalElements")
        }
    };
    assert_eq!(count("siteId=400000201").await, 3);
    assert_eq!(count("siteId=main-site").await, 3);
    assert_eq!(count("siteId=400000202&siteId=400000203").await, 3);
    assert_eq!(count("usageStatus=Inactive").await, 1);
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/emergency-locations?siteId=999").await;
    assert_error(s, &b, 400, "CMN-101", "siteId");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/emergency-locations?addressStatus=Bogus").await;
    assert_error(s, &b, 400, "CMN-101", "addressStatus");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/emergency-locations?orderBy=%2Bcolour").await;
    assert_error(s, &b, 400, "CMN-101", "orderBy");
    let (_, by_name) = get(&sandbox, &token, "/restapi/v1.0/account/~/emergency-locations?orderBy=-name").await;
    assert_eq!(by_name["records"][0]["name"], "NYC Overflow");

    let id = all[0]["id"].as_str().expect("location id");
    let (s, one) = get(&sandbox, &token, &format!("/restapi/v1.0/account/~/emergency-locations/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(one, all[0]);
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/emergency-locations/nope").await;
    assert_error(s, &b, 404, "CMN-102", "locationId");
    sandbox.stop().await;
}

// Personal contacts are in the Heavy group (10 per window), so each test stays at or
// under ten contact calls.
#[tokio::test]
async fn personal_contacts_page_walk() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let path = "/restapi/v1.0/account/~/extension/~/address-book/contact?perPage=30";
    let (mine, pages) = walk(&sandbox, &token, path).await;
    assert_eq!((mine.len(), pages), (80, 3));
    assert_eq!(ids(&mine), (500000001..=500000080).collect::<Vec<_>>());
    assert!(mine.iter().all(|c| c["availability"] == "Alive"));
    let (s, b) =
        get(&sandbox, &token, "/restapi/v1.0/account/~/extension/400000102/address-book/contact?perPage=1000").await;
    assert_eq!(s, 200);
    assert_eq!(b["paging"]["totalElements"], 60);
    assert!(b.get("navigation").and_then(|n| n.get("nextPage")).is_none());
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/400000105/address-book/contact").await;
    assert_eq!(s, 200);
    assert_eq!(b["paging"]["totalElements"], 0, "105 keeps no personal contacts");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book/contact?perPage=1001").await;
    assert_error(s, &b, 400, "CMN-101", "perPage");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book/contact?sortBy=Age").await;
    assert_error(s, &b, 400, "CMN-101", "sortBy");
    sandbox.stop().await;
}

#[tokio::test]
async fn personal_contact_by_id() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let (s, tilde) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book/contact/500000001").await;
    assert_eq!(s, 200, "{tilde}");
    let numeric_path = "/restapi/v1.0/account/400000001/extension/400000101/address-book/contact/500000001";
    let (_, numeric) = get(&sandbox, &token, numeric_path).await;
    assert_eq!(tilde, numeric);
    assert_eq!(tilde["uri"], format!("{}{numeric_path}", sandbox.rc_url()));
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book/contact/500000081").await;
    assert_error(s, &b, 404, "CMN-102", "contactId");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/400000999/address-book/contact").await;
    assert_error(s, &b, 404, "CMN-102", "extensionId");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book/contact?phoneNumber=12").await;
    assert_error(s, &b, 400, "CMN-101", "phoneNumber");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book/contact?startsWith=zz").await;
    assert_eq!(s, 200);
    assert_eq!(b["paging"]["totalElements"], 0);
    sandbox.stop().await;
}

async fn admin_contacts(seed: u64) -> Vec<Value> {
    let sandbox = Sandbox::start(SandboxConfig { seed, ..SandboxConfig::default() }).await.expect("start sandbox");
    let token = rc_token(&sandbox).await;
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book/contact?perPage=1000").await;
    assert_eq!(s, 200);
    sandbox.stop().await;
    b["records"].as_array().expect("records").clone()
}

#[tokio::test]
async fn fixture_is_deterministic_per_seed_and_messy() {
    let a = admin_contacts(42).await;
    let b = admin_contacts(42).await;
    let c = admin_contacts(43).await;
    let strip = |v: &[Value]| -> Vec<Value> {
        v.iter()
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().map(|o| o.remove("uri"));
                r
            })
            .collect()
    };
    assert_eq!(strip(&a), strip(&b), "same seed, same contacts");
    assert_ne!(strip(&a), strip(&c), "another seed, other contacts");
    assert_eq!(ids(&a), ids(&c), "ids do not depend on the seed");

    // Messy cases sit at fixed indexes (fixture::messiness): index i is id 500000001 + i.
    let no_email: Vec<&Value> = a.iter().filter(|r| r.get("email").is_none()).collect();
    assert!(no_email.len() >= 5, "some contacts have no email");
    assert!(no_email.iter().all(|r| (r["id"].as_u64().unwrap_or(0) - 500000001) % 10 == 3));
    let national = a
        .iter()
        .filter_map(|r| r["businessPhone"].as_str())
        .filter(|p| p.starts_with('(') && p.len() == "(650) 555-0123".len())
        .count();
    assert!(national >= 5, "some phones are in national format");
    assert!(a.iter().filter_map(|r| r["businessPhone"].as_str()).any(|p| p.starts_with("+1")), "most are E.164");
    let mut emails: Vec<&str> = a.iter().filter_map(|r| r["email"].as_str()).collect();
    let total = emails.len();
    emails.sort_unstable();
    emails.dedup();
    assert!(total - emails.len() >= 2, "some contacts are duplicates by email");
    let companies: std::collections::BTreeSet<&str> = a.iter().filter_map(|r| r["company"].as_str()).collect();
    assert!(companies.len() >= 5, "{companies:?}");
    assert!(a.iter().any(|r| r.get("company").is_none()), "some contacts have no company");
    let domains: std::collections::BTreeSet<&str> =
        a.iter().filter_map(|r| r["email"].as_str()?.split('@').nth(1)).collect();
    assert!(domains.len() >= 5, "{domains:?}");
}

#[tokio::test]
async fn hundred_thousand_contacts_serve_the_right_totals() {
    let sandbox = start_sandbox_with(Duration::from_secs(60), Some(100_000)).await;
    let token = rc_token(&sandbox).await;
    // 100,000 contacts need ten address books at RingCentral's 10,000-per-user cap.
    let mut total = 0;
    for ext in 400000101..=400000110u64 {
        let path = format!("/restapi/v1.0/account/~/extension/{ext}/address-book/contact?perPage=1");
        let (s, b) = get(&sandbox, &token, &path).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["paging"]["totalElements"], 10_000, "extension {ext}");
        assert_eq!(b["paging"]["totalPages"], 10_000);
        total += b["paging"]["totalElements"].as_u64().unwrap_or(0);
    }
    assert_eq!(total, 100_000);
    sandbox.stop().await;
}

#[tokio::test]
async fn company_directory_site_members_and_extension_locations() {
    let sandbox = start_sandbox().await;
    let token = rc_token(&sandbox).await;
    let (entries, pages) = walk(&sandbox, &token, "/restapi/v1.0/account/~/directory/entries?perPage=10").await;
    assert_eq!((entries.len(), pages), (25, 3));
    assert_eq!(entries[0]["id"], "400000101");
    assert_eq!(entries[0]["account"]["id"], "400000001");
    assert_eq!(entries[0]["phoneNumbers"][0]["usageType"], "DirectNumber");
    assert_eq!(entries[0]["site"]["name"], "Headquarters");
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/directory/entries?siteId=400000203&type=User").await;
    assert_eq!(s, 200);
    assert!(b["records"]
        .as_array()
        .is_some_and(|r| !r.is_empty() && r.iter().all(|e| e["site"]["id"] == "400000203" && e["type"] == "User")));
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/directory/entries?siteId=42").await;
    assert_error(s, &b, 400, "CMN-101", "siteId");
    let (s, one) = get(&sandbox, &token, "/restapi/v1.0/account/~/directory/entries/400000102").await;
    assert_eq!(s, 200);
    assert_eq!(one, entries[1]);
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/directory/entries/7").await;
    assert_error(s, &b, 404, "CMN-102", "entryId");

    let (members, _) = walk(&sandbox, &token, "/restapi/v1.0/account/~/sites/400000202/members").await;
    let numbers: Vec<&str> = members.iter().filter_map(|m| m["extensionNumber"].as_str()).collect();
    assert_eq!(numbers, ["103", "108", "113", "118", "123"]);
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/sites/nope/members").await;
    assert_error(s, &b, 404, "CMN-102", "siteId");

    let (mine, _) = walk(&sandbox, &token, "/restapi/v1.0/account/~/extension/~/emergency-locations").await;
    assert_eq!(mine.len(), 3, "the admin sits at headquarters, which has three locations");
    assert!(mine.iter().all(|l| l["site"]["id"] == "400000201"));
    let (s, b) = get(&sandbox, &token, "/restapi/v1.0/account/~/extension/400000999/emergency-locations").await;
    assert_error(s, &b, 404, "CMN-102", "extensionId");
    sandbox.stop().await;
}
