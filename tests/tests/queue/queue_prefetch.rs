//! Prefetch through real worker processes: jobs prefetched alongside a job that kills its
//! worker are never charged for it, a prefetch of 10,000 fills and drains, and SIGTERM hands a
//! full prefetch buffer back at once while the running job gets the shutdown deadline.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::queue_support::{assert_each_once, job, Harness, Op, WorkerOpts, LEASE};
use redis::AsyncCommands;
use snapsync_queue::JobState;
use snapsync_testkit::wait_until_async;

/// The poison job SIGKILLs its worker 200 ms into each run rather than at once: a mate that
/// ran just before it on the same worker has had its ack written by then (acks linger 2 ms
/// to batch). A crash within those 2 ms of a job's success may run that job again — the
/// queue is at-least-once — which is not what this test is about: it checks that the mates
/// leased with the poison job, and not started when it killed their worker, cost nothing.
#[tokio::test]
async fn a_poison_job_prefetched_with_fifteen_others_takes_none_of_them_to_dead() {
    let h = Harness::start("poison16").await;
    let opts = WorkerOpts::default().concurrency(1).prefetch(16).max_attempts(3);
    let mates: Vec<String> = (0..15).map(|i| format!("m{i}")).collect();
    // The poison job first, so the worker's first reserve leases all 16 and runs it first.
    let mut jobs = vec![job("poison", Op::DieAfter(200)).max_attempts(3)];
    jobs.extend(mates.iter().map(|t| job(t, Op::Noop)));
    let ids = h.enqueue(jobs).await;
    let (poison, mate_ids) = (ids[0].clone(), ids[1..].to_vec());

    // Like a supervisor: whenever the worker is gone, start another.
    let mut workers = vec![h.worker_may_die(&opts)];
    let mut first_death_seen = false;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let dead = h.state(&poison).await.as_deref() == Some("dead");
        if dead && h.done().await.len() == mates.len() {
            break;
        }
        assert!(Instant::now() < deadline, "poison not dead or mates not done after 40 s: {:?}", h.log().await);
        let current = workers.last_mut().expect("a worker");
        if !current.is_running() {
            if !first_death_seen {
                first_death_seen = true;
                // Its leases outlive it by up to a lease and nobody is alive to recover them:
                // the dead worker's holdings are still there to read. It had reserved all 16
                // at once, and only the poison job's run had started (and been charged).
                let running = h.queue.list(JobState::Running, None, 0, 100).await.expect("list running").jobs;
                assert_eq!(running.len(), 16, "the first worker held all 16 jobs: {running:?}");
                let holders: std::collections::HashSet<_> = running.iter().map(|j| j.worker.clone()).collect();
                assert_eq!(holders.len(), 1, "one worker held them: {holders:?}");
                for j in &running {
                    let is_poison = j.id == poison;
                    assert_eq!((j.started, j.attempts), (is_poison, u32::from(is_poison)), "{j:?}");
                }
            }
            assert!(workers.len() <= 4, "more workers died than the poison job has attempts");
            workers.push(h.worker_may_die(&opts));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("runs in order: {:?}", h.log().await.iter().map(|r| (&r.tag, r.attempt)).collect::<Vec<_>>());

    let hash = h.job_hash(&poison).await;
    assert_eq!(hash.get("r").map(String::as_str), Some("worker lost"), "{hash:?}");
    assert_eq!(hash.get("a").map(String::as_str), Some("3"), "{hash:?}");
    let runs: Vec<u32> = h.runs_log("poison").await.iter().map(|r| r.attempt).collect();
    assert_eq!(runs, vec![1, 2, 3], "exactly three runs of the poison job");
    assert_eq!(h.done_of("poison").await, 0);

    // Each mate was leased (at least) once with the poison job when it killed a worker; none
    // was charged for it: one run, attempt 1, no lost attempt in its history.
    for id in &mate_ids {
        let hash = h.wait_state(id, "done", Duration::from_secs(10)).await;
        assert_eq!(hash.get("a").map(String::as_str), Some("1"), "mate {id} was charged: {hash:?}");
        assert!(h.history(id).await.is_empty(), "mate {id} has a lost attempt: {:?}", h.history(id).await);
    }
    assert_each_once(&h, &mates).await;
    let log = h.log().await;
    assert!(log.iter().filter(|r| r.tag != "poison").all(|r| r.attempt == 1), "{log:?}");
    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled, s.running, s.done, s.dead), (0, 0, 0, 15, 1), "{s:?}");
}

