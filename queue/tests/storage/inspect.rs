//! Inspection, control and retention against a private redis-server, driving jobs through
//! `Queue::reserve/ack/fail/heartbeat` directly: counts, paged listing with a kind filter, a job
//! with its history, retry, discard, purge, pause/resume, the live-worker registry, and the
//! retention that ack, fail and recover apply.

use std::time::Duration;

use crate::support::{
    ack_ids, config, enqueue, enqueue_n, info, queue, queue_with, redis_now_ms, refs, registry_score, reserve,
    reserve_only, wait_for_redis_clock_past,
};
use snapsync_queue::{
    DueCounts, Failure, JobId, JobState, NewJob, QueueConfig, RetryOutcome, StateCounts, WorkerId, WorkerInfo,
};
use snapsync_testkit::{wait_until_async, RedisServer};

const PATIENCE: Duration = Duration::from_secs(5);

fn later(error: &str) -> Failure {
    Failure::Retry { after: Some(Duration::from_secs(3600)), error: error.into() }
}

fn now_retry(error: &str) -> Failure {
    Failure::Retry { after: Some(Duration::ZERO), error: error.into() }
}

fn sc(ready: u64, scheduled: u64, running: u64, done: u64, dead: u64) -> StateCounts {
    StateCounts { ready, scheduled, snoozed: 0, running, done, dead }
}

#[tokio::test]
async fn counts_per_state_and_kind_track_every_move() {
    let redis = RedisServer::start();
    let q = queue(&redis, "counts").await;
    let w = WorkerId::generate();
    enqueue_n(&q, 3, "a").await;
    enqueue_n(&q, 2, "b").await;
    let later_b = enqueue(&q, NewJob::new("b", "{}").delayed(Duration::from_secs(3600))).await;
    let c = q.counts().await.unwrap();
    assert_eq!(c.totals, sc(5, 1, 0, 0, 0));
    assert_eq!((c.by_kind["a"], c.by_kind["b"]), (sc(3, 0, 0, 0, 0), sc(2, 1, 0, 0, 0)));
    assert!(!c.paused);

    let two = reserve(&q, &w, 2).await;
    assert!(two.iter().all(|j| j.kind == "a"));
    assert_eq!(q.counts().await.unwrap().by_kind["a"], sc(1, 0, 2, 0, 0));
    ack_ids(&q, std::slice::from_ref(&two[0].id)).await;
    q.fail(&two[1].lease_ref(), two[1].attempt, later("503")).await.unwrap();
    q.discard(&later_b).await.unwrap();
    let c = q.counts().await.unwrap();
    assert_eq!(c.totals, sc(3, 1, 0, 1, 0));
    assert_eq!((c.by_kind["a"], c.by_kind["b"]), (sc(1, 1, 0, 1, 0), sc(2, 0, 0, 0, 0)));

    let three = reserve(&q, &w, 3).await;
    assert_eq!(q.counts().await.unwrap().totals, sc(0, 1, 3, 1, 0));
    let b = three.iter().find(|j| j.kind == "b").unwrap();
    q.fail(&b.lease_ref(), b.attempt, Failure::Permanent { error: "400".into() }).await.unwrap();
    let rest: Vec<JobId> = three.iter().filter(|j| j.id != b.id).map(|j| j.id.clone()).collect();
    ack_ids(&q, &rest).await;
    let c = q.counts().await.unwrap();
    assert_eq!(c.totals, sc(0, 1, 0, 3, 1));
    assert_eq!((c.by_kind["a"], c.by_kind["b"]), (sc(0, 1, 0, 2, 0), sc(0, 0, 0, 1, 1)));

    // A discarded ready job leaves its id in the list until a reserve pops it: the list length
    // is an upper bound, the per-kind count is exact.
    let gone = enqueue(&q, NewJob::new("c", "{}")).await;
    q.discard(&gone).await.unwrap();
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.ready, c.ready()), (1, 0));
    assert!(!c.by_kind.contains_key("c"), "kinds with nothing left are not listed: {c:?}");
    assert!(reserve(&q, &w, 5).await.is_empty());
    assert_eq!(q.counts().await.unwrap().totals.ready, 0);
}

