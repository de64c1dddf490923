//! Issue 4, "Done when" 8: three `snapsync-worker` processes started at the same moment log
//! in to RingCentral once in total; after a forced token expiry exactly one refresh happens.

use crate::pipeline_support::{bins, Options, System, WAIT};
use serde_json::{json, Value};
use snapsync_queue::NewJob;
use snapsync_testkit::poll_until_async;

async fn oauth_stats(sys: &System) -> Value {
    sys.get(&format!("{}/sandbox/oauth/stats", sys.sandbox.rc_url())).await
}

/// Enqueues `n` jobs that each call RingCentral and waits until all are done.
async fn run_jobs(sys: &System, n: u64) {
    let before = sys.kind("sync_account").await.done;
    for _ in 0..n {
        let payload = json!({"v": 1, "trigger": {"type": "manual"}}).to_string();
        sys.queue.enqueue(NewJob::new("sync_account", payload)).await.expect("enqueue");
    }
    let finished = poll_until_async(WAIT, || async {
        let k = sys.kind("sync_account").await;
        assert_eq!(k.dead, 0, "a sync_account job died; logs:\n{}", sys.logs());
        (k.done >= before + n).then_some(())
    })
    .await;
    if finished.is_none() {
        let k = sys.kind("sync_account").await;
        let stats = oauth_stats(sys).await;
        panic!("{n} sync_account jobs not done within {WAIT:?}: {k:?}; oauth {stats}; logs:\n{}", sys.logs());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_log_in_once_and_refresh_once_after_expiry() {
    let _ = bins();
    // No producer: the three workers start together (spawned back to back) and race.
    let sys = System::start(Options { every: None, producers: 0, workers: 3, ..Options::default() }).await;
    run_jobs(&sys, 12).await;
    let stats = oauth_stats(&sys).await;
    assert_eq!(stats["logins"], 1, "three workers, one login: {stats}");

    sys.http.post(format!("{}/sandbox/oauth/expire", sys.sandbox.rc_url())).send().await.expect("expire");
    run_jobs(&sys, 12).await;
    let stats = oauth_stats(&sys).await;
    assert_eq!(stats["logins"], 1, "an expired token must be refreshed, not a new login: {stats}");
    assert_eq!(stats["refreshes"], 1, "exactly one refresh across the three workers: {stats}");
    sys.stop().await;
}
