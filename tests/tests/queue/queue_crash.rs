//! Workers that die or stop, through real `queue-test-worker` processes and real signals:
//! a SIGKILLed worker's job completes once elsewhere within the lease bound, a job that kills
//! its worker every time ends in dead, prefetched jobs of a slow but heartbeating worker are
//! not stolen, and SIGTERM stops a worker without losing or repeating a job.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use crate::queue_support::{
    assert_each_once, error_of, job, restart_bound, Harness, Op, WorkerOpts, WorkerProcess, LEASE,
};
use redis::AsyncCommands;
use snapsync_testkit::wait_until_async;

#[tokio::test]
async fn a_sigkilled_workers_job_completes_once_on_another_worker_within_the_lease_bound() {
    let h = Harness::start("sigkill").await;
    let opts = WorkerOpts::default().concurrency(1).prefetch(1);
    let mut a = h.worker(&opts);
    let mut b = h.worker(&opts);
    let id = h.enqueue(vec![job("slow", Op::Sleep(1500))]).await.remove(0);

    let first = wait_until_async("the job to start", Duration::from_secs(10), || async {
        h.runs_log("slow").await.into_iter().next()
    })
    .await;
    assert_eq!(first.attempt, 1);
    let a_ran_it = first.worker == a.id();
    assert!(a_ran_it || first.worker == b.id(), "run by an unknown worker: {first:?}");
    let (victim, survivor) = if a_ran_it { (&mut a, b.id().to_string()) } else { (&mut b, a.id().to_string()) };
    let victim_id = victim.id().to_string();
    victim.kill();
    let killed_at = Instant::now();
    assert_eq!(h.done_of("slow").await, 0, "the first run finished before the kill: not a mid-job crash");

    // Within 1.5 leases of the kill (see restart_bound), not on some later sweep.
    let bound = restart_bound();
    let second = wait_until_async("the job to restart on the surviving worker", bound, || async {
        h.runs_log("slow").await.into_iter().nth(1)
    })
    .await;
    eprintln!("job restarted {:?} after the SIGKILL (lease {LEASE:?})", killed_at.elapsed());
    assert_eq!((second.worker.as_str(), second.attempt), (survivor.as_str(), 2));

    let hash = h.wait_state(&id, "done", Duration::from_secs(10)).await;
    assert_eq!(hash.get("a").map(String::as_str), Some("2"));
    assert_eq!((h.runs_of("slow").await, h.done_of("slow").await), (2, 1), "two starts, one completion");
    let history = h.history(&id).await;
    assert_eq!(history.len(), 1, "one lost attempt: {history:?}");
    assert_eq!((history[0].worker.as_str(), history[0].attempt), (victim_id.as_str(), 1));
    assert!(error_of(&history[0]).contains("worker lost"), "{history:?}");
    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled, s.running, s.done, s.dead), (0, 0, 0, 1, 0));
}

#[tokio::test]
async fn a_job_that_kills_its_worker_every_time_is_dead_after_max_attempts() {
    let h = Harness::start("poison").await;
    let opts = WorkerOpts::default().concurrency(1).prefetch(1).max_attempts(3);
    let id = h.enqueue(vec![job("poison", Op::Die).max_attempts(3)]).await.remove(0);

    // Like a supervisor: whenever the worker is gone, start another. Each run of the job kills
    // the worker holding it; the next worker recovers the expired lease.
    let mut workers = vec![h.worker_may_die(&opts)];
    let deadline = Instant::now() + Duration::from_secs(40);
    let hash = loop {
        let hash = h.job_hash(&id).await;
        if hash.get("s").map(String::as_str) == Some("dead") {
            break hash;
        }
        assert!(Instant::now() < deadline, "the poison job is not dead after 40 s: {hash:?}");
        let current = workers.last_mut().expect("a worker");
        if !current.is_running() {
            assert!(workers.len() <= 4, "more workers died than the job has attempts");
            workers.push(h.worker_may_die(&opts));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    assert_eq!(hash.get("r").map(String::as_str), Some("worker lost"), "{hash:?}");
    assert_eq!(hash.get("a").map(String::as_str), Some("3"));
    let runs = h.runs_log("poison").await;
    assert_eq!(runs.iter().map(|r| r.attempt).collect::<Vec<_>>(), vec![1, 2, 3], "{runs:?}");
    assert_eq!(h.done_of("poison").await, 0);
    let history = h.history(&id).await;
    assert_eq!(history.iter().map(|a| a.attempt).collect::<Vec<_>>(), vec![1, 2, 3], "{history:?}");
    assert!(history.iter().all(|a| error_of(a).contains("worker lost")), "{history:?}");
    // Each of the three runs killed its worker with SIGKILL.
    let exits: Vec<_> = workers.iter_mut().map(|w| w.try_exit()).collect();
    assert_eq!(exits.len(), 4, "three workers killed by the job, a fourth alive: {exits:?}");
    assert!(exits[..3].iter().all(|e| e.and_then(|s| s.signal()) == Some(9)), "not SIGKILLed: {exits:?}");
    assert!(exits[3].is_none(), "the fourth worker is alive");

    // The queue goes on: the surviving worker runs new work, and the dead job never runs again.
    let next = h.enqueue(vec![job("after", Op::Noop)]).await.remove(0);
    h.wait_state(&next, "done", Duration::from_secs(10)).await;
    assert_eq!(h.runs_of("poison").await, 3);
    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled, s.running, s.dead), (0, 0, 0, 1));
}

