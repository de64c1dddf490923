//! Issue 10, requirement 3: the dashboard's mapping editor in a real headless Chromium
//! (through chromedriver, as `pipeline_dashboard`), over real processes. The lead mapping's
//! `company` is pointed at the contact's `jobTitle`, upper-cased; the preview shows it on real
//! records from the RingCentral stand-in (writing nothing); Save stores version 1; the running
//! worker (not restarted) writes the new value at the next sync, for a contact changed and a
//! contact created after the save. Restore (from the editor's history) brings the file's
//! mapping back, and the next sync writes the old value again. And through the API: an
//! invalid mapping is refused with 422 and every problem named, nothing saved, the old
//! mapping still in force.

use crate::pipeline_support::browser::Browser;
use crate::pipeline_support::{find, id_text, wait, Options, System, ADMIN_EXT, ADMIN_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn admin(sys: &System, base: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = sys.http.request(method, format!("{base}{path}")).bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("admin request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
}

/// Runs one contacts sync now (the schedules are off), waits until the lead with `email` has
/// `company`, then until the sync's jobs are all finished (an address book whose sync is still
/// queued is skipped by the next run, which would then miss the change a test makes next).
async fn sync_until_company(sys: &System, base: &str, email: &str, company: &str) {
    let (status, body) = admin(sys, base, Method::POST, "/admin/schedules/contacts/run", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    sys.records_until(&format!("the lead {email} with company {company:?}"), |r| {
        find(r, "leads", "email", email).first().is_some_and(|l| l["company"] == company)
    })
    .await;
    wait("the contacts sync's jobs to finish", || async {
        let mut open = 0;
        for kind in ["sync_contacts", "upsert_contact"] {
            let c = sys.kind(kind).await;
            open += c.ready + c.scheduled + c.snoozed + c.running;
        }
        (open == 0).then_some(())
    })
    .await;
}

/// Picks `value` in the select `css` (clicking its option, as a person would).
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser.click(&format!("{css} option[value=\"{value}\"]")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mapping_edited_in_the_dashboard_is_written_by_the_next_sync() {
    let sys = System::start(Options { every: None, workers: 1, contacts: Some(4), ..Options::default() }).await;
    let base = sys.admin_url("serve-0").await;
    let contacts = format!("/sandbox/extensions/{ADMIN_EXT}/contacts");
    let a = sys
        .rc(
            Method::POST,
            &contacts,
            Some(json!({"firstName": "Ada", "lastName": "Editor", "email": "ada.editor@example.com",
                "company": "Old Co", "jobTitle": "Chief Tester"})),
        )
        .await;
    let a_id = id_text(&a["id"]);
    // The file's mapping first: company is the contact's company.
    sync_until_company(&sys, &base, "ada.editor@example.com", "Old Co").await;

    let browser = Browser::start().await;
    browser.goto(&format!("{base}/dashboard")).await;
    browser.type_in("#token", ADMIN_TOKEN).await;
    browser.click("#login-form button").await;
    wait("the editor to show the file's mapping", || async {
        browser.text("#mapping-source").await.contains("no mapping saved here yet").then_some(())
    })
    .await;
    let row = "#mapping-rows tr[data-target=\"company\"]";
    choose(&browser, &format!("{row} select.m-source"), "jobTitle").await;
    choose(&browser, &format!("{row} select.m-transform"), "uppercase").await;

    // The preview maps real contacts from the stand-in with the edit, and writes nothing.
    let writes = sys.writes_total().await;
    browser.click("#mapping-preview").await;
    wait("the preview", || async { browser.text("#mapping-preview-out").await.contains("CHIEF TESTER").then_some(()) })
        .await;
    assert!(browser.text("#mapping-preview-out").await.contains("nothing was written"));
    assert_eq!(sys.writes_total().await, writes, "a preview writes nothing to Snapshots");
    let (_, shown) = admin(&sys, &base, Method::GET, "/admin/mapping", None).await;
    assert_eq!(shown["in_force"], "file", "a preview saves nothing: {}", shown["in_force"]);

    browser.click("#mapping-save").await;
    wait("the save", || async { browser.text("#mapping-message").await.contains("saved version 1").then_some(()) })
        .await;
    let (_, shown) = admin(&sys, &base, Method::GET, "/admin/mapping", None).await;
    assert_eq!((shown["in_force"].as_str(), shown["version"].as_u64()), (Some("saved"), Some(1)), "{}", shown["name"]);
    assert_eq!(
        shown["mapping"]["lead_from_contact"]["fields"]["company"],
        json!({"from": "jobTitle", "transforms": ["uppercase"]})
    );
    // The other fields are kept as they were (a template, a constant, fallback paths).
    assert_eq!(shown["mapping"]["lead_from_contact"]["fields"]["name"]["template"], "{firstName} {lastName}");
    assert_eq!(shown["mapping"]["follow_up_from_voicemail"]["fields"]["type"]["constant"], "follow_up");
    let png = browser.screenshot().await;
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/mapping-editor.png");
    std::fs::create_dir_all(shot.parent().expect("target dir")).expect("target dir");
    std::fs::write(&shot, &png).expect("write screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");

    // The next sync (incremental: a contact changed and one created after the save) writes
    // the new field, from the same worker process, not restarted.
    sys.rc(Method::PATCH, &format!("{contacts}/{a_id}"), Some(json!({"notes": "touched after the save"}))).await;
    sys.rc(
        Method::POST,
        &contacts,
        Some(json!({"firstName": "Bo", "lastName": "Later", "email": "bo.later@example.com",
            "company": "B Co", "jobTitle": "Head of QA"})),
    )
    .await;
    sync_until_company(&sys, &base, "ada.editor@example.com", "CHIEF TESTER").await;
    sync_until_company(&sys, &base, "bo.later@example.com", "HEAD OF QA").await;
    let log = sys.procs.iter().find(|p| p.name == "worker-0").expect("worker").log_text();
    assert!(log.contains("using the saved mapping"), "the worker says which mapping it uses");

    // Invalid input through the API: 422 with every problem (file, resource, field), nothing saved.
    let mut bad = shown["mapping"].clone();
    bad["lead_from_contact"]["fields"]["emial"] = json!("email");
    bad["location_from_site"]["fields"]["city"] = json!({"from": "businessAddress.town"});
    bad["account"]["fields"]["phone"]["transforms"] = json!(["phoen"]);
    let (status, body) = admin(&sys, &base, Method::PUT, "/admin/mapping", Some(json!({ "mapping": bad }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let problems: Vec<&str> = body["problems"].as_array().expect("problems").iter().filter_map(Value::as_str).collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    for (resource, field) in [("lead_from_contact", "emial"), ("location_from_site", "city"), ("account", "phone")] {
        assert!(
            problems.iter().any(|p| p.starts_with("submitted mapping: ")
                && p.contains(&format!("resource {resource}: "))
                && p.contains(&format!("\"{field}\""))),
            "{resource}.{field} named: {problems:#?}"
        );
    }
    assert!(body["error"].as_str().is_some_and(|e| e.contains("not saved")), "{body}");
    let (status, body) = admin(
        &sys,
        &base,
        Method::PUT,
        "/admin/mapping",
        Some(json!({"text": "[lead_from_contact", "format": "toml"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["problems"][0].as_str().is_some_and(|p| p.starts_with("submitted mapping: not valid TOML")), "{body}");
    let (status, body) = admin(&sys, &base, Method::PUT, "/admin/mapping", Some(json!({"every": "1h"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = admin(
        &sys,
        &base,
        Method::POST,
        "/admin/mapping/preview",
        Some(json!({"resource": "planets", "mapping": shown["mapping"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = admin(&sys, &base, Method::POST, "/admin/mapping/restore", Some(json!({"version": 99}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, after) = admin(&sys, &base, Method::GET, "/admin/mapping", None).await;
    assert_eq!(after["version"], 1, "nothing saved");
    assert_eq!(after["text"], shown["text"], "the old mapping still in force");
    sys.rc(Method::PATCH, &format!("{contacts}/{a_id}"), Some(json!({"jobTitle": "Chief Examiner"}))).await;
    sync_until_company(&sys, &base, "ada.editor@example.com", "CHIEF EXAMINER").await;

    // History: version 0 is the file the first save replaced; restoring it (in the editor)
    // saves it as version 2, and the next sync writes the contact's company again.
    browser.click("#mapping-reload").await;
    browser.click("button[data-restore=\"0\"]").await;
    wait("the restore", || async {
        browser.text("#mapping-message").await.contains("restored version 0 as version 2").then_some(())
    })
    .await;
    let (_, history) = admin(&sys, &base, Method::GET, "/admin/mapping/history", None).await;
    let versions: Vec<u64> =
        history["history"].as_array().expect("history").iter().filter_map(|h| h["version"].as_u64()).collect();
    assert_eq!((history["version"].as_u64(), versions), (Some(2), vec![1, 0]), "{history}");
    sys.rc(Method::PATCH, &format!("{contacts}/{a_id}"), Some(json!({"notes": "touched after the restore"}))).await;
    sync_until_company(&sys, &base, "ada.editor@example.com", "Old Co").await;

    // A mapping may be larger than the other admin requests (16 KiB): up to 256 KiB.
    let long = format!("{}\n# {}\n", snapsync::mapping::DEFAULT_MAPPING, "x".repeat(40 * 1024));
    let (status, body) =
        admin(&sys, &base, Method::PUT, "/admin/mapping", Some(json!({"text": long, "format": "toml"}))).await;
    assert_eq!((status, body["version"].as_u64()), (StatusCode::OK, Some(3)), "{body}");
    browser.stop().await;
    sys.stop().await;
}
