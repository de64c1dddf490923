//! The storage's moves against a private redis-server: enqueue, reserve, ack, fail,
//! leases, dedup, delays, pause. Worker-process behaviour is tested in `tests/`.

use std::time::Duration;

use snapsync_queue::{Enqueued, FailOutcome, Failure, JobId, NewJob, Queue, QueueConfig, WorkerId, WorkerInfo};
use snapsync_testkit::{wait_until_async, RedisServer};

fn config(test: &str) -> QueueConfig {
    QueueConfig {
        prefix: format!("t-{test}"),
        lease: Duration::from_millis(400),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        ..QueueConfig::default()
    }
}

async fn queue(redis: &RedisServer, test: &str) -> Queue {
    Queue::connect(&redis.url(), config(test)).await.expect("connect to the private redis")
}

fn info(id: &WorkerId) -> WorkerInfo {
    WorkerInfo { id: id.clone(), host: "test".into(), pid: 1, started_ms: 0, concurrency: 1 }
}

#[tokio::test]
async fn enqueue_reserve_ack_in_fifo_order() {
    let redis = RedisServer::start();
    let q = queue(&redis, "fifo").await;
    let w = WorkerId::generate();
    let jobs: Vec<NewJob> = (0..5).map(|i| NewJob::new("noop", format!("{{\"n\":{i}}}"))).collect();
    let created = q.enqueue_batch(jobs).await.unwrap();
    assert!(created.iter().all(|e| matches!(e, Enqueued::Created(_))));
    let r = q.reserve(&w, 3).await.unwrap();
    let payloads: Vec<_> = r.jobs.iter().map(|j| j.payload.as_str()).collect();
    assert_eq!(payloads, vec!["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"]);
    assert!(r.jobs.iter().all(|j| j.attempt == 1 && j.max_attempts == 5 && j.kind == "noop"));
    let ids: Vec<JobId> = r.jobs.iter().map(|j| j.id.clone()).collect();
    assert_eq!(q.ack(&w, &ids).await.unwrap(), 3);
    // A second ack of the same ids changes nothing.
    assert_eq!(q.ack(&w, &ids).await.unwrap(), 0);
    assert_eq!(q.reserve(&w, 10).await.unwrap().jobs.len(), 2);
    assert_eq!(q.reserve(&w, 10).await.unwrap().jobs.len(), 0);
}

#[tokio::test]
async fn same_id_or_live_unique_key_is_a_no_op() {
    let redis = RedisServer::start();
    let q = queue(&redis, "dedup").await;
    let id = JobId::generate();
    assert!(matches!(q.enqueue(NewJob::new("k", "{}").with_id(id.clone())).await.unwrap(), Enqueued::Created(_)));
    assert_eq!(q.enqueue(NewJob::new("k", "{}").with_id(id.clone())).await.unwrap(), Enqueued::Duplicate(id));
    let first = q.enqueue(NewJob::new("k", "{}").unique("webhook:abc")).await.unwrap();
    let second = q.enqueue(NewJob::new("k", "{}").unique("webhook:abc")).await.unwrap();
    assert_eq!(second, Enqueued::Duplicate(first.id().clone()));
    let w = WorkerId::generate();
    assert_eq!(q.reserve(&w, 10).await.unwrap().jobs.len(), 2);
}

#[tokio::test]
async fn delayed_job_waits_then_is_promoted() {
    let redis = RedisServer::start();
    let q = queue(&redis, "delay").await;
    let w = WorkerId::generate();
    q.enqueue(NewJob::new("k", "{}").delayed(Duration::from_millis(300))).await.unwrap();
    let r = q.reserve(&w, 1).await.unwrap();
    assert!(r.jobs.is_empty());
    let due = r.next_due_in.expect("the scheduled job's due time");
    assert!(due <= Duration::from_millis(300), "{due:?}");
    let got = wait_until_async("the delayed job to become reservable", Duration::from_secs(5), || async {
        let r = q.reserve(&w, 1).await.unwrap();
        r.jobs.into_iter().next()
    })
    .await;
    assert_eq!(got.attempt, 1);
}

