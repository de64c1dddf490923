//! The retry horizon rides out an outage: Snapshots answering 503 (no `Retry-After`, so every
//! call is a real failure, not a wait) for longer than the old default policy's whole retry
//! budget leaves no dead job, and every lead lands once Snapshots is back.
//!
//! The policy's time scale is compressed 100× by config (`retry.base` 20 ms instead of 2 s,
//! `retry.cap` 3 s instead of 5 min) while `retry.max_attempts` keeps its default (15): the
//! attempts then cover at least 11.5 s of failures. The old defaults (5 attempts, full jitter
//! over base 1 s, cap 5 min) compressed the same way covered at most 150 ms — a 4 s outage
//! would have left every job that met it dead.

use std::time::{Duration, Instant};

use crate::pipeline_support::{count, expected_leads, snapshots_fault, Options, System};
use serde_json::json;
use snapsync::jobs::{Payload, SyncContacts, SyncLocations, Trigger};
use snapsync_queue::{horizon, NewJob, QueueConfig};

const OUTAGE: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshots_down_longer_than_the_old_retry_budget_leaves_no_dead_job() {
    let retry = "base = \"20ms\"\ncap = \"3s\"\n";
    let sys = System::start(Options { every: None, retry, ..Options::default() }).await;
    let q = sys.config.queue_config();
    assert_eq!(q.default_max_attempts, QueueConfig::default().default_max_attempts, "the default attempts are tested");
    let (covered, _) = horizon(q.default_max_attempts, q.backoff_base, q.backoff_cap);
    // The old defaults compressed the same way: 4 waits of at most 10, 20, 40, 80 ms.
    let old = Duration::from_millis(10 + 20 + 40 + 80);
    assert!(covered > OUTAGE * 2 && OUTAGE > old * 20, "covered {covered:?}, outage {OUTAGE:?}, old budget {old:?}");

    // Snapshots goes down before the first sync and stays down for OUTAGE.
    snapshots_fault(
        &sys,
        json!({"route": "/**", "outage_secs": OUTAGE.as_secs_f64(), "error_status": 503, "retry_after": 0}),
    )
    .await;
    let down_at = Instant::now();
    for job in [
        NewJob::new(SyncLocations::KIND.as_str(), SyncLocations { v: 1, trigger: Trigger::Manual }.encode()),
        NewJob::new(
            SyncContacts::KIND.as_str(),
            SyncContacts { v: 1, trigger: Trigger::Manual, extension_id: None, extension_site: None }.encode(),
        ),
    ] {
        sys.queue.enqueue(job).await.expect("enqueue a sync");
    }

    let expected = expected_leads(&sys);
    let records = sys
        .records_until("every lead and location after the outage", |r| {
            count(r, "leads") >= expected && count(r, "locations") >= 9
        })
        .await;
    eprintln!("landed {:?} after an outage of {OUTAGE:?}", down_at.elapsed());
    assert!(down_at.elapsed() >= OUTAGE, "landed while Snapshots was down: the fault did not apply");
    assert_eq!(count(&records, "leads"), expected, "a lead is missing or duplicated");
    let counts = sys.queue.counts().await.expect("counts");
    assert_eq!(counts.totals.dead, 0, "no job may die of an outage shorter than the horizon: {counts:?}");
    // Jobs did fail during the outage (it was real failures, not waits): some ran more than once.
    let upserts = counts.by_kind.get("upsert_contact").copied().unwrap_or_default();
    assert!(upserts.done as usize >= expected, "{counts:?}");
    let page = sys.queue.list(snapsync_queue::JobState::Done, Some("sync_locations"), 0, 10).await.expect("list");
    assert!(page.jobs.iter().any(|j| j.attempts > 1), "the outage failed no attempt: {:?}", page.jobs);
    sys.stop().await;
}
