//! The storage's moves against a private redis-server: enqueue, reserve, start, ack, fail,
//! snooze, fenced leases, attempts counted at start, lost reserve replies, dedup, delays,
//! bounded batches and stale ids, dead-job expiry. Worker-process behaviour is tested in
//! `tests/` and the apalis backend in this crate's `backend` test binary.

use std::time::Duration;

use snapsync_queue::{
    Enqueued, FailOutcome, Failure, JobId, JobState, NewJob, QueueConfig, QueueError, ReserveTicket, RetryOutcome,
    SnoozeOutcome, WorkerId,
};
use snapsync_testkit::{wait_until_async, RedisServer};

use crate::support::{
    ack_ids, blocked_clients, config, enqueue, enqueue_n, info, queue, queue_with, refs, registry_score, reserve,
    reserve_only, wait_for_redis_clock_past,
};

#[tokio::test]
async fn enqueue_reserve_ack_in_fifo_order() {
    let redis = RedisServer::start();
    let q = queue(&redis, "fifo").await;
    let w = WorkerId::generate();
    let jobs: Vec<NewJob> = (0..5).map(|i| NewJob::new("noop", format!("{{\"n\":{i}}}"))).collect();
    let created = q.enqueue_batch(jobs).await.unwrap();
    assert!(created.iter().all(|e| matches!(e, Enqueued::Created(_))));
    let r = reserve(&q, &w, 3).await;
    let payloads: Vec<_> = r.iter().map(|j| j.payload.as_str()).collect();
    assert_eq!(payloads, vec!["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"]);
    assert!(r.iter().all(|j| j.attempt == 1 && j.max_attempts == 5 && j.kind == "noop"));
    assert_eq!(q.ack(&refs(&r)).await.unwrap(), 3);
    // A second ack of the same leases changes nothing.
    assert_eq!(q.ack(&refs(&r)).await.unwrap(), 0);
    assert_eq!(reserve(&q, &w, 10).await.len(), 2);
    assert_eq!(reserve(&q, &w, 10).await.len(), 0);
}

#[tokio::test]
async fn same_id_or_live_unique_key_is_a_no_op() {
    let redis = RedisServer::start();
    let q = queue(&redis, "dedup").await;
    let id = JobId("caller-chosen:1".into());
    assert!(matches!(q.enqueue(NewJob::new("k", "{}").with_id(id.clone())).await.unwrap(), Enqueued::Created(_)));
    assert_eq!(q.enqueue(NewJob::new("k", "{}").with_id(id.clone())).await.unwrap(), Enqueued::Duplicate(id));
    let first = q.enqueue(NewJob::new("k", "{}").unique("webhook:abc")).await.unwrap();
    let second = q.enqueue(NewJob::new("k", "{}").unique("webhook:abc")).await.unwrap();
    assert_eq!(second, Enqueued::Duplicate(first.id().clone()));
    let w = WorkerId::generate();
    assert_eq!(reserve(&q, &w, 10).await.len(), 2);
}

#[tokio::test]
async fn a_huge_unique_key_is_hashed_before_it_becomes_a_key() {
    let redis = RedisServer::start();
    let q = queue(&redis, "hugekey").await;
    let huge = format!("webhook:{}", "u".repeat(200_000));
    let first = q.enqueue(NewJob::new("k", "{}").unique(huge.clone())).await.unwrap();
    assert_eq!(q.enqueue(NewJob::new("k", "{}").unique(huge)).await.unwrap(), Enqueued::Duplicate(first.id().clone()));
    let mut conn = q.conn().clone();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut conn).await.unwrap();
    assert!(
        keys.iter().all(|k| k.len() < 200),
        "a key carries the client's value: {:?}",
        keys.iter().map(String::len).max()
    );
    let used: u64 = {
        let info: String = redis::cmd("INFO").arg("memory").query_async(&mut conn).await.unwrap();
        let line = info.lines().find(|l| l.starts_with("used_memory:")).unwrap();
        line["used_memory:".len()..].trim().parse().unwrap()
    };
    let stored = q.get(first.id()).await.unwrap().unwrap().unique_key.unwrap();
    assert!(stored.starts_with('#') && stored.len() == 65, "{stored:.80}");
    // Two enqueues of a 200 KB value cost far less than one copy of it: in what the keys hold
    // (counted exactly, every element), and in the server's whole footprint.
    let mut held = 0;
    for key in &keys {
        let usage: Option<u64> =
            redis::cmd("MEMORY").arg("USAGE").arg(key).arg("SAMPLES").arg(0).query_async(&mut conn).await.unwrap();
        held += usage.unwrap_or_default();
    }
    assert!(held < 200_000, "the queue's keys hold {held} bytes");
    assert!(used < 5_000_000, "used_memory {used}");
}

