//! Voicemail follow-ups and failures through a real worker: a voicemail becomes a follow-up
//! for the owner of the caller's lead (or a routed owner when the caller has none); a 422
//! from Snapshots kills the job with the record named; a 503 is retried; a bad payload is
//! dead at once; a lead locked by a crashed run makes its job snooze, then land.

use std::time::{Duration, Instant};

use crate::support::{find, payload_ext, Pipeline, ADMIN_EXT, WAIT};
use reqwest::Method;
use serde_json::{json, Value};
use snapsync::snapshots::{state, Collection};
use snapsync_queue::{JobState, LeaseLocks};
use snapsync_testkit::wait_until_async;

async fn new_contact(p: &Pipeline, body: Value) -> String {
    let c = p.rc(Method::POST, &format!("/sandbox/extensions/{ADMIN_EXT}/contacts"), Some(body)).await;
    match &c["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn voicemail(p: &Pipeline, from: &str) -> serde_json::Value {
    let message = p
        .rc(Method::POST, "/sandbox/voicemail", Some(json!({"extensionId": ADMIN_EXT, "from": {"phoneNumber": from}})))
        .await;
    let id = match &message["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let job = p
        .enqueue(
            "voicemail_follow_up",
            json!({"v": 1, "uuid": format!("u-{id}"), "account_id": null, "extension_id": ADMIN_EXT, "message_id": id}),
        )
        .await;
    let done = p.finished(&job).await;
    assert_eq!(done.summary.state, JobState::Done, "{:?}", done.summary.last_error);
    let records = p.records().await;
    let activity = find(&records, "activities", "external_id", &format!("ringcentral:voicemail:{id}"));
    assert_eq!(activity.len(), 1, "one follow-up for voicemail {id}");
    activity[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn voicemail_becomes_a_follow_up_for_the_leads_owner() {
    let p = Pipeline::start("voicemail", "tag").await;
    // Hooli's key account (own_03) would not win round-robin by chance.
    let id = new_contact(
        &p,
        json!({"firstName": "Vera", "lastName": "Lind", "email": "vera@hooli.example.io", "mobilePhone": "(415) 555-0142"}),
    )
    .await;
    p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    p.settle().await;
    let records = p.records().await;
    let lead = find(&records, "leads", "contact_id", &id)[0].clone();
    assert_eq!(lead["owner"], "own_03");

    let activity = voicemail(&p, "+14155550142").await;
    assert_eq!(activity["type"], "follow_up");
    assert_eq!(activity["owner"], "own_03", "{activity}");
    assert_eq!(activity["lead_id"], lead["lead_id"], "{activity}");
    assert!(activity["due_at"].as_str().is_some(), "a follow-up has a due time: {activity}");

    // A caller without a lead: an owner from the rules (area code 212 → Sales East), no lead.
    let stranger = voicemail(&p, "+12125550777").await;
    assert!(stranger["lead_id"].is_null(), "{stranger}");
    let owner = stranger["owner"].as_str().unwrap_or_default().to_string();
    assert!(["own_01", "own_02"].contains(&owner.as_str()), "Sales East's active owners, got {owner}");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_record_is_dead_with_its_name_and_a_503_is_retried() {
    let p = Pipeline::start("failures", "tag").await;
    p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    p.settle().await;
    assert_eq!(p.dead().await, Vec::<String>::new());

    // Snapshots refuses the next lead create with a 422: permanent, dead at once, named.
    p.snapshots_fault(json!({"route": "POST /leads", "statuses": [422]})).await;
    let id =
        new_contact(&p, json!({"firstName": "Bad", "lastName": "Record", "email": "bad.record@example.com"})).await;
    p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    p.settle().await;
    let dead = p.dead().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].starts_with("upsert_contact") && dead[0].contains(&format!("contact {id}")), "{dead:?}");
    assert!(dead[0].contains("422"), "{dead:?}");
    let page = p.queue.list(JobState::Dead, None, 0, 10).await.expect("dead list");
    assert_eq!(page.jobs[0].attempts, 1, "a permanent error is not retried");

    // A 503 on the next create: retried, then the lead lands once.
    p.snapshots_fault(json!({"route": "POST /leads", "statuses": [503], "retry_after": 0})).await;
    let id = new_contact(&p, json!({"firstName": "Flaky", "lastName": "Day", "email": "flaky.day@example.com"})).await;
    p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    p.settle().await;
    assert_eq!(p.dead().await.len(), 1, "only the 422 job is dead");
    let records = p.records().await;
    assert_eq!(find(&records, "leads", "contact_id", &id).len(), 1);
    let done = p.queue.list(JobState::Done, Some("upsert_contact"), 0, 1000).await.expect("done list");
    let retried: Vec<_> = done.jobs.iter().filter(|j| j.attempts == 2).collect();
    assert_eq!(retried.len(), 1, "the 503 cost one attempt");
    let detail = p.queue.get(&retried[0].id).await.expect("get").expect("job");
    assert!(detail.history[0].error.as_deref().is_some_and(|e| e.contains("503")), "{:?}", detail.history);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreadable_payloads_and_unknown_kinds_are_dead_at_once() {
    let p = Pipeline::start("payloads", "tag").await;
    let wrong_version = p.enqueue("sync_locations", json!({"v": 9, "trigger": {"type": "manual"}})).await;
    let missing = p.enqueue("upsert_contact", json!({"v": 1, "extension_id": ADMIN_EXT})).await;
    let unknown = p.enqueue("tag_call", json!({"v": 1})).await;
    for (job, needle) in [(wrong_version, "version"), (missing, "contact_id"), (unknown, "tag_call")] {
        let d = p.finished(&job).await;
        assert_eq!(d.summary.state, JobState::Dead);
        assert_eq!(d.summary.attempts, 1);
        let error = d.summary.last_error.unwrap_or_default();
        assert!(error.contains(needle), "{needle}: {error}");
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ringcentral_429_pauses_the_group_and_the_sync_waits_it_out() {
    let p = Pipeline::start("rc429", "tag").await;
    p.rc(
        Method::POST,
        "/sandbox/faults",
        Some(json!({"route": "GET /restapi/v1.0/account/*/extension/*/address-book-sync", "statuses": [429], "retry_after": 1})),
    )
    .await;
    let job = p.enqueue("sync_contacts", payload_ext(ADMIN_EXT)).await;
    let done = p.finished(&job).await;
    // The 429 paused the group; the sync snoozed through the pause and ran again, without
    // using up an attempt and without a second job.
    assert_eq!(done.summary.state, JobState::Done, "{:?}", done.summary.last_error);
    assert_eq!(done.summary.attempts, 1, "{:?}", done.history);
    assert!(done.summary.snoozes >= 1, "the wait was not a snooze: {:?}", done.summary);
    assert!(done.history.is_empty(), "a rate-limit wait is not a failed attempt: {:?}", done.history);
    p.settle().await;
    let counts = p.queue.counts().await.expect("counts");
    assert_eq!(counts.by_kind["sync_contacts"].done, 1, "one job, no deferred copy: {counts:?}");
    assert_eq!(counts.totals.dead, 0);
    p.settle().await;
    assert!(crate::support::count(&p.records().await, "leads") > 0, "the contacts synced after the pause");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_context_shows_no_secret_and_a_bad_mapping_file_stops_startup() {
    let p = Pipeline::start("secrets", "tag").await;
    let shown = format!("{:?}", p.ctx);
    for secret in ["sandbox-client-secret", "sandbox-snapshots-key", "eyJhbGciOiJub25lIn0"] {
        assert!(!shown.contains(secret), "Debug shows a secret: {shown}");
    }
    p.stop().await;

    let toml = "[mapping]\npath = \"/nonexistent/mapping.toml\"\n";
    let config = snapsync::config::Config::from_toml_str(toml, []).expect("valid config");
    let err = snapsync_worker::jobs::Context::from_config(&config).await.expect_err("a missing mapping file fails");
    assert!(err.to_string().contains("/nonexistent/mapping.toml"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lead_locked_by_a_crashed_run_snoozes_its_job_until_the_lock_expires() {
    let p = Pipeline::start("deadlock", "tag").await;
    let id = new_contact(&p, json!({"firstName": "Lock", "lastName": "Step", "email": "lock.step@example.com"})).await;
    // A run that took the lead's lock and was then SIGKILLed: its lease's lock is never
    // renewed nor released (forgotten, not dropped: a dropped guard releases it).
    let lease = Duration::from_secs(3);
    let dead = LeaseLocks::new(p.ctx.redis.clone(), "dead-job:1".into(), lease);
    let key = state::lock_key(&p.ctx.prefix, Collection::Leads, &format!("ringcentral:contact:{id}"));
    // Before the SET: the lock cannot expire earlier than `lease` after this.
    let locked_at = Instant::now();
    std::mem::forget(dead.acquire(&key).await.expect("the dead run's lock"));

    let job = p.enqueue("upsert_contact", json!({"v": 1, "extension_id": ADMIN_EXT, "contact_id": id})).await;
    let done = p.finished(&job).await;
    let waited = locked_at.elapsed();
    assert_eq!(done.summary.state, JobState::Done, "{:?}", done.summary.last_error);
    assert!(done.summary.snoozes >= 1, "the busy lead snoozed the job: {:?}", done.summary);
    assert_eq!(done.summary.attempts, 1, "waiting for a lock spends no attempt: {:?}", done.history);
    let reason = done.summary.snooze_reason.clone().unwrap_or_default();
    assert!(reason.contains(&format!("contact {id}")) && reason.contains("another run"), "{reason}");
    // Landed once the dead lock expired, within its lease (plus the queue's pickup), not 180 s.
    assert!(waited >= lease && waited < lease + Duration::from_secs(10), "done {waited:?} after the lock was taken");
    let records = p.records().await;
    assert_eq!(find(&records, "leads", "contact_id", &id).len(), 1, "one lead");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_call_records_are_dead_with_the_reason_and_a_missing_record_snoozes_without_spending_an_attempt() {
    let p = Pipeline::start("badcalls", "tag").await;
    // A call-log record without an id: dead at once, named, the record kept in the payload.
    let record = json!({"telephonySessionId": "s-x", "direction": "Inbound", "from": {"phoneNumber": "+12125550100"}});
    let no_id = p.enqueue("tag_call", json!({"v": 1, "telephony_session_id": "s-x", "record": record})).await;
    let d = p.finished(&no_id).await;
    assert_eq!((d.summary.state, d.summary.attempts), (JobState::Dead, 1));
    let error = d.summary.last_error.clone().unwrap_or_default();
    assert!(error.contains("call-log record has no `id`") && error.contains("s-x"), "{error}");
    assert!(d.payload.contains("+12125550100"), "nothing lost: {}", d.payload);
    // Not an object at all.
    let not_object = p.enqueue("tag_call", json!({"v": 1, "telephony_session_id": "s-y", "record": [1, 2]})).await;
    let d = p.finished(&not_object).await;
    assert!(d.summary.last_error.unwrap_or_default().contains("not a JSON object"));
    // A session RingCentral has no record of (yet): a wait, not a failure. The job snoozes,
    // spending no attempt, and says why; it makes no activity.
    let missing = p.enqueue("tag_call", json!({"v": 1, "uuid": "u-m", "telephony_session_id": "s-never"})).await;
    let d = wait_until_async("the job without a call-log record to snooze", WAIT, || async {
        let d = p.queue.get(&missing).await.ok()??;
        (d.summary.snoozes >= 1).then_some(d)
    })
    .await;
    assert_eq!(d.summary.attempts, 0, "a missing record spends no attempt: {:?}", d.summary);
    assert_ne!(d.summary.state, JobState::Dead, "{:?}", d.summary);
    let reason = d.summary.snooze_reason.clone().unwrap_or_default();
    assert!(reason.contains("no call-log record for telephony session s-never yet"), "{:?}", d.summary);
    let records = p.records().await;
    assert_eq!(records["activities"], json!([]), "no activity from bad input");
    p.stop().await;
}