/// A SIGKILLed worker's prefetched jobs go back to ready in their queue order: the job
/// first in line is still first. (Recovery once pushed the expired ids onto the reserving end
/// as they came, so they came out reversed; with a poison job first in line the next worker
/// then ran it last, right after the others, and its crash caught their lingering acks.)
#[tokio::test]
async fn a_dead_workers_prefetched_jobs_come_back_in_queue_order() {
    let h = Harness::start("recover-order").await;
    let opts = WorkerOpts::default().concurrency(1).prefetch(8);
    let tags: Vec<String> = (0..8).map(|i| format!("o{i}")).collect();
    // The first job blocks its first run, so the other seven wait in the buffer behind it.
    let mut jobs = vec![job(&tags[0], Op::SleepFirst(30_000))];
    jobs.extend(tags[1..].iter().map(|t| job(t, Op::Noop)));
    h.enqueue(jobs).await;
    let mut first = h.worker(&opts);
    // Until the worker's latest heartbeat renewed all 8 leases (a heartbeat sets each
    // deadline to its beat + the lease): they then expire together, and the queue order is the
    // only order left to keep. (The first heartbeat can run while the reserve's jobs are
    // still being recorded in the worker, and renew only some.)
    wait_until_async("the first worker to hold all 8 jobs under one deadline", Duration::from_secs(10), || async {
        let beat = h.last_beat(first.id()).await?;
        let deadlines: Vec<(String, u64)> =
            h.conn.clone().zrange_withscores(h.key("running"), 0, -1).await.expect("ZRANGE running");
        let renewed = deadlines.iter().all(|(_, d)| *d == beat + LEASE.as_millis() as u64);
        (deadlines.len() == 8 && renewed && h.runs_of(&tags[0]).await == 1).then_some(())
    })
    .await;
    first.kill();

    // One slot: the second worker runs the recovered jobs one by one, in the order it got them.
    let second = h.worker(&opts);
    h.wait_done_tags(8, Duration::from_secs(15)).await;
    let order: Vec<String> = h.log().await.into_iter().filter(|r| r.worker == second.id()).map(|r| r.tag).collect();

    assert_eq!(order, tags, "the recovered jobs ran out of queue order");
}

/// Jobs one reserve call leases at most (`snapsync_queue::storage::RESERVE_MAX`).
const RESERVE_MAX: u64 = 1_000;

#[tokio::test]
async fn a_prefetch_of_ten_thousand_drains_twenty_thousand_jobs_exactly_once() {
    let h = Harness::start("prefetch10k").await;
    let n = 20_000;
    let tags: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    h.enqueue(tags.iter().map(|t| job(t, Op::Noop)).collect()).await;

    let started = Instant::now();
    let _w = h.worker(&WorkerOpts::default().concurrency(50).prefetch(10_000));
    // The most leases the worker held at once: a prefetch of 10,000 is filled by many reserve
    // calls and renewed by chunked heartbeats, and holding that many is the point.
    let most = std::cell::Cell::new(0u64);
    wait_until_async("20,000 jobs to complete", Duration::from_secs(120), || async {
        most.set(most.get().max(h.sizes().await.running));
        (h.try_done_tags().await? >= n as u64).then_some(())
    })
    .await;
    let took = started.elapsed();
    wait_until_async("every job acknowledged", Duration::from_secs(10), || async {
        let s = h.sizes().await;
        (s.ready + s.scheduled + s.running == 0).then_some(())
    })
    .await;
    eprintln!(
        "{n} jobs drained with prefetch 10,000 in {took:?} ({:.0} jobs/s), at most {} leased at once",
        n as f64 / took.as_secs_f64(),
        most.get()
    );
    assert_each_once(&h, &tags).await;
    assert!(
        most.get() > 2 * RESERVE_MAX,
        "the worker never held more than {} jobs: the prefetch did not fill past a reserve call or two",
        most.get()
    );
    let s = h.sizes().await;
    assert_eq!(s.dead, 0, "{s:?}");
    let log = h.log().await;
    assert!(log.iter().all(|r| r.attempt == 1), "a job ran on a later attempt");
}