#[tokio::test]
async fn list_pages_in_run_order_and_filters_by_kind_with_a_cursor() {
    let redis = RedisServer::start();
    let q = queue(&redis, "list").await;
    let w = WorkerId::generate();
    let mut ids = Vec::new();
    for n in 0..10 {
        let kind = if n % 2 == 0 { "even" } else { "odd" };
        ids.push(enqueue(&q, NewJob::new(kind, format!("{{\"n\":{n}}}"))).await);
    }
    let page_ids = |p: &snapsync_queue::Page| p.jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>();

    // Ready: in the order reserve takes them, oldest first.
    let p = q.list(JobState::Ready, None, 0, 4).await.unwrap();
    assert_eq!((page_ids(&p), p.next_offset), (ids[0..4].to_vec(), Some(4)));
    let first = &p.jobs[0];
    assert_eq!((first.kind.as_str(), first.state, first.attempts, first.max_attempts), ("even", JobState::Ready, 0, 5));
    assert!(first.created_ms > 0 && first.worker.is_none() && first.due_ms.is_none());
    let p = q.list(JobState::Ready, None, 4, 4).await.unwrap();
    assert_eq!((page_ids(&p), p.next_offset), (ids[4..8].to_vec(), Some(8)));
    let p = q.list(JobState::Ready, None, 8, 4).await.unwrap();
    assert_eq!((page_ids(&p), p.next_offset), (ids[8..10].to_vec(), None));

    // Kind filter: the cursor resumes right after the last entry examined.
    let p = q.list(JobState::Ready, Some("odd"), 0, 2).await.unwrap();
    assert_eq!((page_ids(&p), p.next_offset), (vec![ids[1].clone(), ids[3].clone()], Some(4)));
    let p = q.list(JobState::Ready, Some("odd"), 4, 2).await.unwrap();
    assert_eq!((page_ids(&p), p.next_offset), (vec![ids[5].clone(), ids[7].clone()], Some(8)));
    let p = q.list(JobState::Ready, Some("odd"), 8, 2).await.unwrap();
    assert_eq!((page_ids(&p), p.next_offset), (vec![ids[9].clone()], None));

    // Running (with worker and lease), then done newest first.
    let leased = reserve(&q, &w, 10).await;
    let p = q.list(JobState::Running, Some("even"), 0, 10).await.unwrap();
    assert_eq!(p.jobs.len(), 5);
    assert!(p.jobs.iter().all(|j| j.worker.as_deref() == Some(w.0.as_str()) && j.lease_until_ms.is_some()));
    for job in &leased {
        ack_ids(&q, std::slice::from_ref(&job.id)).await;
    }
    let p = q.list(JobState::Done, None, 0, 10).await.unwrap();
    assert_eq!(p.jobs.len(), 10);
    let finished: Vec<u64> = p.jobs.iter().map(|j| j.finished_ms.unwrap()).collect();
    assert!(finished.windows(2).all(|f| f[0] >= f[1]), "newest first: {finished:?}");
    assert!(q.list(JobState::Ready, None, 0, 10).await.unwrap().jobs.is_empty());
}

#[tokio::test]
async fn kind_filter_stops_at_its_scan_budget_and_hands_back_a_cursor() {
    let redis = RedisServer::start();
    let q = queue(&redis, "budget").await;
    let budget = snapsync_queue::inspect::SCAN_BUDGET;
    enqueue_n(&q, budget + 200, "bulk").await;
    let rare = enqueue(&q, NewJob::new("rare", "{}")).await;
    let p = q.list(JobState::Ready, Some("rare"), 0, 1).await.unwrap();
    assert!(p.jobs.is_empty());
    assert_eq!((p.scanned, p.next_offset), (budget as u64, Some(budget as u64)));
    let p = q.list(JobState::Ready, Some("rare"), budget as u64, 1).await.unwrap();
    assert_eq!(p.jobs.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), vec![rare]);
    // The rare job is the last entry: the list's end was reached, so there is nothing to continue.
    assert_eq!((p.scanned, p.next_offset), (201, None));
}