#[tokio::test]
async fn prefetched_jobs_of_a_slow_heartbeating_worker_are_not_stolen() {
    let h = Harness::start("prefetch").await;
    let slow = h.worker(&WorkerOpts::default().concurrency(1).prefetch(8));
    let tags: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    // 8 × 300 ms on one slot is 2.4 s: the last jobs wait in the buffer more than two leases.
    let ids = h.enqueue(tags.iter().map(|t| job(t, Op::Sleep(300))).collect()).await;
    wait_until_async("the slow worker to lease all 8 jobs", Duration::from_secs(10), || async {
        let s = h.sizes().await;
        (s.ready == 0 && s.running == 8).then_some(())
    })
    .await;
    for id in &ids {
        let w = h.job_hash(id).await.remove("w");
        assert_eq!(w.as_deref(), Some(slow.id()), "job {id} not leased to the slow worker");
    }
    // A second, idle worker: it could only get these jobs by stealing an expired lease.
    let other = h.worker(&WorkerOpts::default());

    h.wait_done_tags(8, Duration::from_secs(15)).await;
    for id in &ids {
        h.wait_state(id, "done", Duration::from_secs(5)).await;
    }
    assert_each_once(&h, &tags).await;
    let log = h.log().await;
    assert!(log.iter().all(|r| r.worker == slow.id() && r.attempt == 1), "a job ran elsewhere: {log:?}");
    for id in &ids {
        assert!(h.history(id).await.is_empty(), "job {id} lost its lease");
    }
    assert_ne!(other.id(), slow.id());
}

#[tokio::test]
async fn sigterm_finishes_the_running_job_hands_back_the_rest_and_exits_zero() {
    let h = Harness::start("sigterm").await;
    let opts = WorkerOpts::default().concurrency(1).prefetch(4).shutdown_ms(5000);
    let mut first = h.worker(&opts);
    let tags: Vec<String> = (0..4).map(|i| format!("t{i}")).collect();
    let ids = h.enqueue(tags.iter().map(|t| job(t, Op::Sleep(600))).collect()).await;
    wait_until_async("the first job to start", Duration::from_secs(10), || async { h.log().await.into_iter().next() })
        .await;

    first.terminate();
    let status = first.wait_exit(Duration::from_secs(8));
    assert_eq!(status.code(), Some(0), "graceful stop exits 0 ({status})");
    // The job that was running finished and was acknowledged before the exit.
    let started: Vec<String> = h.log().await.into_iter().map(|r| r.tag).collect();
    assert!(!started.is_empty());
    for tag in &started {
        assert_eq!(h.done_of(tag).await, 1, "{tag} was running at SIGTERM and must finish");
    }
    let registered: Option<f64> = h.conn.clone().zscore(h.key("workers"), first.id()).await.expect("ZSCORE workers");
    assert_eq!(registered, None, "a stopped worker deregisters");

    // The rest was handed back (or its lease lapses): a new worker runs each job exactly once.
    let _second: WorkerProcess = h.worker(&opts);
    h.wait_done_tags(4, Duration::from_secs(15)).await;
    for id in &ids {
        h.wait_state(id, "done", Duration::from_secs(5)).await;
    }
    assert_each_once(&h, &tags).await;
}