#[tokio::test]
async fn failures_retry_with_delay_then_die_with_history() {
    let redis = RedisServer::start();
    let q = queue(&redis, "fail").await;
    let w = WorkerId::generate();
    q.enqueue(NewJob::new("k", "{}").max_attempts(2)).await.unwrap();
    let job = q.reserve(&w, 1).await.unwrap().jobs.remove(0);
    let out = q
        .fail(&w, &job, Failure::Retry { after: Some(Duration::from_millis(100)), error: "503 from upstream".into() })
        .await
        .unwrap();
    assert_eq!(out, FailOutcome::Scheduled { after: Duration::from_millis(100) });
    let again = wait_until_async("the retry to come due", Duration::from_secs(5), || async {
        q.reserve(&w, 1).await.unwrap().jobs.into_iter().next()
    })
    .await;
    assert_eq!(again.attempt, 2);
    let out = q.fail(&w, &again, Failure::Retry { after: None, error: "503 again".into() }).await.unwrap();
    assert_eq!(out, FailOutcome::Dead, "second of two attempts failed: dead");
    // A failure report for a job this worker no longer holds changes nothing.
    assert_eq!(q.fail(&w, &again, Failure::Permanent { error: "x".into() }).await.unwrap(), FailOutcome::NotLeased);
}

#[tokio::test]
async fn expired_lease_returns_the_job_and_counts_an_attempt() {
    let redis = RedisServer::start();
    let q = queue(&redis, "lease").await;
    let (w1, w2) = (WorkerId::generate(), WorkerId::generate());
    q.enqueue(NewJob::new("k", "{}").max_attempts(2)).await.unwrap();
    let job = q.reserve(&w1, 1).await.unwrap().jobs.remove(0);
    // While w1 heartbeats, the job stays its own.
    assert!(q.heartbeat(&info(&w1), &[job.id.clone()]).await.unwrap().is_empty());
    assert_eq!(q.recover_expired(100).await.unwrap(), 0);
    // w1 goes silent: after the lease the job returns and w2 runs attempt 2.
    let stolen = wait_until_async("the lease to expire and the job to return", Duration::from_secs(5), || async {
        q.recover_expired(100).await.unwrap();
        q.reserve(&w2, 1).await.unwrap().jobs.into_iter().next()
    })
    .await;
    assert_eq!((stolen.id.clone(), stolen.attempt), (job.id.clone(), 2));
    // w1's late ack and heartbeat are refused: the job is w2's now.
    assert_eq!(q.ack(&w1, &[job.id.clone()]).await.unwrap(), 0);
    assert_eq!(q.heartbeat(&info(&w1), &[job.id.clone()]).await.unwrap(), vec![job.id.clone()]);
    // w2 dies too: attempts are used up, so the job is dead ("worker lost").
    wait_until_async("the second lease to expire", Duration::from_secs(5), || async {
        (q.recover_expired(100).await.unwrap() == 1).then_some(())
    })
    .await;
    assert!(q.reserve(&w2, 1).await.unwrap().jobs.is_empty());
}

#[tokio::test]
async fn waiter_wakes_on_enqueue() {
    let redis = RedisServer::start();
    let q = queue(&redis, "wake").await;
    let mut waiter = q.waiter().await.unwrap();
    let q2 = q.clone();
    let push = tokio::spawn(async move {
        // Enqueue once the waiter is (very likely) blocked; the assertion below does not
        // depend on the order: a token pushed first is popped at once.
        q2.enqueue(NewJob::new("k", "{}")).await.unwrap();
    });
    assert!(waiter.wait(Duration::from_secs(10)).await.unwrap(), "woken by the enqueue, not the timeout");
    push.await.unwrap();
}

#[tokio::test]
async fn release_hands_back_unstarted_jobs_without_an_attempt() {
    let redis = RedisServer::start();
    let q = queue(&redis, "release").await;
    let w = WorkerId::generate();
    let other = WorkerId::generate();
    q.enqueue_batch(vec![NewJob::new("k", "{\"n\":0}"), NewJob::new("k", "{\"n\":1}")]).await.unwrap();
    let r = q.reserve(&w, 2).await.unwrap();
    let ids: Vec<JobId> = r.jobs.iter().map(|j| j.id.clone()).collect();
    // Only the holder can hand a job back.
    assert_eq!(q.release(&other, &ids).await.unwrap(), 0);
    assert_eq!(q.release(&w, &ids).await.unwrap(), 2);
    assert_eq!(q.release(&w, &ids).await.unwrap(), 0);
    let again = q.reserve(&other, 2).await.unwrap();
    assert_eq!(again.jobs.len(), 2);
    assert!(again.jobs.iter().all(|j| j.attempt == 1), "the hand-back did not count an attempt");
}