#[tokio::test]
async fn get_shows_payload_worker_and_attempt_history() {
    let redis = RedisServer::start();
    let q = queue(&redis, "get").await;
    let w = WorkerId::generate();
    let id = enqueue(&q, NewJob::new("sync", "{\"x\":1}").unique("evt-1").max_attempts(3)).await;
    let job = reserve(&q, &w, 1).await.remove(0);
    let running = q.get(&id).await.unwrap().unwrap();
    assert_eq!(running.summary.state, JobState::Running);
    assert_eq!(running.summary.worker.as_deref(), Some(w.0.as_str()));
    assert!(running.summary.lease_until_ms.is_some() && running.history.is_empty());
    q.fail(&job.lease_ref(), job.attempt, now_retry("503 one")).await.unwrap();
    let again = wait_until_async("the retry", PATIENCE, || async { reserve(&q, &w, 1).await.pop() }).await;
    q.fail(&again.lease_ref(), again.attempt, now_retry("timeout two")).await.unwrap();
    let third = wait_until_async("the second retry", PATIENCE, || async { reserve(&q, &w, 1).await.pop() }).await;
    q.fail(&third.lease_ref(), third.attempt, Failure::Permanent { error: "400 bad".into() }).await.unwrap();

    let dead = q.get(&id).await.unwrap().unwrap();
    assert_eq!((dead.payload.as_str(), dead.unique_key.as_deref()), ("{\"x\":1}", Some("evt-1")));
    let s = &dead.summary;
    assert_eq!((s.kind.as_str(), s.state, s.attempts, s.max_attempts), ("sync", JobState::Dead, 3, 3));
    assert_eq!((s.dead_reason.as_deref(), s.last_error.as_deref()), (Some("permanent error"), Some("400 bad")));
    assert!(s.finished_ms.is_some() && s.worker.is_none() && s.lease_until_ms.is_none());
    let attempts: Vec<(u32, &str, &str)> =
        dead.history.iter().map(|a| (a.attempt, a.worker.as_str(), a.error.as_deref().unwrap_or(""))).collect();
    assert_eq!(
        attempts,
        vec![(1, w.0.as_str(), "503 one"), (2, w.0.as_str(), "timeout two"), (3, w.0.as_str(), "400 bad")]
    );
    assert!(dead.history.windows(2).all(|h| h[0].at_ms <= h[1].at_ms));
    assert_eq!(q.get(&JobId::generate()).await.unwrap(), None);
}

