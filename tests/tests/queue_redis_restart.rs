//! Redis dies (SIGKILL) and comes back (AOF on) in the middle of a run: every job is done
//! exactly once and the same worker processes, never restarted, go on with new work.

mod queue_support;

use std::time::Duration;

use queue_support::{assert_each_once, job, Harness, Op, WorkerOpts};

/// How long Redis stays down: under the lease, as a quick crash-and-restart would be.
const OUTAGE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_redis_restart_mid_run_loses_and_repeats_nothing_and_workers_resume_by_themselves() {
    let mut h = Harness::start_with_aof("restart").await;
    let opts = WorkerOpts::default().concurrency(2).prefetch(4);
    let mut a = h.worker(&opts);
    let mut b = h.worker(&opts);

    let before: Vec<String> = (0..300).map(|i| format!("b{i}")).collect();
    let ids = h.enqueue(before.iter().map(|t| job(t, Op::Sleep(10))).collect()).await;
    h.wait_done_tags(60, Duration::from_secs(20)).await;

    h.redis.kill();
    assert!(!h.redis.is_up());
    // Fault injection, not synchronisation: Redis stays down this long while the workers run.
    tokio::time::sleep(OUTAGE).await;
    h.redis.restart();
    assert!(a.is_running() && b.is_running(), "a worker exited when Redis went away");

    h.wait_done_tags(before.len() as u64, Duration::from_secs(30)).await;
    for id in &ids {
        h.wait_state(id, "done", Duration::from_secs(10)).await;
    }
    // Done exactly once each. A run whose start was recorded but that could not finish while
    // Redis was down may have started again, so runs may exceed one; completions may not.
    let done = h.done().await;
    let not_once: Vec<_> = before.iter().filter(|t| done.get(*t).copied() != Some(1)).take(20).collect();
    if let Some(tag) = not_once.first() {
        let i: usize = tag[1..].parse().expect("tag b<n>");
        panic!(
            "not done exactly once: {not_once:?}\nruns of {tag}: {:?}\njob: {:?}",
            h.runs_log(tag).await,
            h.job_hash(&ids[i]).await
        );
    }
    let runs = h.runs().await;
    let repeated = before.iter().filter(|t| runs.get(*t).copied().unwrap_or(0) > 1).count();
    eprintln!("{repeated} of {} jobs started more than once across the restart", before.len());
    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled, s.running, s.dead), (0, 0, 0, 0), "{s:?}");

    // The same two processes take new work: enough jobs that neither can hold them all, so
    // each worker must reserve some.
    let after: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
    h.enqueue(after.iter().map(|t| job(t, Op::Sleep(50))).collect()).await;
    h.wait_done_tags((before.len() + after.len()) as u64, Duration::from_secs(30)).await;
    assert_each_once(&h, &after).await;
    let log = h.log().await;
    for w in [&a, &b] {
        assert!(
            log.iter().any(|r| r.tag.starts_with('a') && r.worker == w.id()),
            "worker {} took no job after the restart",
            w.id()
        );
    }
    assert!(a.is_running() && b.is_running());
}
