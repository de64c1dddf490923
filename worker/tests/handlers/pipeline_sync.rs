//! The sync pipeline end to end: the sandbox's RingCentral fixture through a real worker
//! (handlers dispatched by kind, real clients, private Redis) into the Snapshots stand-in.

use crate::support::{assert_no_duplicates, count, find, payload_ext, Pipeline, ADMIN_EXT};
use reqwest::Method;
use serde_json::{json, Value};
use snapsync::snapshots::Collection;
use snapsync_sandbox::SandboxConfig;

/// The fixture: 3 sites, 6 emergency locations, 200 contacts of which 8 repeat another's
/// email (`docs/ringcentral-sandbox.md`).
const LOCATIONS: usize = 9;
/// At most: 200 contacts, 8 of them repeating another's email (names drawn by the seed can
/// make more collide).
const LEADS: usize = 192;

async fn initial_sync(p: &Pipeline) {
    p.enqueue("sync_locations", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    p.enqueue("sync_account", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    p.enqueue("sync_contacts", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    p.settle().await;
    assert_eq!(p.dead().await, Vec::<String>::new(), "no job may die in the initial sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn initial_sync_lands_everything_once_and_a_rerun_writes_nothing() {
    let p = Pipeline::start("initial", "tag").await;
    initial_sync(&p).await;
    let records = p.records().await;
    for c in ["locations", "accounts", "leads"] {
        assert_no_duplicates(&records, c);
    }
    assert_eq!(count(&records, "locations"), LOCATIONS);
    let hq = find(&records, "locations", "external_id", "ringcentral:site:400000201");
    assert_eq!(hq.len(), 1);
    assert_eq!(hq[0]["name"], "Headquarters");
    assert_eq!(hq[0]["region"], "CA");
    assert_eq!(hq[0]["country"], "US");
    assert_eq!(find(&records, "locations", "external_id", "ringcentral:emergency-location:400000305").len(), 1);

    assert_eq!(count(&records, "accounts"), 1);
    let account = &records["accounts"][0];
    assert_eq!(account["external_id"], "ringcentral:account:400000001");
    assert_eq!(account["phone"], "+16505550100");
    assert!(account["company_name"].as_str().is_some_and(|n| !n.is_empty()), "{account}");
    assert!(account["primary_contact"]["name"].as_str().is_some_and(|n| !n.trim().is_empty()), "{account}");

    // Every contact has a lead, except duplicates by email: one lead per email.
    let expected = expected_leads(&p);
    assert!(expected <= LEADS, "the fixture repeats at least 8 emails; counted {expected} distinct people");
    assert_eq!(count(&records, "leads"), expected);
    let leads = records["leads"].as_array().expect("leads");
    let mut emails: Vec<&str> = leads.iter().filter_map(|l| l["email"].as_str()).collect();
    let with_email = emails.len();
    emails.sort_unstable();
    emails.dedup();
    assert_eq!(emails.len(), with_email, "two leads share an email");
    let pair = ["500000007", "500000008"].iter().filter(|id| !find(&records, "leads", "contact_id", id).is_empty());
    assert_eq!(pair.count(), 1, "contact 500000008 repeats 500000007's email: exactly one lead");
    for lead in leads {
        assert!(lead["owner"].as_str().is_some_and(|o| o.starts_with("own_")), "lead without owner: {lead}");
        assert!(lead["contact_id"].as_str().is_some(), "lead not linked to its contact: {lead}");
        assert_ne!(lead["owner"], "own_06", "own_06 is inactive: {lead}");
    }
    // i % 10 == 6 holds national-format phones: normalised to E.164.
    let national = find(&records, "leads", "contact_id", "500000017");
    assert_eq!(national.len(), 1);
    let phone = national[0]["phone"].as_str().expect("phone mapped");
    assert!(phone.starts_with("+1") && phone.len() == 12, "{phone}");

    let before = p.writes().await;
    assert_eq!(before["total"].as_u64(), Some((LOCATIONS + 1 + expected) as u64), "{before}");
    // The sync results operators see: what each resource's last sync did.
    let last = snapsync::sync_results::read_all(&p.ctx.redis, &p.ctx.prefix).await.expect("sync results");
    let (loc, acc, con) = (&last["locations"], &last["accounts"], &last["contacts"]);
    assert_eq!((loc.created, loc.updated, loc.failed), (LOCATIONS as u64, 0, 0), "{loc:?}");
    assert_eq!(acc.created, 1, "{acc:?}");
    assert_eq!(con.created, expected as u64, "{con:?}");
    assert!(con.queued.is_some_and(|q| q == con.created + con.unchanged), "every queued upsert counted: {con:?}");
    initial_sync(&p).await;
    let after = p.writes().await;
    assert_eq!(after["total"], before["total"], "a rerun with no source change wrote: {before} → {after}");
    let last = snapsync::sync_results::read_all(&p.ctx.redis, &p.ctx.prefix).await.expect("sync results");
    let loc = &last["locations"];
    assert_eq!((loc.created, loc.updated, loc.unchanged), (0, 0, LOCATIONS as u64), "the rerun: {loc:?}");
    assert_no_duplicates(&p.records().await, "leads");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn source_changes_reach_snapshots() {
    let p = Pipeline::start("changes", "tag").await;
    p.enqueue("sync_locations", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    p.settle().await;
    assert_eq!(p.dead().await, Vec::<String>::new());

    // A new contact: a lead routed by the rules (company Acme Corp → own_01), linked.
    let contact = p
        .rc(
            Method::POST,
            &format!("/sandbox/extensions/{ADMIN_EXT}/contacts"),
            Some(json!({"firstName": "Nora", "lastName": "Quist", "company": "Acme Corp",
                        "email": "nora.quist@acme.example.com", "businessPhone": "(212) 555-0199"})),
        )
        .await;
    let id = contact["id"].to_string().trim_matches('"').to_string();
    p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    p.settle().await;
    let records = p.records().await;
    let lead = find(&records, "leads", "contact_id", &id);
    assert_eq!(lead.len(), 1, "one lead for contact {id}");
    assert_eq!(lead[0]["owner"], "own_01", "{}", lead[0]);
    assert_eq!(lead[0]["phone"], "+12125550199");
    assert_eq!(lead[0]["external_id"], format!("ringcentral:contact:{id}"));
    let hq = find(&records, "locations", "external_id", "ringcentral:site:400000201")[0]["location_id"].clone();
    assert_eq!(lead[0]["location_id"], hq, "extension 101 is at Headquarters");
    let version = lead[0]["version"].as_u64().expect("version");

    // Someone reassigns the lead in Snapshots: the sync must keep that owner.
    let lead_id = lead[0]["lead_id"].as_str().expect("lead id").to_owned();
    let reassign = serde_json::Map::from_iter([("owner".to_string(), json!("own_02"))]);
    p.ctx.snapshots.patch(Collection::Leads, &lead_id, version, &reassign).await.expect("reassign");
    let version = version + 1;

    // Updated at the source → version + 1, owner kept.
    p.rc(
        Method::PATCH,
        &format!("/sandbox/extensions/{ADMIN_EXT}/contacts/{id}"),
        Some(json!({"lastName": "Quist-Berg"})),
    )
    .await;
    p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    p.settle().await;
    let records = p.records().await;
    let lead = find(&records, "leads", "contact_id", &id);
    assert_eq!(lead[0]["last_name"], "Quist-Berg");
    assert_eq!(lead[0]["version"].as_u64(), Some(version + 1));
    assert_eq!(lead[0]["owner"], "own_02", "an existing lead keeps its owner");

    // Deleted at the source → tagged `deleted` (Snapshots cannot delete leads).
    p.rc(Method::DELETE, &format!("/sandbox/extensions/{ADMIN_EXT}/contacts/{id}"), None).await;
    p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    p.settle().await;
    let records = p.records().await;
    assert!(tags(find(&records, "leads", "contact_id", &id)[0]).contains(&"deleted".to_string()));

    // A site renamed → the location renamed; an emergency location deleted → tagged.
    p.rc(Method::PATCH, "/sandbox/sites/400000202", Some(json!({"name": "NYC Office"}))).await;
    p.rc(Method::DELETE, "/sandbox/emergency-locations/400000306", None).await;
    p.enqueue("sync_locations", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    p.settle().await;
    assert_eq!(p.dead().await, Vec::<String>::new());
    let records = p.records().await;
    let site = find(&records, "locations", "external_id", "ringcentral:site:400000202");
    assert_eq!(site[0]["name"], "NYC Office");
    assert_eq!(site[0]["version"], 2);
    let gone = find(&records, "locations", "external_id", "ringcentral:emergency-location:400000306");
    assert_eq!(gone.len(), 1, "tag keeps the record");
    assert!(tags(gone[0]).contains(&"deleted".to_string()), "{}", gone[0]);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleted_emergency_location_is_deleted_when_configured() {
    let p = Pipeline::start("delete", "delete").await;
    p.enqueue("sync_locations", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    p.settle().await;
    assert_eq!(count(&p.records().await, "locations"), LOCATIONS);
    p.rc(Method::DELETE, "/sandbox/emergency-locations/400000306", None).await;
    p.enqueue("sync_locations", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    p.settle().await;
    assert_eq!(p.dead().await, Vec::<String>::new());
    let records = p.records().await;
    assert_eq!(count(&records, "locations"), LOCATIONS - 1);
    assert!(find(&records, "locations", "external_id", "ringcentral:emergency-location:400000306").is_empty());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_s_contacts_are_queued_as_it_is_read_and_the_token_waits_for_the_last_page() {
    // 1,000 contacts: the admin extension's book holds 400, two pages of 250 and 150.
    let config = SandboxConfig { contacts: Some(1000), ..SandboxConfig::default() };
    let p = Pipeline::start_with("pages", "tag", config).await;
    // The first page is answered; every later read of the book is refused (a 400 is no
    // retry: the sync dies), so only what the first page carried can reach Snapshots.
    let route = "GET /restapi/v1.0/account/*/extension/*/address-book-sync";
    p.rc(Method::POST, "/sandbox/faults", Some(json!({"route": route, "after": 1, "statuses": vec![400; 10]}))).await;
    let job = p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    let done = p.finished(&job).await;
    assert_eq!(done.summary.state, snapsync_queue::JobState::Dead, "the second page was refused");
    p.settle().await;
    let first = count(&p.records().await, "leads");
    assert!(first > 0 && first <= 250, "the first page's contacts reach Snapshots on their own: {first} leads");
    assert_eq!(p.ctx.rc.stored_sync_token(ADMIN_EXT).await.expect("read token"), None, "no token before the last page");

    // The book reads again: the rerun is a full sync (no token), and every lead lands once.
    p.rc(Method::DELETE, "/sandbox/faults", None).await;
    let again = p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    assert_eq!(p.finished(&again).await.summary.state, snapsync_queue::JobState::Done);
    p.settle().await;
    let records = p.records().await;
    assert_no_duplicates(&records, "leads");
    assert_eq!(count(&records, "leads"), book_leads(&p, ADMIN_EXT));
    assert!(
        p.ctx.rc.stored_sync_token(ADMIN_EXT).await.expect("read token").is_some(),
        "committed after the last page"
    );
    p.stop().await;
}

/// The leads one extension's book makes (alive contacts, one per distinct email).
fn book_leads(p: &Pipeline, ext: &str) -> usize {
    let dir = p.sandbox.rc_state().directory.lock().unwrap_or_else(|e| e.into_inner());
    let book = &dir.books[&ext.parse::<u64>().expect("numeric id")];
    let mut emails = std::collections::HashSet::new();
    let mut without_email = 0;
    for contact in book.contacts.values().filter(|c| !c.deleted) {
        match contact.fields.email.as_deref().map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()) {
            Some(e) => {
                emails.insert(e);
            }
            None => without_email += 1,
        }
    }
    emails.len() + without_email
}

/// Alive contacts of the sandbox's books, counting contacts that share an email (trimmed,
/// lower-case) once: the leads an initial sync must make. Read from the sandbox's state,
/// not through the API, so the count does not depend on the code under test.
fn expected_leads(p: &Pipeline) -> usize {
    let dir = p.sandbox.rc_state().directory.lock().unwrap_or_else(|e| e.into_inner());
    let mut emails = std::collections::HashSet::new();
    let mut without_email = 0;
    for contact in dir.books.values().flat_map(|b| b.contacts.values()).filter(|c| !c.deleted) {
        match contact.fields.email.as_deref().map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()) {
            Some(e) => {
                emails.insert(e);
            }
            None => without_email += 1,
        }
    }
    emails.len() + without_email
}

fn tags(record: &Value) -> Vec<String> {
    record["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect()
}