#[tokio::test]
async fn ids_and_kinds_the_queue_cannot_store_are_refused_and_nothing_is_written() {
    let redis = RedisServer::start();
    let q = queue(&redis, "invalid").await;
    for job in [
        NewJob::new("sync|contacts", "{}"),
        NewJob::new("", "{}"),
        NewJob::new("k", "{}").with_id(JobId("has space".into())),
        NewJob::new("k", "{}").with_id(JobId("x".repeat(500))),
    ] {
        let err = q.enqueue_batch(vec![NewJob::new("ok", "{}"), job]).await.expect_err("refused");
        assert!(matches!(err, QueueError::Invalid(ref m) if m.contains("not valid")), "{err}");
    }
    assert_eq!(q.counts().await.unwrap().totals.ready, 0, "a refused batch writes nothing");
}

#[tokio::test]
async fn delayed_job_waits_then_is_promoted() {
    let redis = RedisServer::start();
    let q = queue(&redis, "delay").await;
    let w = WorkerId::generate();
    enqueue(&q, NewJob::new("k", "{}").delayed(Duration::from_millis(300))).await;
    let r = reserve_only(&q, &w, 1).await;
    assert!(r.jobs.is_empty());
    let due = r.next_due_in.expect("the scheduled job's due time");
    assert!(due <= Duration::from_millis(300), "{due:?}");
    let got = wait_until_async("the delayed job to become reservable", Duration::from_secs(5), || async {
        reserve(&q, &w, 1).await.into_iter().next()
    })
    .await;
    assert_eq!(got.attempt, 1);
}