#[tokio::test]
async fn retry_puts_dead_and_scheduled_jobs_next_in_line() {
    let redis = RedisServer::start();
    let q = queue(&redis, "retry").await;
    let w = WorkerId::generate();
    let id = enqueue(&q, NewJob::new("k", "{}").max_attempts(1)).await;
    let job = reserve(&q, &w, 1).await.remove(0);
    q.fail(&job.lease_ref(), job.attempt, now_retry("boom")).await.unwrap();
    assert_eq!(q.get(&id).await.unwrap().unwrap().summary.state, JobState::Dead);
    enqueue_n(&q, 3, "k").await;

    assert_eq!(q.retry(&id).await.unwrap(), RetryOutcome::Retried { from: JobState::Dead });
    let back = q.get(&id).await.unwrap().unwrap();
    assert_eq!((back.summary.state, back.summary.attempts, back.summary.dead_reason), (JobState::Ready, 0, None));
    assert_eq!(back.history.len(), 1, "earlier attempts stay visible");
    assert_eq!(q.counts().await.unwrap().totals, sc(4, 0, 0, 0, 0));
    // It runs next, ahead of the backlog, with a full set of attempts.
    let rerun = reserve(&q, &w, 1).await.remove(0);
    assert_eq!((rerun.id.clone(), rerun.attempt, rerun.max_attempts), (id.clone(), 1, 1));
    assert_eq!(q.retry(&JobId::generate()).await.unwrap(), RetryOutcome::NotFound);
    // A running job retried by an operator: its lease ends (a late ack of that run changes
    // nothing), the cut run's attempt is given back, and it is next in line.
    assert_eq!(q.retry(&id).await.unwrap(), RetryOutcome::Retried { from: JobState::Running });
    assert_eq!(q.ack(&[rerun.lease_ref()]).await.unwrap(), 0, "the cut run's ack completes nothing");
    let again = reserve(&q, &w, 1).await.remove(0);
    assert_eq!((again.id.clone(), again.attempt), (id.clone(), 1));
    assert_ne!(again.lease, rerun.lease, "a new lease, a new token");
    assert_eq!(q.ack(&[again.lease_ref()]).await.unwrap(), 1);
    assert_eq!(q.retry(&id).await.unwrap(), RetryOutcome::NotRetryable { state: JobState::Done });

    // A job waiting out its backoff runs now and keeps its attempt count.
    let waiting = enqueue(&q, NewJob::new("k", "{}").max_attempts(3)).await;
    let mut leased = reserve(&q, &w, 10).await;
    let first = leased.iter().position(|j| j.id == waiting).unwrap();
    let job = leased.remove(first);
    q.fail(&job.lease_ref(), job.attempt, later("429")).await.unwrap();
    assert_eq!(q.retry(&waiting).await.unwrap(), RetryOutcome::Retried { from: JobState::Scheduled });
    let job = reserve(&q, &w, 1).await.remove(0);
    assert_eq!((job.id, job.attempt), (waiting, 2));
}

#[tokio::test]
async fn discard_removes_a_job_from_every_state() {
    let redis = RedisServer::start();
    let q = queue(&redis, "discard").await;
    let w = WorkerId::generate();
    enqueue_n(&q, 3, "k").await;
    let three = reserve(&q, &w, 3).await;
    let (done, dead, running) = (three[0].id.clone(), three[1].id.clone(), three[2].id.clone());
    ack_ids(&q, std::slice::from_ref(&done)).await;
    q.fail(&three[1].lease_ref(), three[1].attempt, Failure::Permanent { error: "400".into() }).await.unwrap();
    let ready = enqueue(&q, NewJob::new("k", "{}")).await;
    let scheduled = enqueue(&q, NewJob::new("k", "{}").delayed(Duration::from_secs(3600))).await;

    for (id, state) in [
        (&ready, JobState::Ready),
        (&scheduled, JobState::Scheduled),
        (&running, JobState::Running),
        (&done, JobState::Done),
        (&dead, JobState::Dead),
    ] {
        assert_eq!(q.discard(id).await.unwrap(), Some(state));
        assert_eq!(q.get(id).await.unwrap(), None, "{state} job still there");
        assert_eq!(q.discard(id).await.unwrap(), None);
    }
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals, c.ready()), (sc(1, 0, 0, 0, 0), 0), "only the stale ready id is left: {c:?}");
    assert!(c.by_kind.is_empty(), "{c:?}");
    for state in JobState::ALL {
        assert!(q.list(state, None, 0, 10).await.unwrap().jobs.is_empty(), "{state} still lists a job");
    }
    assert!(reserve(&q, &w, 10).await.is_empty());
    // The worker that held the running job learns it lost it; its ack changes nothing.
    let lease = three[2].lease_ref();
    assert_eq!(q.heartbeat(&info(&w), std::slice::from_ref(&lease)).await.unwrap(), vec![lease.lease]);
    assert_eq!(ack_ids(&q, &[running]).await, 0);
}

