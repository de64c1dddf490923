//! A backlog due all at once — the case that jammed apalis-redis (>~8,000 due tasks made
//! every fetch fail): 9,000 and 100,000 delayed jobs become due together before any worker
//! starts, and worker processes drain them all, each exactly once, while done-job retention
//! keeps only the newest `done_keep_count`.

use std::time::{Duration, Instant};

use crate::queue_support::{assert_each_once, job, Harness, Op, WorkerOpts};
use redis::AsyncCommands;
use snapsync_queue::JobId;
use snapsync_testkit::wait_until_async;

/// `QueueConfig::default().done_keep_count`, which the test worker keeps.
const DONE_KEEP_COUNT: u64 = 10_000;

/// Enqueues `n` no-op jobs delayed by a second, waits until every one is due, then starts
/// `workers` worker processes and waits for all to complete. Returns the tags, in enqueue order.
async fn drain_due_backlog(h: &Harness, n: usize, workers: usize, opts: &WorkerOpts) -> Vec<String> {
    let tags: Vec<String> = (0..n).map(|i| format!("j{i}")).collect();
    let started = Instant::now();
    let jobs = tags.iter().map(|t| job(t, Op::Noop).delayed(Duration::from_secs(1))).collect();
    let ids = h.enqueue(jobs).await;
    assert_eq!(ids.len(), n);
    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled), (0, n as u64), "every job waits in scheduled");
    // Every job due before a worker exists, so the first reserve sees the whole backlog due.
    wait_until_async("the whole backlog to be due", Duration::from_secs(10), || async {
        let last: Vec<(String, u64)> =
            h.conn.clone().zrange_withscores(h.key("scheduled"), -1, -1).await.expect("ZRANGE scheduled");
        let now = h.redis_now_ms().await;
        last.first().is_some_and(|(_, due)| *due <= now).then_some(())
    })
    .await;
    eprintln!("{n} jobs enqueued and due after {:?}", started.elapsed());

    let drain = Instant::now();
    let procs: Vec<_> = (0..workers).map(|_| h.worker(opts)).collect();
    h.wait_done_tags(n as u64, Duration::from_secs(150)).await;
    let took = drain.elapsed();
    eprintln!(
        "{n} due jobs drained by {workers} worker(s) (concurrency {}, prefetch {}) in {took:?}: {:.0} jobs/s",
        opts.concurrency,
        opts.prefetch,
        n as f64 / took.as_secs_f64()
    );
    // Acks trail the done counter by one flush; wait for the queue to settle.
    wait_until_async("every job acknowledged", Duration::from_secs(10), || async {
        let s = h.sizes().await;
        (s.ready + s.scheduled + s.running == 0).then_some(s)
    })
    .await;
    assert_each_once(h, &tags).await;
    assert_eq!(h.sizes().await.dead, 0);
    drop(procs);
    tags
}

#[tokio::test]
async fn nine_thousand_jobs_due_at_once_are_all_processed() {
    let h = Harness::start("due9k").await;
    let opts = WorkerOpts::default().concurrency(32).prefetch(64);
    drain_due_backlog(&h, 9_000, 1, &opts).await;
    assert_eq!(h.sizes().await.done, 9_000, "below done_keep_count every done job is kept");
}

#[tokio::test]
async fn a_hundred_thousand_jobs_due_at_once_are_all_processed_and_retention_keeps_the_newest() {
    let h = Harness::start("due100k").await;
    let opts = WorkerOpts::default().concurrency(50).prefetch(100);
    let tags = drain_due_backlog(&h, 100_000, 2, &opts).await;
    assert_eq!(tags.len(), 100_000);

    // Retention by count: the done set holds the newest DONE_KEEP_COUNT jobs; the older ones
    // are gone with their hashes, and the per-state count agrees.
    let s = h.sizes().await;
    assert_eq!(s.done, DONE_KEEP_COUNT, "the done set is trimmed to done_keep_count");
    let counts = h.counts().await;
    assert_eq!(counts.get("done:test").copied(), Some(DONE_KEEP_COUNT as i64), "{counts:?}");
    let newest: Vec<String> = h.conn.clone().zrange(h.key("done"), -100, -1).await.expect("ZRANGE done");
    for id in &newest {
        let state = h.state(&JobId(id.clone())).await;
        assert_eq!(state.as_deref(), Some("done"), "kept job {id}");
    }
    // Every stored job has one record in the `rec` hash: the trimmed ones are gone with theirs.
    let jobs_left: u64 = h.conn.clone().hlen(h.key("rec")).await.expect("HLEN rec");
    assert_eq!(jobs_left, DONE_KEEP_COUNT, "the records of trimmed done jobs are deleted");
}