#[tokio::test]
async fn failures_retry_with_delay_then_die_with_history() {
    let redis = RedisServer::start();
    let q = queue(&redis, "fail").await;
    let w = WorkerId::generate();
    enqueue(&q, NewJob::new("k", "{}").max_attempts(2)).await;
    let job = reserve(&q, &w, 1).await.remove(0);
    let out = q
        .fail(
            &job.lease_ref(),
            job.attempt,
            Failure::Retry { after: Some(Duration::from_millis(100)), error: "503 from upstream".into() },
        )
        .await
        .unwrap();
    assert_eq!(out, FailOutcome::Scheduled { after: Duration::from_millis(100) });
    let again = wait_until_async("the retry to come due", Duration::from_secs(5), || async {
        reserve(&q, &w, 1).await.into_iter().next()
    })
    .await;
    assert_eq!(again.attempt, 2);
    let out = q.fail(&again.lease_ref(), 2, Failure::Retry { after: None, error: "503 again".into() }).await.unwrap();
    assert_eq!(out, FailOutcome::Dead, "second of two attempts failed: dead");
    // A failure report for a lease no longer held changes nothing.
    assert_eq!(
        q.fail(&again.lease_ref(), 2, Failure::Permanent { error: "x".into() }).await.unwrap(),
        FailOutcome::NotLeased
    );
    let detail = q.get(&job.id).await.unwrap().unwrap();
    assert_eq!(detail.history.iter().map(|a| a.attempt).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(detail.summary.dead_reason.as_deref(), Some("max attempts reached"));
}

#[tokio::test]
async fn an_expired_lease_charges_a_started_run_and_not_a_prefetched_one() {
    let redis = RedisServer::start();
    let q = queue(&redis, "lease").await;
    let (w1, w2) = (WorkerId::generate(), WorkerId::generate());
    let started_id = enqueue(&q, NewJob::new("k", "{\"n\":1}").max_attempts(2)).await;
    let buffered_id = enqueue(&q, NewJob::new("k", "{\"n\":2}").max_attempts(2)).await;
    // w1 reserves both, starts only the first (the second waits in its prefetch buffer).
    let both = reserve_only(&q, &w1, 2).await.jobs;
    assert_eq!(both.len(), 2);
    assert_eq!(q.start(&[both[0].lease_ref()]).await.unwrap(), vec![Some(1)]);
    // While w1 heartbeats, both stay its own.
    assert!(q.heartbeat(&info(&w1), &refs(&both)).await.unwrap().is_empty());
    assert_eq!(q.recover_expired(100).await.unwrap(), 0);
    // w1 dies. After the lease both come back: the started one charged, the other not.
    let back = wait_until_async("the leases to expire and the jobs to return", Duration::from_secs(5), || async {
        q.recover_expired(100).await.unwrap();
        let got = reserve(&q, &w2, 2).await;
        (got.len() == 2).then_some(got)
    })
    .await;
    let attempt_of = |id: &JobId| back.iter().find(|j| &j.id == id).map(|j| j.attempt);
    assert_eq!(attempt_of(&started_id), Some(2), "the run that started was charged");
    assert_eq!(attempt_of(&buffered_id), Some(1), "the prefetched job that never started was not");
    let history = q.get(&started_id).await.unwrap().unwrap().history;
    assert_eq!(history.len(), 1);
    assert!(history[0].error.as_deref().unwrap_or_default().contains("worker lost"), "{history:?}");
    assert!(q.get(&buffered_id).await.unwrap().unwrap().history.is_empty(), "no failed attempt recorded");
    // w1's late ack and heartbeat are refused: the jobs are w2's now.
    assert_eq!(q.ack(&refs(&both)).await.unwrap(), 0);
    assert_eq!(q.heartbeat(&info(&w1), &refs(&both)).await.unwrap().len(), 2);
    // w2 dies too: the started job has used its attempts, so it is dead ("worker lost").
    wait_until_async("the second leases to expire", Duration::from_secs(5), || async {
        (q.recover_expired(100).await.unwrap() == 2).then_some(())
    })
    .await;
    let dead = q.get(&started_id).await.unwrap().unwrap();
    assert_eq!((dead.summary.state, dead.summary.dead_reason.as_deref()), (JobState::Dead, Some("worker lost")));
}

#[tokio::test]
async fn a_stale_lease_of_the_same_job_and_worker_changes_nothing() {
    let redis = RedisServer::start();
    let q = queue(&redis, "fence").await;
    let w = WorkerId::generate();
    let id = enqueue(&q, NewJob::new("k", "{}")).await;
    let first = reserve(&q, &w, 1).await.remove(0);
    // The lease is lost (an operator retries the stuck run) and the same worker leases the job again.
    assert_eq!(q.retry(&id).await.unwrap(), RetryOutcome::Retried { from: JobState::Running });
    let second = reserve(&q, &w, 1).await.remove(0);
    assert_eq!(second.id, id);
    assert!(second.lease > first.lease, "tokens only grow: {:?} then {:?}", first.lease, second.lease);
    // Everything the stale run presents is refused; the current run is untouched.
    assert_eq!(q.start(&[first.lease_ref()]).await.unwrap(), vec![None]);
    assert_eq!(q.heartbeat(&info(&w), &[first.lease_ref()]).await.unwrap(), vec![first.lease]);
    assert_eq!(q.ack(&[first.lease_ref()]).await.unwrap(), 0);
    assert_eq!(
        q.fail(&first.lease_ref(), 1, Failure::Permanent { error: "late".into() }).await.unwrap(),
        FailOutcome::NotLeased
    );
    assert_eq!(
        q.snooze(&first.lease_ref(), 1, Duration::from_secs(1), "late").await.unwrap(),
        SnoozeOutcome::NotLeased
    );
    assert_eq!(q.release(&[first.lease_ref()]).await.unwrap(), 0);
    let now = q.get(&id).await.unwrap().unwrap().summary;
    assert_eq!((now.state, now.lease, now.attempts), (JobState::Running, Some(second.lease), 1));
    assert_eq!(q.ack(&[second.lease_ref()]).await.unwrap(), 1);
    assert_eq!(q.get(&id).await.unwrap().unwrap().summary.state, JobState::Done);
}

#[tokio::test]
async fn a_snoozed_job_keeps_its_attempt_count_and_is_counted_apart() {
    let redis = RedisServer::start();
    let q = queue(&redis, "snooze").await;
    let w = WorkerId::generate();
    let id = enqueue(&q, NewJob::new("k", "{}").max_attempts(2)).await;
    for round in 0..3 {
        let job = reserve(&q, &w, 1).await.pop().unwrap_or_else(|| panic!("round {round}: nothing reserved"));
        assert_eq!(job.attempt, 1, "round {round}: snoozes spent an attempt");
        let out =
            q.snooze(&job.lease_ref(), job.attempt, Duration::from_millis(150), "429 from snapshots").await.unwrap();
        assert_eq!(out, SnoozeOutcome::Snoozed { after: Duration::from_millis(150) });
        let c = q.counts().await.unwrap();
        assert_eq!((c.totals.snoozed, c.totals.scheduled, c.by_kind["k"].snoozed), (1, 0, 1));
        let s = q.get(&id).await.unwrap().unwrap().summary;
        assert_eq!((s.state, s.attempts, s.snoozes), (JobState::Snoozed, 0, round + 1));
        assert_eq!(s.snooze_reason.as_deref(), Some("429 from snapshots"));
        let due = s.due_ms.expect("a snoozed job has a due time");
        assert_eq!(q.list(JobState::Snoozed, None, 0, 10).await.unwrap().jobs.len(), 1);
        wait_for_redis_clock_past(&q, due).await;
    }
    let job = reserve(&q, &w, 1).await.remove(0);
    assert_eq!(job.attempt, 1);
    assert_eq!(q.ack(&[job.lease_ref()]).await.unwrap(), 1);
    let s = q.get(&id).await.unwrap().unwrap().summary;
    assert_eq!((s.state, s.attempts, s.snoozes, s.snoozed_ms), (JobState::Done, 1, 3, 450));
    assert!(q.get(&id).await.unwrap().unwrap().history.is_empty(), "a snooze is not a failed attempt");
}

#[tokio::test]
async fn snoozes_past_their_bound_count_as_failed_attempts() {
    let redis = RedisServer::start();
    let q = queue_with(&redis, QueueConfig { max_snoozed: Duration::from_millis(300), ..config("snoozebound") }).await;
    let w = WorkerId::generate();
    let id = enqueue(&q, NewJob::new("k", "{}").max_attempts(2)).await;
    let job = reserve(&q, &w, 1).await.remove(0);
    assert!(matches!(
        q.snooze(&job.lease_ref(), 1, Duration::from_millis(200), "busy").await.unwrap(),
        SnoozeOutcome::Snoozed { .. }
    ));
    let job =
        wait_until_async("the snoozed job back", Duration::from_secs(5), || async { reserve(&q, &w, 1).await.pop() })
            .await;
    // 200 + 200 ms passes the 300 ms bound: this snooze is a failed attempt, retried after backoff.
    let out = q.snooze(&job.lease_ref(), job.attempt, Duration::from_millis(200), "busy").await.unwrap();
    assert!(matches!(out, SnoozeOutcome::BoundPassed(FailOutcome::Scheduled { .. })), "{out:?}");
    let d = q.get(&id).await.unwrap().unwrap();
    assert_eq!((d.summary.state, d.summary.attempts), (JobState::Scheduled, 1));
    assert!(
        d.history[0].error.as_deref().unwrap_or_default().contains("snoozed for more than 300 ms"),
        "{:?}",
        d.history
    );
    // The next one past the bound uses up the attempts: dead, not waiting forever.
    let job = wait_until_async("the retry", Duration::from_secs(5), || async { reserve(&q, &w, 1).await.pop() }).await;
    assert_eq!(job.attempt, 2);
    let out = q.snooze(&job.lease_ref(), job.attempt, Duration::from_millis(200), "busy").await.unwrap();
    assert_eq!(out, SnoozeOutcome::BoundPassed(FailOutcome::Dead));
}

#[tokio::test]
async fn a_lost_reserve_reply_is_reclaimed_uncharged() {
    let redis = RedisServer::start();
    let q = queue(&redis, "reclaim").await;
    let w = WorkerId::generate();
    let ids = enqueue_n(&q, 3, "k").await;
    let ticket = ReserveTicket::new();
    // The reserve runs in Redis but its reply never reaches the worker.
    let lost = q.reserve(&w, 3, &ticket).await.unwrap();
    assert_eq!(lost.jobs.len(), 3);
    assert_eq!(q.reclaim(&w, &ReserveTicket::new()).await.unwrap(), 0, "another ticket reclaims nothing");
    assert_eq!(q.reclaim(&w, &ticket).await.unwrap(), 3);
    assert_eq!(q.reclaim(&w, &ticket).await.unwrap(), 0, "reclaim is idempotent");
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.running, c.ready()), (0, 3), "no lease is left that nobody heartbeats");
    let again = reserve(&q, &w, 3).await;
    assert_eq!(
        again.iter().map(|j| (j.id.clone(), j.attempt)).collect::<Vec<_>>(),
        ids.into_iter().map(|i| (i, 1)).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn large_batches_stay_within_luas_limits() {
    let redis = RedisServer::start();
    // 12,000 jobs due at once, promoted 10,000 per call (the largest chunk allowed), reserved in
    // calls of the largest size: each of these once hit `too many results to unpack`.
    let q = queue_with(&redis, QueueConfig { promote_chunk: 10_000, ..config("big") }).await;
    let w = WorkerId::generate();
    let jobs: Vec<NewJob> = (0..12_000).map(|_| NewJob::new("k", "{}").delayed(Duration::from_millis(50))).collect();
    q.enqueue_batch(jobs).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut total = 0;
    while total < 12_000 {
        assert!(std::time::Instant::now() < deadline, "only {total} of 12,000 jobs reserved in 60 s");
        let got = reserve_only(&q, &w, 10_000).await.jobs;
        assert!(got.len() <= snapsync_queue::storage::RESERVE_MAX);
        assert!(q.start(&refs(&got)).await.unwrap().iter().all(Option::is_some));
        assert_eq!(q.ack(&refs(&got)).await.unwrap(), got.len());
        total += got.len();
        if got.is_empty() {
            // Not yet due: wait on the queue's own wake-up rather than spinning.
            q.waiter().wait(Duration::from_millis(50)).await.unwrap();
        }
    }
    assert_eq!(q.counts().await.unwrap().totals.done, 10_000, "done retention keeps its cap");
}

#[tokio::test]
async fn discarded_ids_never_stall_a_reserve_with_live_jobs_behind_them() {
    let redis = RedisServer::start();
    let q = queue(&redis, "stale").await;
    let w = WorkerId::generate();
    let stale = enqueue_n(&q, 2_500, "k").await;
    let live = enqueue(&q, NewJob::new("k", "{\"live\":true}")).await;
    for id in &stale {
        q.discard(id).await.unwrap();
    }
    // Each call skips at most its budget of stale ids and says there is more; the live job comes
    // out after a few calls in a row, with no wait in between.
    let mut calls = 0;
    let job = loop {
        calls += 1;
        let r = reserve_only(&q, &w, 1).await;
        if let Some(job) = r.jobs.into_iter().next() {
            break job;
        }
        assert!(r.more, "call {calls} found nothing and did not say more ids wait");
        assert!(calls < 10, "the live job never came out");
    };
    assert_eq!(job.id, live);
    assert!(calls >= 3, "2,500 stale ids in one call: the budget is not applied ({calls} calls)");
    assert!(!reserve_only(&q, &w, 1).await.more);
}

#[tokio::test]
async fn dead_jobs_expire_by_age() {
    let redis = RedisServer::start();
    let q = queue_with(&redis, QueueConfig { dead_keep_age: Duration::from_secs(1), ..config("deadage") }).await;
    let w = WorkerId::generate();
    let ids = enqueue_n(&q, 3, "k").await;
    for job in reserve(&q, &w, 3).await {
        q.fail(&job.lease_ref(), job.attempt, Failure::Permanent { error: "400".into() }).await.unwrap();
    }
    assert_eq!(q.counts().await.unwrap().totals.dead, 3);
    // Age retention runs on the recovery round every worker makes, busy or idle.
    wait_until_async("dead jobs older than 1 s to be dropped", Duration::from_secs(10), || async {
        q.recover_expired(10).await.unwrap();
        (q.counts().await.unwrap().totals.dead == 0).then_some(())
    })
    .await;
    for id in &ids {
        assert!(q.get(id).await.unwrap().is_none(), "{id} still stored");
    }
    assert!(q.counts().await.unwrap().by_kind.is_empty());
}

#[tokio::test]
async fn waiter_wakes_on_enqueue() {
    let redis = RedisServer::start();
    let q = queue(&redis, "wake").await;
    let mut waiter = q.waiter();
    let q2 = q.clone();
    let push = tokio::spawn(async move {
        // Enqueue once the waiter is blocked, so its token wakes a waiting BLPOP rather than
        // being there before it.
        wait_until_async("the waiter to block", Duration::from_secs(10), || async {
            (blocked_clients(q2.conn()).await == 1).then_some(())
        })
        .await;
        q2.enqueue(NewJob::new("k", "{}")).await.unwrap();
    });
    assert!(waiter.wait(Duration::from_secs(10)).await.unwrap(), "woken by the enqueue, not the timeout");
    push.await.unwrap();
}

#[tokio::test]
async fn release_hands_back_unstarted_and_interrupted_jobs_without_an_attempt() {
    let redis = RedisServer::start();
    let q = queue(&redis, "release").await;
    let w = WorkerId::generate();
    let other = WorkerId::generate();
    q.enqueue_batch(vec![NewJob::new("k", "{\"n\":0}"), NewJob::new("k", "{\"n\":1}")]).await.unwrap();
    let r = reserve_only(&q, &w, 2).await.jobs;
    // One starts (and is then cut by a shutdown), the other never started.
    assert_eq!(q.start(&[r[0].lease_ref()]).await.unwrap(), vec![Some(1)]);
    assert_eq!(q.release(&refs(&r)).await.unwrap(), 2);
    assert_eq!(q.release(&refs(&r)).await.unwrap(), 0);
    let again = reserve(&q, &other, 2).await;
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|j| j.attempt == 1), "the hand-back did not give the attempt back: {again:?}");
    assert_eq!(ack_ids(&q, &again.iter().map(|j| j.id.clone()).collect::<Vec<_>>()).await, 2);
}

