//! Producer-side control seen by worker processes: a paused queue reserves nothing and runs
//! its jobs after resume; retrying a dead job runs it again; a live unique key makes enqueue
//! a no-op, even after the first job finished.

use std::time::Duration;

use crate::queue_support::{assert_each_once, job, Harness, Op, WorkerOpts, LEASE};
use redis::AsyncCommands;
use snapsync_queue::{Enqueued, JobState, RetryOutcome};
use snapsync_testkit::wait_until_async;

#[tokio::test]
async fn a_paused_queue_reserves_nothing_and_runs_its_jobs_after_resume() {
    let h = Harness::start("pause").await;
    let w = h.worker(&WorkerOpts::default());
    assert!(h.queue.pause().await.expect("pause"));
    let flag: Option<String> = h.conn.clone().get(h.key("paused")).await.expect("GET paused");
    assert!(flag.is_some(), "pause sets the flag the reserve script reads");
    let paused_at = h.redis_now_ms().await;
    let tags: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
    h.enqueue(tags.iter().map(|t| job(t, Op::Noop)).collect()).await;

    // The enqueue woke the worker; its heartbeats show it alive and looping for over a lease
    // (three heartbeat periods) after the pause — long enough to have taken the jobs.
    wait_until_async("the worker to heartbeat a lease past the pause", Duration::from_secs(10), || async {
        h.last_beat(w.id()).await.filter(|&beat| beat >= paused_at + LEASE.as_millis() as u64)
    })
    .await;
    let s = h.sizes().await;
    assert_eq!((s.ready, s.running), (5, 0), "a paused queue reserved jobs: {s:?}");
    assert!(h.runs().await.is_empty());

    // Resume wakes the idle worker at once (its wake token), not on some later poll.
    assert!(h.queue.resume().await.expect("resume"));
    h.wait_done_tags(5, Duration::from_secs(10)).await;
    assert_each_once(&h, &tags).await;
}

#[tokio::test]
async fn a_live_unique_key_dedups_enqueues_even_after_the_job_finished() {
    let h = Harness::start("unique").await;
    let _w = h.worker(&WorkerOpts::default().concurrency(1).prefetch(1));
    let first = h.queue.enqueue(job("u1", Op::Noop).unique("webhook:42")).await.expect("enqueue");
    let Enqueued::Created(id) = first else { panic!("first enqueue with a fresh key: {first:?}") };
    let second = h.queue.enqueue(job("u2", Op::Noop).unique("webhook:42")).await.expect("enqueue");
    assert_eq!(second, Enqueued::Duplicate(id.clone()));
    h.wait_state(&id, "done", Duration::from_secs(10)).await;

    // The key outlives the job (unique TTL), so a redelivered webhook still does nothing.
    let third = h.queue.enqueue(job("u3", Op::Noop).unique("webhook:42")).await.expect("enqueue");
    assert_eq!(third, Enqueued::Duplicate(id.clone()));
    // A different key is a different job. With one slot and FIFO order, once it finished
    // anything enqueued before it would have started.
    let other = h.queue.enqueue(job("u4", Op::Noop).unique("webhook:43")).await.expect("enqueue");
    let Enqueued::Created(other) = other else { panic!("a fresh key creates a job: {other:?}") };
    h.wait_state(&other, "done", Duration::from_secs(10)).await;

    let runs = h.runs().await;
    assert_eq!(runs.get("u1"), Some(&1));
    assert_eq!(runs.get("u4"), Some(&1));
    assert_eq!((runs.get("u2"), runs.get("u3")), (None, None), "a duplicate ran: {runs:?}");
    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled, s.running, s.done), (0, 0, 0, 2));
}

#[tokio::test]
async fn retrying_a_dead_job_runs_it_again() {
    let h = Harness::start("retry-dead").await;
    let _w = h.worker(&WorkerOpts::default());
    // A permanent error: dead after one run, whatever its attempts.
    let id = h.enqueue(vec![job("r", Op::Permanent)]).await.remove(0);
    let dead = h.wait_state(&id, "dead", Duration::from_secs(10)).await;
    assert_eq!(dead.get("r").map(String::as_str), Some("permanent error"), "{dead:?}");
    let died_at: u64 = dead.get("f").and_then(|f| f.parse().ok()).expect("dead time");
    assert_eq!(h.runs_of("r").await, 1);

    assert_eq!(h.queue.retry(&id).await.expect("retry"), RetryOutcome::Retried { from: JobState::Dead });
    // It runs again (and, still failing permanently, dies again with a second history entry).
    let again = wait_until_async("the retried job to die again", Duration::from_secs(10), || async {
        let hash = h.job_hash(&id).await;
        let f: u64 = hash.get("f").and_then(|f| f.parse().ok()).unwrap_or(0);
        (hash.get("s").map(String::as_str) == Some("dead") && f > died_at).then_some(hash)
    })
    .await;
    assert_eq!(again.get("a").map(String::as_str), Some("1"), "a retry from dead restarts attempts: {again:?}");
    assert_eq!(h.runs_of("r").await, 2, "the retried job ran again");
    // Attempts restart from 0, so the rerun is attempt 1 again; both failures are in the history.
    let attempts: Vec<u32> = h.runs_log("r").await.iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, vec![1, 1]);
    let detail = h.queue.get(&id).await.expect("get").expect("the job exists");
    assert_eq!(detail.summary.state, JobState::Dead);
    assert_eq!(detail.history.len(), 2, "{:?}", detail.history);
    let s = h.sizes().await;
    assert_eq!((s.ready, s.running, s.dead, s.done), (0, 0, 1, 0));
}