#[tokio::test]
async fn purge_removes_only_done_jobs_older_than_the_age() {
    let redis = RedisServer::start();
    let q = queue_with(&redis, QueueConfig { done_keep_age: Duration::from_secs(3600), ..config("purge") }).await;
    let w = WorkerId::generate();
    let run_all = |n: usize, kind: &'static str| {
        let q = q.clone();
        let w = w.clone();
        async move {
            enqueue_n(&q, n, kind).await;
            let ids: Vec<JobId> = reserve(&q, &w, n).await.into_iter().map(|j| j.id).collect();
            assert_eq!(ack_ids(&q, &ids).await, n);
            ids
        }
    };
    let old = run_all(3, "old").await;
    let old_finished = q.get(&old[0]).await.unwrap().unwrap().summary.finished_ms.unwrap();
    wait_for_redis_clock_past(&q, old_finished + 600).await;
    let new = run_all(2, "new").await;
    enqueue(&q, NewJob::new("old", "{}")).await; // not done: never purged

    assert_eq!(q.purge_done_older_than(Duration::from_secs(3600)).await.unwrap(), 0);
    assert_eq!(q.purge_done_older_than(Duration::from_millis(300)).await.unwrap(), 3);
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.done, c.by_kind["old"], c.by_kind["new"].done), (2, sc(1, 0, 0, 0, 0), 2));
    assert_eq!(q.get(&old[1]).await.unwrap(), None);
    assert!(q.get(&new[0]).await.unwrap().is_some());

    // More than one script call's chunk: the loop goes on until all are gone.
    run_all(1_200, "bulk").await;
    assert_eq!(q.purge_done_older_than(Duration::ZERO).await.unwrap(), 1_202);
    assert_eq!(q.counts().await.unwrap().totals, sc(1, 0, 0, 0, 0));
}

#[tokio::test]
async fn paused_queue_reserves_nothing_and_resume_wakes_workers() {
    let redis = RedisServer::start();
    let q = queue(&redis, "pause").await;
    let w = WorkerId::generate();
    enqueue(&q, NewJob::new("k", "{}")).await;
    assert!(q.pause().await.unwrap());
    assert!(!q.pause().await.unwrap(), "already paused");
    assert!(q.is_paused().await.unwrap() && q.counts().await.unwrap().paused);
    let r = reserve_only(&q, &w, 10).await;
    assert!(r.jobs.is_empty() && r.paused);

    // Drop the enqueue's wake tokens so only resume can wake the waiter.
    redis::cmd("DEL").arg(q.keys().get("wake")).query_async::<()>(&mut q.conn().clone()).await.unwrap();
    let mut waiter = q.waiter();
    assert!(q.resume().await.unwrap());
    assert!(!q.resume().await.unwrap(), "already running");
    assert!(waiter.wait(Duration::from_secs(10)).await.unwrap(), "woken by resume, not the timeout");
    assert!(!q.is_paused().await.unwrap());
    assert_eq!(reserve(&q, &w, 10).await.len(), 1);
}

