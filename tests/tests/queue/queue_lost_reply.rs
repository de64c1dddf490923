//! A reserve whose reply is lost on the wire (it ran in Redis, the worker never heard): the
//! worker reclaims what that reserve leased by its receipt, so the jobs run at once, uncharged,
//! instead of waiting a whole lease for nobody's heartbeat to lapse.

use std::time::{Duration, Instant};

use crate::queue_support::{assert_each_once, job, Harness, Op, WorkerOpts};
use snapsync_queue::{ReserveTicket, WorkerId};
use snapsync_testkit::{wait_until_async, FaultyProxy};

/// Far longer than the bound below: recovery by lease expiry could not meet it.
const LEASE: Duration = Duration::from_secs(10);
/// From the worker's start to every job done, its startup included.
const BOUND: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_lost_reserve_reply_charges_nothing_and_strands_no_lease() {
    let h = Harness::start("lost-reserve").await;
    let proxy = FaultyProxy::start(h.redis.port());
    // Load the reserve script into Redis now, with nothing to lease: otherwise the worker's
    // first EVALSHA would be answered NOSCRIPT, and that answer, not a reserve's, would be the
    // one dropped.
    let empty = h.queue.reserve(&WorkerId("script-loader".into()), 1, &ReserveTicket::new()).await.expect("reserve");
    assert!(empty.jobs.is_empty());
    let n = 8;
    let tags: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    let ids = h.enqueue(tags.iter().map(|t| job(t, Op::Noop)).collect()).await;

    // The jobs wait before the worker exists, so its very first reserve (through the proxy)
    // is the one that leases them all: the fault armed now cannot hit an idle worker's empty
    // reserve instead.
    let sha = h.queue.script_sha("reserve").expect("the reserve script's SHA");
    proxy.drop_reply_after(sha.as_bytes());
    let started = Instant::now();
    let opts = WorkerOpts::default().concurrency(4).prefetch(n).lease_ms(LEASE.as_millis() as u64);
    let w = h.worker_via(&proxy.url(None), &opts);
    wait_until_async("the reserve's reply to be dropped", BOUND, || async { (proxy.triggered() >= 1).then_some(()) })
        .await;
    h.wait_done_tags(n as u64, BOUND.saturating_sub(started.elapsed())).await;
    for id in &ids {
        h.wait_state(id, "done", BOUND.saturating_sub(started.elapsed())).await;
    }
    let took = started.elapsed();
    eprintln!("{n} jobs done {took:?} after the worker started, its first reserve's reply lost (lease {LEASE:?})");

    // The lost reserve did lease all of them (the worker reclaimed 8), and they ran once each,
    // on attempt 1, with no lost attempt: the reclaim handed them back uncharged.
    let log = w.stderr();
    assert!(log.contains("reserve failed"), "the worker never saw its reserve fail:\n{log}");
    let reclaimed = log.lines().find(|l| l.contains("a reserve's reply was lost; its jobs are back on ready"));
    let reclaimed = reclaimed.unwrap_or_else(|| panic!("the worker reclaimed nothing:\n{log}"));
    assert!(reclaimed.contains(&format!("count={n}")), "{reclaimed}");
    assert_eq!(proxy.triggered(), 1);
    assert_each_once(&h, &tags).await;
    for id in &ids {
        let detail = h.try_job(id).await.expect("a done job");
        assert_eq!(detail.summary.attempts, 1, "{detail:?}");
        assert!(detail.history.is_empty(), "job {id} has a lost attempt: {:?}", detail.history);
    }
    assert!(h.log().await.iter().all(|r| r.worker == w.id() && r.attempt == 1));
    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled, s.running, s.done, s.dead), (0, 0, 0, n as u64, 0), "{s:?}");
}
