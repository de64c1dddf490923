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

/// Issue 9: a frequency changed in Redis (what `snapsync schedule set` and the admin API
/// write) takes effect at the next tick on both replicas, without a restart, and each tick
/// is still enqueued once; a paused schedule shows no next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_schedule_change_reaches_both_replicas_at_the_next_tick() {
    use snapsync::config::Resource;
    use snapsync_producer::schedules::ScheduleStore;
    let _ = bins();
    let mut sys = System::start(Options { every: Some("1h"), producers: 2, workers: 0, ..Options::default() }).await;
    // At start each replica enqueues the latest hourly tick (one job for both).
    wait("the first locations tick", || async { (sys.kind("sync_locations").await.ready == 1).then_some(()) }).await;
    let conn = snapsync_queue::RedisConn::connect(&sys.redis.url(), Default::default()).await.expect("redis");
    let store = ScheduleStore::new(conn, &sys.config.queue.prefix);
    let seeded = store.get(Resource::Locations).await.expect("read").expect("seeded from the file");
    assert_eq!((seeded.enabled, seeded.every_ms, seeded.updated_by.as_str()), (true, Some(3_600_000), "config"));

    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    store.set(Resource::Locations, Some("1s"), None, "test", now()).await.expect("set");
    let changed = |p: &snapsync_demo::process::Proc| {
        p.log_text()
            .lines()
            .any(|l| l.contains("schedule changed") && l.contains("locations") && l.contains("every 1s"))
    };
    wait("both replicas to read the change", || async {
        sys.procs.iter().filter(|p| p.name.starts_with("serve")).all(changed).then_some(())
    })
    .await;
    wait("four more locations ticks", || async { (sys.kind("sync_locations").await.ready >= 5).then_some(()) }).await;

    // Paused: no next run in the listing, and the replicas say so.
    store.set_enabled(Resource::Locations, false, &sys.config.schedules, "test", now()).await.expect("pause");
    let listed = store.list(&sys.config.schedules, now()).await.expect("list");
    let locations = listed.iter().find(|v| v.resource == "locations").expect("locations listed");
    assert_eq!((locations.rule.enabled, locations.next_run_ms), (false, None));
    assert!(locations.last_run.is_some(), "the last run is recorded");
    wait("both replicas to pause", || async {
        let paused = |p: &snapsync_demo::process::Proc| {
            p.log_text()
                .lines()
                .any(|l| l.contains("schedule changed") && l.contains("locations") && l.contains("enabled=false"))
        };
        sys.procs.iter().filter(|p| p.name.starts_with("serve")).all(paused).then_some(())
    })
    .await;

    for p in sys.procs.iter_mut() {
        let status = p.terminate(std::time::Duration::from_secs(15));
        assert!(status.is_some_and(|s| s.success()), "{} exit {status:?}", p.name);
    }
    // Every tick once, the ones after the change one second apart.
    let page = sys.queue.list(JobState::Ready, Some("sync_locations"), 0, 1000).await.expect("list");
    let mut ticks = Vec::new();
    for job in &page.jobs {
        let detail = sys.queue.get(&job.id).await.expect("get").expect("job exists");
        let payload: serde_json::Value = serde_json::from_str(&detail.payload).expect("payload json");
        ticks.push(payload["trigger"]["tick_ms"].as_u64().expect("tick_ms"));
    }
    let unique: BTreeSet<u64> = ticks.iter().copied().collect();
    assert_eq!(unique.len(), ticks.len(), "a tick was enqueued twice: {ticks:?}");
    let after: Vec<u64> = unique.iter().copied().filter(|t| t % 3_600_000 != 0).collect();
    assert!(after.len() >= 4, "ticks after the change: {after:?}");
    assert!(after.windows(2).all(|w| w[1] - w[0] == 1000), "one second apart: {after:?}");
    sys.procs.clear();
    sys.stop().await;
}