#[tokio::test]
async fn sigterm_with_a_full_buffer_hands_it_back_at_once_and_cuts_the_running_job_at_the_deadline() {
    let h = Harness::start("sigterm-full").await;
    let deadline = Duration::from_secs(3);
    let opts = WorkerOpts::default().concurrency(1).prefetch(8).shutdown_ms(deadline.as_millis() as u64);
    let mut a = h.worker(&opts);
    let a_id = a.id().to_string();
    // The long job first, so it runs while the 7 others wait in A's buffer. Its first run
    // outlasts the deadline; its rerun (same attempt number: a cut run is uncharged) is quick.
    let mut jobs = vec![job("long", Op::SleepFirst(10_000))];
    let tags: Vec<String> = (0..7).map(|i| format!("s{i}")).collect();
    jobs.extend(tags.iter().map(|t| job(t, Op::Noop)));
    let ids = h.enqueue(jobs).await;
    let (long, buffered) = (ids[0].clone(), ids[1..].to_vec());
    wait_until_async("A to hold all 8 jobs, running the long one", Duration::from_secs(10), || async {
        let running = h.queue.list(JobState::Running, None, 0, 100).await.ok()?.jobs;
        let all_a = running.len() == 8 && running.iter().all(|j| j.worker.as_deref() == Some(a_id.as_str()));
        let long_started = running.iter().any(|j| j.id == long && j.started);
        (all_a && long_started && h.runs_of("long").await == 1).then_some(())
    })
    .await;

    // Taken before the signal is sent, so every interval below is an upper bound on what the
    // worker took, and the deadline cannot pass before it.
    let signalled = Instant::now();
    a.terminate();
    // At once, not at exit: the buffered jobs are back on ready, uncharged, while A still runs
    // the long job (nobody else is there to take them yet).
    wait_until_async("the 7 buffered jobs to be back on ready", Duration::from_secs(1), || async {
        let mut back = 0;
        for id in &buffered {
            let s = h.try_job(id).await?.summary;
            back += usize::from(s.state == JobState::Ready && s.attempts == 0);
        }
        (back == buffered.len()).then_some(())
    })
    .await;
    let handed_back = signalled.elapsed();
    assert!(a.is_running(), "A exited before its shutdown deadline:\n{}", a.stderr_tail(20));
    let running = h.try_job(&long).await.expect("the long job").summary;
    assert_eq!((running.state, running.worker.as_deref()), (JobState::Running, Some(a_id.as_str())));

    // B takes over what A handed back.
    let b = h.worker(&WorkerOpts::default());
    // A cuts the long job at the deadline, hands it back and exits: watch both.
    let mut long_back = None;
    let (status, exited) = loop {
        if long_back.is_none() {
            let s = h.try_job(&long).await.expect("the long job").summary;
            if !(s.state == JobState::Running && s.worker.as_deref() == Some(a_id.as_str())) {
                long_back = Some(signalled.elapsed());
            }
        }
        if let Some(status) = a.try_exit() {
            break (status, signalled.elapsed());
        }
        assert!(
            signalled.elapsed() < deadline + Duration::from_secs(2),
            "A still running {:?} after SIGTERM (deadline {deadline:?}):\n{}",
            signalled.elapsed(),
            a.stderr_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let long_back = long_back.unwrap_or(exited);
    eprintln!(
        "after SIGTERM: buffer handed back in {handed_back:?}, long job cut at {long_back:?}, exit at {exited:?}"
    );
    assert_eq!(status.code(), Some(0), "graceful stop exits 0 ({status})");
    assert!(long_back >= deadline, "the long job left A at {long_back:?}, before the {deadline:?} deadline");

    h.wait_done_tags(8, Duration::from_secs(15)).await;
    for id in &ids {
        h.wait_state(id, "done", Duration::from_secs(5)).await;
    }
    // The long job: cut once (uncharged, no failure recorded), completed once by B, and its
    // completed run is still attempt 1.
    let runs: Vec<(String, u32)> = h.runs_log("long").await.into_iter().map(|r| (r.worker, r.attempt)).collect();
    assert_eq!(runs, vec![(a_id.clone(), 1), (b.id().to_string(), 1)], "the long job's runs");
    assert_eq!(h.done_of("long").await, 1);
    let detail = h.try_job(&long).await.expect("the long job");
    assert_eq!(detail.summary.attempts, 1, "{detail:?}");
    assert!(detail.history.is_empty(), "the cut was recorded as a failure: {:?}", detail.history);
    // The buffered jobs: each run once, by B, on attempt 1.
    assert_each_once(&h, &tags).await;
    let mut by_tag: HashMap<String, (String, u32)> = HashMap::new();
    for r in h.log().await.into_iter().filter(|r| r.tag != "long") {
        by_tag.insert(r.tag, (r.worker, r.attempt));
    }
    for t in &tags {
        assert_eq!(by_tag.get(t), Some(&(b.id().to_string(), 1)), "{t}");
    }
    for id in &buffered {
        assert!(h.history(id).await.is_empty(), "job {id} has a failed attempt");
    }
    let workers = h.queue.workers().await.expect("workers");
    assert!(workers.live.iter().all(|w| w.id.0 != a_id), "A did not deregister: {workers:?}");
    let s = h.sizes().await;
    assert_eq!((s.ready, s.scheduled, s.running, s.done, s.dead), (0, 0, 0, 8, 0), "{s:?}");
}
