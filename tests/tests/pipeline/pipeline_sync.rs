//! Issue 4, "Done when" 1–2, through the real processes: `snapsync serve` (the scheduler at
//! `every = "10s"`, the webhook receiver) and two `snapsync-worker` processes, against the
//! sandbox and a private Redis.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::pipeline_support::{count, expected_leads, find, id_text, wait, Options, System, ADMIN_EXT};
use reqwest::Method;
use serde_json::{json, Value};

/// 3 sites + 6 emergency locations.
const LOCATIONS: usize = 9;
/// The contacts schedule's `every` in these tests, and how long "one tick" may take to land
/// (a tick's fan-out over 25 address books under a 1 s rate-limit window).
const TICK: Duration = Duration::from_secs(10);
const ONE_TICK_LANDS: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn initial_sync_lands_the_fixture_once_then_changes_arrive_and_a_quiet_tick_writes_nothing() {
    let sys = System::start(Options::default()).await;
    // 1. The initial sync: every site and emergency location, the account, one lead per person.
    let expected = expected_leads(&sys);
    let records = sys
        .records_until("the initial sync", |r| {
            count(r, "locations") >= LOCATIONS && count(r, "accounts") >= 1 && count(r, "leads") >= expected
        })
        .await;
    for c in ["locations", "accounts", "leads"] {
        assert_no_duplicates(&records, c);
    }
    assert_eq!(count(&records, "locations"), LOCATIONS);
    for site in ["400000201", "400000202", "400000203"] {
        assert_eq!(find(&records, "locations", "external_id", &format!("ringcentral:site:{site}")).len(), 1);
    }
    for loc in 301..=306 {
        let id = format!("ringcentral:emergency-location:400000{loc}");
        assert_eq!(find(&records, "locations", "external_id", &id).len(), 1, "{id}");
    }
    let hq = find(&records, "locations", "external_id", "ringcentral:site:400000201")[0];
    assert_eq!(
        (hq["name"].as_str(), hq["region"].as_str(), hq["country"].as_str()),
        (Some("Headquarters"), Some("CA"), Some("US"))
    );
    assert_eq!(count(&records, "accounts"), 1);
    assert_eq!(records["accounts"][0]["external_id"], "ringcentral:account:400000001");
    assert_eq!(records["accounts"][0]["phone"], "+16505550100");
    assert_eq!(count(&records, "leads"), expected);
    // Contact 500000008 repeats 500000007's email: one lead for the two.
    let pair = ["500000007", "500000008"].iter().filter(|id| !find(&records, "leads", "contact_id", id).is_empty());
    assert_eq!(pair.count(), 1, "duplicates by email must resolve to one lead");
    // i % 10 == 6 holds a national-format phone: normalised to E.164.
    let national = find(&records, "leads", "contact_id", "500000017");
    let phone = national.first().and_then(|l| l["phone"].as_str()).unwrap_or_default();
    assert!(phone.starts_with("+1") && phone.len() == 12, "500000017's phone not E.164: {phone:?}");
    for lead in records["leads"].as_array().into_iter().flatten() {
        assert!(lead["owner"].as_str().is_some_and(|o| o.starts_with("own_")), "lead without owner: {lead}");
    }

    // 2. A contact created → a lead within one contacts tick, owner from the rules, linked.
    let created = sys
        .rc(
            Method::POST,
            &format!("/sandbox/extensions/{ADMIN_EXT}/contacts"),
            Some(json!({"firstName": "Nora", "lastName": "Quist", "company": "Acme Corp",
                        "email": "nora.quist@acme.example.com", "businessPhone": "(212) 555-0199"})),
        )
        .await;
    let id = id_text(&created["id"]);
    let at = Instant::now();
    let records = sys.records_until("the new contact's lead", |r| find(r, "leads", "contact_id", &id).len() == 1).await;
    assert!(at.elapsed() < TICK + ONE_TICK_LANDS, "the lead took {:?}", at.elapsed());
    let lead = find(&records, "leads", "contact_id", &id)[0].clone();
    assert_eq!(lead["owner"], "own_01", "Acme Corp → own_01 by routing/default.toml: {lead}");
    assert_eq!(lead["phone"], "+12125550199");
    assert_eq!(lead["external_id"], format!("ringcentral:contact:{id}"));
    let version = lead["version"].as_u64().expect("version");

    // Updated → version + 1.
    sys.rc(
        Method::PATCH,
        &format!("/sandbox/extensions/{ADMIN_EXT}/contacts/{id}"),
        Some(json!({"lastName": "Quist-Berg"})),
    )
    .await;
    let records = sys
        .records_until("the update", |r| {
            find(r, "leads", "contact_id", &id).first().is_some_and(|l| l["last_name"] == "Quist-Berg")
        })
        .await;
    assert_eq!(find(&records, "leads", "contact_id", &id)[0]["version"].as_u64(), Some(version + 1));

    // A sync with no change writes nothing: another full contacts tick (one job reads every
    // book), no write.
    let before = sys.writes_total().await;
    let done = sys.kind("sync_contacts").await.done;
    wait("another contacts tick to finish", || async {
        let k = sys.kind("sync_contacts").await;
        let u = sys.kind("upsert_contact").await;
        (k.done > done && k.ready + k.running + u.ready + u.running == 0).then_some(())
    })
    .await;
    assert_eq!(sys.writes_total().await, before, "a tick with no source change wrote to Snapshots");
    sys.stop().await;
}

fn assert_no_duplicates(records: &Value, collection: &str) {
    let ids: Vec<&str> =
        records[collection].as_array().into_iter().flatten().filter_map(|r| r["external_id"].as_str()).collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate external ids in {collection}");
}
