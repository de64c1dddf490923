//! What one lead costs in Snapshots requests, counted at the stand-in (`/sandbox/stats`,
//! every API request by method and collection): a new lead at most two (its `POST`, and the
//! owners list routing reads, cached for a minute), a changed one at most two (a `PATCH` by
//! the id and version the write state remembers), an unchanged one none. And RingCentral
//! is not asked again for what a job's payload carries (an extension's site from the
//! fan-out's listing, a voicemail's message from its notification).

use std::collections::BTreeMap;

use crate::support::{find, Pipeline, ADMIN_EXT, WAIT};
use reqwest::Method;
use serde_json::{json, Value};
use snapsync_queue::JobState;
use snapsync_testkit::wait_until_async;

/// Every API request the Snapshots stand-in counted so far, by `"METHOD /collection"`.
async fn requests(p: &Pipeline) -> BTreeMap<String, u64> {
    let stats = p.get(&format!("{}/sandbox/stats", p.sandbox.snapshots_url())).await;
    let counts = stats["requests"].as_object().cloned().unwrap_or_default();
    counts.into_iter().map(|(k, v)| (k, v.as_u64().unwrap_or(0))).collect()
}

/// Runs one `upsert_contact` job carrying `contact` (read at `read_at`) to its end and
/// returns the Snapshots requests it made, by route, and their sum.
async fn upsert(p: &Pipeline, contact: &Value, read_at: &str) -> (BTreeMap<String, u64>, u64) {
    let before = requests(p).await;
    let payload = json!({
        "v": 1,
        "extension_id": ADMIN_EXT,
        "contact_id": contact["id"],
        "contact": contact,
        "site_id": "400000201",
        "read_at": read_at,
    });
    let job = p.enqueue("upsert_contact", payload).await;
    let done = p.finished(&job).await;
    assert_eq!(done.summary.state, JobState::Done, "{:?}", done.summary.last_error);
    let after = requests(p).await;
    let delta: BTreeMap<String, u64> = after
        .iter()
        .map(|(k, n)| (k.clone(), n - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let total = delta.values().sum();
    (delta, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_lead_costs_at_most_two_snapshots_requests_a_changed_one_two_an_unchanged_one_none() {
    let p = Pipeline::start("calls", "tag").await;
    let mut contact = json!({
        "id": "700000001",
        "firstName": "Ida",
        "lastName": "Calls",
        "company": "Acme Corp",
        "email": "ida.calls@acme.example.com",
        "businessPhone": "(212) 555-0142",
    });

    // New: the owners list (cold cache) and the create; no lookup by external id first.
    let (new, n) = upsert(&p, &contact, "2026-03-01T10:00:00.000Z").await;
    assert!(n <= 2, "a new lead cost {n} Snapshots requests: {new:?}");
    let records = p.records().await;
    let lead = find(&records, "leads", "contact_id", "700000001");
    assert_eq!(lead.len(), 1, "one lead");
    assert_eq!(lead[0]["owner"], "own_01", "a new lead is routed (Acme Corp → own_01): {}", lead[0]);
    assert_eq!(lead[0]["last_name"], "Calls");

    // Changed at the source: one PATCH of the remembered id, with the remembered version.
    contact["lastName"] = json!("Calls-Again");
    let (changed, n) = upsert(&p, &contact, "2026-03-01T11:00:00.000Z").await;
    assert!(n <= 2, "a changed lead cost {n} Snapshots requests: {changed:?}");
    let records = p.records().await;
    let lead = find(&records, "leads", "contact_id", "700000001");
    assert_eq!(lead[0]["last_name"], "Calls-Again", "{}", lead[0]);
    assert_eq!(lead[0]["version"], 2, "{}", lead[0]);
    assert_eq!(lead[0]["owner"], "own_01", "the update keeps the owner: {}", lead[0]);

    // Read again, same content: the content hash matches, nothing is sent.
    let (unchanged, n) = upsert(&p, &contact, "2026-03-01T12:00:00.000Z").await;
    assert_eq!(n, 0, "an unchanged lead cost {n} Snapshots requests: {unchanged:?}");
    eprintln!("snapshots requests per lead: new {new:?}, changed {changed:?}, unchanged {unchanged:?}");
    p.stop().await;
}

/// How often RingCentral's stand-in saw a request matching `route`: a fault rule that does
/// nothing but count (its `hits`).
async fn count_rc(p: &Pipeline, route: &str) {
    p.rc(Method::POST, "/sandbox/faults", Some(json!({ "route": route }))).await;
}

async fn rc_hits(p: &Pipeline, route: &str) -> u64 {
    let faults = p.rc(Method::GET, "/sandbox/faults", None).await;
    let rules = faults["rules"].as_array().cloned().unwrap_or_default();
    rules.iter().filter(|r| r["rule"]["route"] == route).filter_map(|r| r["hits"].as_u64()).sum()
}

/// Waits until no job is left to run, snoozed ones included (a per-extension sync snoozes
/// while RingCentral's Heavy group is paused after a 429).
async fn drain(p: &Pipeline) {
    wait_until_async("every job to finish", WAIT, || async {
        let c = p.queue.counts().await.ok()?;
        let t = &c.totals;
        (c.ready() == 0 && t.scheduled == 0 && t.snoozed == 0 && t.running == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_do_not_read_from_ringcentral_what_their_payload_carries() {
    let p = Pipeline::start("rcreads", "tag").await;
    const EXTENSION: &str = "GET /restapi/v1.0/account/*/extension/*";
    const MESSAGE: &str = "GET /restapi/v1.0/account/*/extension/*/message-store/*";
    count_rc(&p, EXTENSION).await;
    count_rc(&p, MESSAGE).await;

    // The fan-out's listing names each extension's site: the per-extension syncs read no extension.
    p.enqueue("sync_contacts", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    drain(&p).await;
    assert_eq!(p.dead().await, Vec::<String>::new());
    let leads = p.records().await["leads"].as_array().map_or(0, Vec::len);
    assert!(leads > 0, "the fan-out synced contacts");
    assert_eq!(rc_hits(&p, EXTENSION).await, 0, "an extension was read again after the fan-out listed it");
    // A sync_contacts payload naming an extension without its site still reads it.
    let job =
        p.enqueue("sync_contacts", json!({"v": 1, "trigger": {"type": "manual"}, "extension_id": ADMIN_EXT})).await;
    assert_eq!(p.finished(&job).await.summary.state, JobState::Done);
    assert_eq!(rc_hits(&p, EXTENSION).await, 1);

    // A voicemail notification's body is the message: a payload carrying it reads nothing.
    let message = p
        .rc(
            Method::POST,
            "/sandbox/voicemail",
            Some(json!({"extensionId": ADMIN_EXT, "from": {"phoneNumber": "+12125550188"}})),
        )
        .await;
    let id = match &message["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let payload = json!({"v": 1, "uuid": format!("u-{id}"), "account_id": null, "extension_id": ADMIN_EXT,
                         "message_id": id, "message": message});
    let job = p.enqueue("voicemail_follow_up", payload).await;
    let done = p.finished(&job).await;
    assert_eq!(done.summary.state, JobState::Done, "{:?}", done.summary.last_error);
    assert_eq!(rc_hits(&p, MESSAGE).await, 0, "the carried message was read again");
    let records = p.records().await;
    let activity = find(&records, "activities", "external_id", &format!("ringcentral:voicemail:{id}"));
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0]["details"]["from_phone"], "+12125550188", "{}", activity[0]);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fan_out_queues_no_second_sync_of_an_extension_whose_sync_is_still_queued() {
    let p = Pipeline::start("pending", "tag").await;
    let admin = format!("GET /restapi/v1.0/account/*/extension/{ADMIN_EXT}/address-book-sync");
    let all = "GET /restapi/v1.0/account/*/extension/*/address-book-sync";
    count_rc(&p, &admin).await;
    count_rc(&p, all).await;
    // An earlier fan-out's sync of the admin extension is still queued (its mark is set).
    let mut conn = p.ctx.redis.clone();
    let mark = p.ctx.key(&format!("contacts-sync:pending:{ADMIN_EXT}"));
    let _: () = redis::AsyncCommands::set(&mut conn, &mark, "an-earlier-fan-out").await.expect("SET");
    p.enqueue("sync_contacts", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    drain(&p).await;
    assert_eq!(rc_hits(&p, &admin).await, 0, "the admin extension was synced a second time");
    assert!(rc_hits(&p, all).await > 0, "the other extensions were synced");
    // The others' marks are gone with their syncs; the earlier fan-out's stays until its sync ends.
    let left: Option<String> = redis::AsyncCommands::get(&mut conn, &mark).await.expect("GET");
    assert_eq!(left.as_deref(), Some("an-earlier-fan-out"));
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fan_out_resumes_after_the_books_it_read_and_a_failed_book_gets_a_job_of_its_own() {
    let p = Pipeline::start("fanfail", "tag").await;
    let book = |ext: &str| format!("GET /restapi/v1.0/account/*/extension/{ext}/address-book-sync");
    let all = "GET /restapi/v1.0/account/*/extension/*/address-book-sync";
    // 102's first read is a 503 with `Retry-After` (a wait: the fan-out snoozes, no attempt
    // spent); 103's first read is a 500 with no hint (a failure: 103 gets a job of its own).
    p.rc(Method::POST, "/sandbox/faults", Some(json!({"route": book("400000102"), "statuses": [503]}))).await;
    let no_hint = json!({"route": book("400000103"), "statuses": [500], "retry_after": 0});
    p.rc(Method::POST, "/sandbox/faults", Some(no_hint)).await;
    count_rc(&p, all).await;
    let fan_out = p.enqueue("sync_contacts", json!({"v": 1, "trigger": {"type": "manual"}})).await;
    let done = p.finished(&fan_out).await;
    assert_eq!(done.summary.state, JobState::Done, "one book's failure does not fail the fan-out");
    assert_eq!((done.summary.attempts, done.summary.snoozes), (1, 1), "the 503 was a snooze, not an attempt");
    drain(&p).await;
    assert_eq!(p.dead().await, Vec::<String>::new());
    let own = p.queue.list(JobState::Done, Some("sync_contacts"), 0, 100).await.expect("list");
    let named: Vec<_> = own.jobs.iter().filter(|j| j.id != fan_out).collect();
    assert_eq!(named.len(), 1, "exactly one job of its own: {named:?}");
    // Every book read once; 102 and 103 twice. The resumed fan-out did not read again the
    // book it had finished before the snooze.
    let users = p.ctx.rc.extensions(&[("type", "User".to_string())]).await.expect("list users").len() as u64;
    assert_eq!(rc_hits(&p, all).await, users + 2);
    for ext in ["400000102", "400000103"] {
        assert!(p.ctx.rc.stored_sync_token(ext).await.expect("token").is_some(), "{ext} was synced after all");
    }
    // No extension is left marked as "sync queued" (a mark left behind would keep the next
    // ticks from reading that book for an hour).
    let mut conn = p.ctx.redis.clone();
    for ext in p.ctx.rc.extensions(&[("type", "User".to_string())]).await.expect("list users") {
        let mark: Option<String> =
            redis::AsyncCommands::get(&mut conn, p.ctx.key(&format!("contacts-sync:pending:{}", ext.id)))
                .await
                .expect("GET");
        assert_eq!(mark, None, "extension {} is still marked", ext.id);
    }
    p.stop().await;
}
