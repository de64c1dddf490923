//! Helpers the storage tests share: a queue on a private Redis, the lease-taking moves as one
//! call each (reserve + start, settling by job id), and reads of Redis itself (its clock, the
//! worker registry) over the queue's own connection.

use std::time::Duration;

use snapsync_queue::{
    Enqueued, JobId, LeaseRef, Leased, NewJob, Queue, QueueConfig, RedisConn, ReserveTicket, Reserved, WorkerId,
    WorkerInfo,
};
use snapsync_testkit::{wait_until_async, RedisServer};

pub fn config(test: &str) -> QueueConfig {
    QueueConfig {
        prefix: format!("t-{test}"),
        lease: Duration::from_millis(400),
        default_max_attempts: 5,
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        ..QueueConfig::default()
    }
}

pub async fn queue(redis: &RedisServer, test: &str) -> Queue {
    queue_with(redis, config(test)).await
}

pub async fn queue_with(redis: &RedisServer, config: QueueConfig) -> Queue {
    Queue::connect(&redis.url(), config).await.expect("connect to the private redis")
}

pub fn info(id: &WorkerId) -> WorkerInfo {
    WorkerInfo { id: id.clone(), host: "test".into(), pid: 1, started_ms: 0, concurrency: 1 }
}

/// Enqueues one job, which must be new.
pub async fn enqueue(q: &Queue, job: NewJob) -> JobId {
    match q.enqueue(job).await.expect("enqueue") {
        Enqueued::Created(id) => id,
        other => panic!("expected a new job, got {other:?}"),
    }
}

/// Enqueues `n` jobs of `kind` with an empty payload in one batch; each must be new.
pub async fn enqueue_n(q: &Queue, n: usize, kind: &str) -> Vec<JobId> {
    let created = q.enqueue_batch((0..n).map(|_| NewJob::new(kind, "{}")).collect()).await.expect("enqueue");
    assert_eq!(created.len(), n);
    created
        .into_iter()
        .map(|e| match e {
            Enqueued::Created(id) => id,
            other => panic!("expected a new job, got {other:?}"),
        })
        .collect()
}

/// One reserve call with a fresh ticket; the jobs are leased, not started.
pub async fn reserve_only(q: &Queue, w: &WorkerId, k: usize) -> Reserved {
    q.reserve(w, k, &ReserveTicket::new()).await.expect("reserve")
}

/// Reserves up to `k` jobs (in as many calls as that takes) and starts them all (each charged
/// an attempt), as a worker does when it runs them at once.
pub async fn reserve(q: &Queue, w: &WorkerId, k: usize) -> Vec<Leased> {
    let mut jobs = Vec::new();
    while jobs.len() < k {
        let got = reserve_only(q, w, k - jobs.len()).await;
        if got.jobs.is_empty() && !got.more {
            break;
        }
        jobs.extend(got.jobs);
    }
    let refs: Vec<LeaseRef> = jobs.iter().map(Leased::lease_ref).collect();
    let started = q.start(&refs).await.expect("start");
    for (job, attempt) in jobs.iter().zip(&started) {
        assert_eq!(*attempt, Some(job.attempt), "job {} did not start as attempt {}", job.id, job.attempt);
    }
    jobs
}

pub fn refs(jobs: &[Leased]) -> Vec<LeaseRef> {
    jobs.iter().map(Leased::lease_ref).collect()
}

/// The lease each job is held under now (`None`: not running).
pub async fn lease_of(q: &Queue, id: &JobId) -> Option<LeaseRef> {
    let job = q.get(id).await.expect("get")?;
    job.summary.lease.map(|lease| LeaseRef { id: id.clone(), lease })
}

/// Acks jobs by id under whatever lease they are held now (tests that do not care about fencing).
pub async fn ack_ids(q: &Queue, ids: &[JobId]) -> usize {
    let mut leases = Vec::new();
    for id in ids {
        if let Some(l) = lease_of(q, id).await {
            leases.push(l);
        }
    }
    q.ack(&leases).await.expect("ack")
}

/// Redis's clock, which the scripts use for every time they store.
pub async fn redis_now_ms(q: &Queue) -> u64 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut q.conn().clone()).await.expect("TIME");
    secs * 1000 + micros / 1000
}

/// Waits until Redis's clock is past `ms`.
pub async fn wait_for_redis_clock_past(q: &Queue, ms: u64) {
    wait_until_async(&format!("the redis clock to pass {ms}"), Duration::from_secs(5), || async {
        (redis_now_ms(q).await > ms).then_some(())
    })
    .await
}

/// The worker's score (last heartbeat) in the live-worker registry; `None`: not registered.
pub async fn registry_score(q: &Queue, w: &WorkerId) -> Option<f64> {
    redis::cmd("ZSCORE")
        .arg(q.keys().get("workers"))
        .arg(&w.0)
        .query_async(&mut q.conn().clone())
        .await
        .expect("ZSCORE")
}

/// How many clients Redis has blocked in a command such as `BLPOP` now.
pub async fn blocked_clients(conn: &RedisConn) -> u64 {
    let info: String = redis::cmd("INFO").arg("clients").query_async(&mut conn.clone()).await.expect("INFO clients");
    let line = info.lines().find_map(|l| l.trim().strip_prefix("blocked_clients:"));
    line.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no blocked_clients in INFO clients: {info}"))
}
