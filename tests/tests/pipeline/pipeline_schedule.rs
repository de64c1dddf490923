//! Issue 4, "Done when" 6: two `snapsync serve` replicas on one Redis enqueue each scheduled
//! tick once (no worker runs, so the jobs stay where the replicas put them).

use std::collections::BTreeSet;

use crate::pipeline_support::{bins, wait, Options, System};
use snapsync_queue::JobState;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_producer_replicas_enqueue_each_tick_once() {
    let _ = bins();
    let sys = System::start(Options { every: Some("1s"), producers: 2, workers: 0, ..Options::default() }).await;
    wait("four locations ticks", || async { (sys.kind("sync_locations").await.ready >= 4).then_some(()) }).await;
    let mut procs = sys;
    // Stop both replicas first, so the list below is final.
    for p in procs.procs.iter_mut() {
        let status = p.terminate(std::time::Duration::from_secs(15));
        assert!(status.is_some_and(|s| s.success()), "{} exit {status:?}", p.name);
    }
    let page = procs.queue.list(JobState::Ready, None, 0, 1000).await.expect("list");
    let mut ticks = Vec::new();
    for job in page.jobs.iter().filter(|j| j.kind == "sync_locations") {
        let detail = procs.queue.get(&job.id).await.expect("get").expect("job exists");
        let payload: serde_json::Value = serde_json::from_str(&detail.payload).expect("payload json");
        let tick = payload["trigger"]["tick_ms"].as_u64().unwrap_or_else(|| panic!("no tick_ms in {payload}"));
        ticks.push(tick);
    }
    let unique: BTreeSet<u64> = ticks.iter().copied().collect();
    assert_eq!(unique.len(), ticks.len(), "a tick was enqueued twice: {ticks:?}");
    let (first, last) = (*unique.first().expect("ticks"), *unique.last().expect("ticks"));
    assert_eq!(
        unique.len() as u64,
        (last - first) / 1000 + 1,
        "every tick between the first and last once: {unique:?}"
    );
    procs.procs.clear();
    procs.stop().await;
}
