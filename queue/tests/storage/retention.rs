//! Retention against a private redis-server: ack keeps done jobs by count and by age (bounded per
//! call, yet keeping up with batches larger than the per-call floor), fail and recover cap the dead
//! set. Counts per kind stay exact as jobs are dropped.

use std::time::Duration;

use crate::support::{ack_ids, config, queue_with, wait_for_redis_clock_past};
use snapsync_queue::{Failure, JobId, JobState, NewJob, Queue, QueueConfig, WorkerId};
use snapsync_testkit::{wait_until_async, RedisServer};

const PATIENCE: Duration = Duration::from_secs(5);

/// Enqueues `n` jobs and leases them all to `w`.
async fn lease(q: &Queue, w: &WorkerId, n: usize, max_attempts: u32) -> Vec<snapsync_queue::Leased> {
    q.enqueue_batch((0..n).map(|_| NewJob::new("k", "{}").max_attempts(max_attempts)).collect()).await.unwrap();
    let jobs = crate::support::reserve(q, w, n).await;
    assert_eq!(jobs.len(), n);
    jobs
}

async fn present(q: &Queue, ids: &[JobId]) -> usize {
    let mut n = 0;
    for id in ids {
        n += usize::from(q.get(id).await.unwrap().is_some());
    }
    n
}

#[tokio::test]
async fn done_jobs_are_kept_up_to_the_count_even_under_large_ack_batches() {
    let redis = RedisServer::start();
    let q = queue_with(&redis, QueueConfig { done_keep_count: 3, ..config("keep-count") }).await;
    let w = WorkerId::generate();
    let ids: Vec<JobId> = lease(&q, &w, 5, 5).await.into_iter().map(|j| j.id).collect();
    for id in &ids {
        ack_ids(&q, std::slice::from_ref(id)).await;
    }
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.done, c.by_kind["k"].done), (3, 3));
    assert_eq!(present(&q, &ids).await, 3, "the dropped jobs' hashes are deleted too");

    // One ack of 250 (more than the per-call floor of 100): the cap still holds after the call.
    let big: Vec<JobId> = lease(&q, &w, 250, 5).await.into_iter().map(|j| j.id).collect();
    assert_eq!(ack_ids(&q, &big).await, 250);
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.done, c.by_kind["k"].done), (3, 3));
}

#[tokio::test]
async fn done_jobs_older_than_the_keep_age_are_dropped_on_ack() {
    let redis = RedisServer::start();
    let q = queue_with(&redis, QueueConfig { done_keep_age: Duration::from_millis(300), ..config("keep-age") }).await;
    let w = WorkerId::generate();
    let old: Vec<JobId> = lease(&q, &w, 2, 5).await.into_iter().map(|j| j.id).collect();
    ack_ids(&q, &old).await;
    let finished = q.get(&old[0]).await.unwrap().unwrap().summary.finished_ms.unwrap();
    // Poll until the old jobs are past the keep age by Redis's clock (the scripts' clock).
    wait_for_redis_clock_past(&q, finished + 300).await;
    assert_eq!(q.counts().await.unwrap().totals.done, 2, "retention runs on ack, not on its own");
    let new: Vec<JobId> = lease(&q, &w, 1, 5).await.into_iter().map(|j| j.id).collect();
    ack_ids(&q, &new).await;
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.done, c.by_kind["k"].done), (1, 1));
    assert_eq!((present(&q, &old).await, present(&q, &new).await), (0, 1));
}

#[tokio::test]
async fn the_dead_set_is_capped_on_fail_and_on_recover() {
    let redis = RedisServer::start();
    let q = queue_with(&redis, QueueConfig { dead_cap: 2, ..config("dead-cap") }).await;
    let w = WorkerId::generate();
    let jobs = lease(&q, &w, 4, 5).await;
    for job in &jobs {
        q.fail(&job.lease_ref(), job.attempt, Failure::Permanent { error: "400".into() }).await.unwrap();
    }
    let ids: Vec<JobId> = jobs.iter().map(|j| j.id.clone()).collect();
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.dead, c.by_kind["k"].dead), (2, 2));
    assert_eq!(present(&q, &ids).await, 2);

    // A job whose worker vanished on its last attempt dies through recovery; the cap holds.
    let lost = lease(&q, &w, 1, 1).await.remove(0);
    wait_until_async("the lease to expire and recovery to run", PATIENCE, || async {
        (q.recover_expired(100).await.unwrap() == 1).then_some(())
    })
    .await;
    let job = q.get(&lost.id).await.unwrap().expect("the newest dead job is kept");
    assert_eq!((job.summary.state, job.summary.dead_reason.as_deref()), (JobState::Dead, Some("worker lost")));
    let c = q.counts().await.unwrap();
    assert_eq!((c.totals.dead, c.by_kind["k"].dead), (2, 2));
}