#[tokio::test]
async fn a_silent_worker_leaves_the_registry_on_others_heartbeats() {
    let redis = RedisServer::start();
    let q = queue(&redis, "registry").await;
    let (old, live) = (WorkerId::generate(), WorkerId::generate());
    q.heartbeat(&info(&old), &[]).await.unwrap();
    // Three leases of silence (400 ms each) and the next heartbeat of anyone drops it.
    wait_until_async("the silent worker to be dropped", Duration::from_secs(10), || async {
        q.heartbeat(&info(&live), &[]).await.unwrap();
        registry_score(&q, &old).await.is_none().then_some(())
    })
    .await;
    let ws = q.workers().await.unwrap();
    assert!(ws.live.iter().any(|l| l.id == live));
    assert!(!ws.live.iter().any(|l| l.id == old));
}

#[tokio::test]
async fn a_job_enqueued_at_the_front_runs_before_the_backlog() {
    let redis = RedisServer::start();
    let q = queue(&redis, "front").await;
    let backlog = enqueue_n(&q, 50, "bulk").await;
    let urgent = enqueue(&q, NewJob::new("urgent", "{}").at_front()).await;
    let w = WorkerId::generate();
    let first = reserve(&q, &w, 3).await;
    let ids: Vec<&JobId> = first.iter().map(|l| &l.id).collect();
    assert_eq!(ids, vec![&urgent, &backlog[0], &backlog[1]], "the front job first, then the backlog in order");
}