#[tokio::test]
async fn workers_lists_heartbeating_workers_and_drops_stopped_or_silent_ones() {
    let redis = RedisServer::start();
    let q = queue(&redis, "workers").await;
    let (w1, w2) = (WorkerId::generate(), WorkerId::generate());
    let info =
        |id: &WorkerId| WorkerInfo { id: id.clone(), host: "h1".into(), pid: 11, started_ms: 1234, concurrency: 4 };
    enqueue_n(&q, 2, "k").await;
    let jobs = reserve(&q, &w1, 2).await;
    let held: Vec<JobId> = jobs.iter().map(|j| j.id.clone()).collect();
    q.heartbeat(&info(&w1), &refs(&jobs)).await.unwrap();
    q.heartbeat(&info(&w2), &[]).await.unwrap();

    let ws = q.workers().await.unwrap();
    assert!(ws.gone.is_empty(), "{ws:?}");
    let one = ws.live.iter().find(|l| l.id == w1).expect("w1 listed");
    assert_eq!((one.host.as_str(), one.pid, one.started_ms, one.concurrency), ("h1", 11, 1234, 4));
    assert_eq!(one.inflight, held);
    assert!(one.last_beat_ms > 0 && one.last_beat_ms <= ws.now_ms);
    assert!(ws.live.iter().any(|l| l.id == w2 && l.inflight.is_empty()));

    q.deregister(&w1).await.unwrap();
    let ws = q.workers().await.unwrap();
    assert_eq!(ws.live.iter().map(|l| l.id.clone()).collect::<Vec<_>>(), vec![w2.clone()]);

    // w2 stops heartbeating: after three leases it is reported gone once, and pruned.
    let ws = wait_until_async("the silent worker to be reported gone", PATIENCE, || async {
        let ws = q.workers().await.unwrap();
        (!ws.gone.is_empty()).then_some(ws)
    })
    .await;
    assert_eq!(ws.gone.iter().map(|g| g.id.clone()).collect::<Vec<_>>(), vec![w2.clone()]);
    assert!(ws.live.is_empty() && ws.gone[0].last_beat_ms + 1200 <= ws.now_ms);
    assert_eq!(registry_score(&q, &w2).await, None);
    assert_eq!(q.workers().await.unwrap().gone, vec![]);
}

#[tokio::test]
async fn a_worker_holding_more_than_one_calls_leases_is_listed_with_the_first_thousand() {
    let redis = RedisServer::start();
    let q = queue_with(&redis, QueueConfig { lease: Duration::from_secs(30), ..config("registry-chunks") }).await;
    let w = WorkerId::generate();
    enqueue_n(&q, 1_500, "k").await;
    let jobs = reserve(&q, &w, 1_500).await;
    assert_eq!(jobs.len(), 1_500);
    let leases = refs(&jobs);
    // The heartbeat takes two calls; every lease is renewed, none reported lost.
    assert!(q.heartbeat(&info(&w), &leases).await.unwrap().is_empty());
    let ws = q.workers().await.unwrap();
    let me = ws.live.iter().find(|l| l.id == w).expect("the worker is listed");
    let first: Vec<JobId> = jobs[..1_000].iter().map(|j| j.id.clone()).collect();
    // Not the second call's 500: the registry record is written once per beat, by the first.
    assert_eq!(me.inflight, first);
}

#[tokio::test]
async fn due_counts_scheduled_and_snoozed_jobs_past_their_time_and_reserve_reports_created() {
    let redis = RedisServer::start();
    let q = queue(&redis, "due").await;
    let w = WorkerId::generate();
    let t0 = redis_now_ms(&q).await;
    enqueue(&q, NewJob::new("a", "{}")).await;
    let leased = reserve(&q, &w, 1).await;
    assert_eq!(leased.len(), 1);
    // The reserve hands back when the job was enqueued (Redis's clock), for the queue latency.
    let created = leased[0].created_ms;
    assert!(created >= t0 && created <= redis_now_ms(&q).await, "created {created}, t0 {t0}");
    q.snooze(&leased[0].lease_ref(), 1, Duration::from_millis(1), "busy").await.unwrap();
    enqueue(&q, NewJob::new("b", "{}").delayed(Duration::from_secs(3600))).await;
    enqueue(&q, NewJob::new("b", "{}").delayed(Duration::from_millis(1))).await;
    let t1 = redis_now_ms(&q).await;
    wait_for_redis_clock_past(&q, t1 + 5).await;
    // Due but not yet promoted (no reserve ran): still counted in their states.
    assert_eq!(q.due().await.unwrap(), DueCounts { scheduled: 1, snoozed: 1 });
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.scheduled, c.totals.snoozed), (2, 1));
    // A reserve promotes them; the job due in an hour stays scheduled and not due.
    let taken = reserve(&q, &w, 10).await;
    assert_eq!(taken.len(), 2);
    assert_eq!(q.due().await.unwrap(), DueCounts::default());
    assert_eq!(q.counts().await.unwrap().totals.scheduled, 1);
}
