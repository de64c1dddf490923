//! The worker in-process against a private redis-server: a job runs and is acked, a panic
//! is a failed attempt, an undecodable payload goes to dead while the next job still runs,
//! a paused queue hands out nothing, and a stop hands prefetched jobs back uncounted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use serde::Deserialize;
use snapsync_queue::{run, JobError, JobMeta, RedisBackend, WorkerOptions};
use snapsync_queue::{JobId, NewJob, Queue, QueueConfig};
use snapsync_testkit::{wait_until_async, RedisServer};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
struct Job {
    op: String,
}

struct Harness {
    queue: Queue,
    redis: redis::aio::MultiplexedConnection,
    stop: Option<oneshot::Sender<()>>,
    worker: JoinHandle<Result<(), snapsync_queue::RunError>>,
    worker_id: String,
    handle: snapsync_queue::BackendHandle,
    /// Every job the handler started, in order.
    ran: Arc<Mutex<Vec<JobId>>>,
    _server: RedisServer,
}

/// Starts a worker whose handler does what each job's `op` says: `ok`, `panic_once`,
/// `block` (until `release` is notified).
async fn start(test: &str, concurrency: usize, prefetch: usize, release: Arc<Notify>) -> Harness {
    let server = RedisServer::start();
    let config = QueueConfig {
        prefix: format!("w-{test}"),
        lease: Duration::from_millis(1000),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        ..QueueConfig::default()
    };
    let queue = Queue::connect(&server.url(), config).await.expect("connect to the private redis");
    let redis = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let options =
        WorkerOptions { concurrency, prefetch, shutdown_timeout: Duration::from_secs(5), ..Default::default() };
    let backend = RedisBackend::<Job>::new(queue.clone(), options);
    let handle = backend.handle();
    let worker_id = handle.worker_id().0.clone();
    let panics = Arc::new(AtomicU32::new(0));
    let ran = Arc::new(Mutex::new(Vec::new()));
    let seen = ran.clone();
    let handler = move |job: Job, meta: JobMeta| {
        let release = release.clone();
        let panics = panics.clone();
        seen.lock().unwrap().push(meta.id.clone());
        async move {
            match job.op.as_str() {
                "panic_once" if meta.attempt == 1 => {
                    panics.fetch_add(1, Ordering::SeqCst);
                    panic!("boom on attempt {}", meta.attempt)
                }
                "block" => release.notified().await,
                "permanent" => return Err(JobError::permanent("no such thing")),
                _ => {}
            }
            Ok(())
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = tokio::spawn(run(backend, handler, async move {
        let _ = stopped.await;
    }));
    tokio::time::timeout(WAIT, handle.clone().ready()).await.expect("worker registers within 10 s");
    Harness { queue, redis, stop: Some(stop), worker, worker_id, handle, ran, _server: server }
}

impl Harness {
    async fn enqueue(&self, payload: &str) -> JobId {
        self.queue.enqueue(NewJob::new("t", payload)).await.expect("enqueue").id().clone()
    }

    async fn job(&self, id: &JobId) -> HashMap<String, String> {
        let key = format!("{}:job:{}", self.queue.tag(), id);
        self.redis.clone().hgetall(key).await.unwrap()
    }

    async fn wait_state(&self, id: &JobId, state: &str) -> HashMap<String, String> {
        wait_until_async(&format!("job {id} to be {state}"), WAIT, || async {
            let job = self.job(id).await;
            (job.get("s").map(String::as_str) == Some(state)).then_some(job)
        })
        .await
    }

    async fn stop(mut self) -> Self {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let worker = &mut self.worker;
        let result = tokio::time::timeout(WAIT, worker).await.expect("worker stops within 10 s");
        result.expect("worker task").expect("worker stops cleanly");
        self
    }
}

#[tokio::test]
async fn a_job_runs_and_is_acked() {
    let h = start("acked", 4, 4, Arc::new(Notify::new())).await;
    let id = h.enqueue(r#"{"op":"ok"}"#).await;
    let job = h.wait_state(&id, "done").await;
    assert_eq!(job.get("a").map(String::as_str), Some("1"));
    let running: u64 = h.redis.clone().zcard(format!("{}:running", h.queue.tag())).await.unwrap();
    assert_eq!(running, 0, "an acked job leaves the running set");
    h.stop().await;
}

#[tokio::test]
async fn a_panic_is_a_failed_attempt_and_the_job_retries() {
    let h = start("panic", 4, 4, Arc::new(Notify::new())).await;
    let id = h.enqueue(r#"{"op":"panic_once"}"#).await;
    let job = h.wait_state(&id, "done").await;
    assert_eq!(job.get("a").map(String::as_str), Some("2"), "the panicked attempt counted");
    let history = job.get("h").cloned().unwrap_or_default();
    assert!(history.contains("handler panicked: boom on attempt 1"), "history: {history}");
    h.stop().await;
}

#[tokio::test]
async fn an_undecodable_payload_goes_to_dead_and_the_next_job_runs() {
    let h = start("decode", 1, 1, Arc::new(Notify::new())).await;
    let bad = h.enqueue(r#"{"nope":1}"#).await;
    let good = h.enqueue(r#"{"op":"ok"}"#).await;
    let dead = h.wait_state(&bad, "dead").await;
    let error = dead.get("e").cloned().unwrap_or_default();
    assert!(
        error.starts_with(&format!("cannot decode payload of job {bad} (kind t): missing field `op`")),
        "error: {error}"
    );
    assert_eq!(dead.get("r").map(String::as_str), Some("permanent error"));
    h.wait_state(&good, "done").await;
    h.stop().await;
}

#[tokio::test]
async fn a_paused_queue_hands_out_nothing_until_resumed() {
    let h = start("paused", 4, 4, Arc::new(Notify::new())).await;
    let tag = h.queue.tag().to_string();
    let mut r = h.redis.clone();
    let _: () = r.set(format!("{tag}:paused"), 1).await.unwrap();
    let id = h.enqueue(r#"{"op":"ok"}"#).await;
    // The enqueue's wake tokens make the idle worker reserve; once it has taken them all it
    // has tried (and been refused) while the job was ready.
    wait_until_async("the worker to consume the wake tokens", WAIT, || async {
        let n: u64 = r.clone().llen(format!("{tag}:wake")).await.unwrap();
        (n == 0).then_some(())
    })
    .await;
    assert_eq!(h.job(&id).await.get("s").map(String::as_str), Some("ready"));
    let _: () = r.del(format!("{tag}:paused")).await.unwrap();
    let _: () = r.lpush(format!("{tag}:wake"), 1).await.unwrap();
    h.wait_state(&id, "done").await;
    h.stop().await;
}

#[tokio::test]
async fn stop_finishes_running_jobs_and_hands_back_prefetched_ones() {
    let release = Arc::new(Notify::new());
    let h = start("stop", 1, 4, release.clone()).await;
    let running = h.enqueue(r#"{"op":"block"}"#).await;
    let waiting = [h.enqueue(r#"{"op":"ok"}"#).await, h.enqueue(r#"{"op":"ok"}"#).await];
    // Both later jobs are leased to this worker (prefetched) while the first blocks.
    for id in &waiting {
        h.wait_state(id, "running").await;
    }
    let tag = h.queue.tag().to_string();
    let worker_id = h.worker_id.clone();
    let stopping = {
        let mut h = h;
        if let Some(stop) = h.stop.take() {
            let _ = stop.send(());
        }
        h
    };
    wait_until_async("the worker to begin stopping", WAIT, || async { stopping.handle.is_stopping().then_some(()) })
        .await;
    release.notify_one();
    let h = stopping.stop().await;
    assert_eq!(h.job(&running).await.get("s").map(String::as_str), Some("done"));
    for id in &waiting {
        let job = h.job(id).await;
        assert_eq!(job.get("s").map(String::as_str), Some("ready"), "handed back: {job:?}");
        assert_eq!(job.get("a").map(String::as_str), Some("0"), "no attempt counted: {job:?}");
    }
    let score: Option<f64> = h.redis.clone().zscore(format!("{tag}:workers"), &worker_id).await.unwrap();
    assert_eq!(score, None, "the worker deregistered");
}

#[tokio::test]
async fn a_prefetched_job_whose_lease_is_lost_is_dropped_not_run() {
    let release = Arc::new(Notify::new());
    let h = start("lost", 1, 2, release.clone()).await;
    let first = h.enqueue(r#"{"op":"block"}"#).await;
    let second = h.enqueue(r#"{"op":"ok"}"#).await;
    let tag = h.queue.tag().to_string();
    let inflight = |h: &Harness| {
        let mut r = h.redis.clone();
        let key = format!("{tag}:worker:{}", h.worker_id);
        async move { r.hget::<_, _, Option<String>>(key, "inflight").await.unwrap().unwrap_or_default() }
    };
    // The second job waits in the buffer and its lease is renewed by the heartbeat.
    wait_until_async("the heartbeat to renew the buffered job", WAIT, || async {
        inflight(&h).await.contains(&second.0).then_some(())
    })
    .await;
    // Another worker takes it over (as after a lease expiry and recovery).
    let _: () = h.redis.clone().hset(format!("{tag}:job:{second}"), "w", "another-worker").await.unwrap();
    wait_until_async("the heartbeat to report the lease lost", WAIT, || async {
        (!inflight(&h).await.contains(&second.0)).then_some(())
    })
    .await;
    release.notify_one();
    h.wait_state(&first, "done").await;
    let h = h.stop().await;
    assert_eq!(*h.ran.lock().unwrap(), vec![first], "the lost job was not run here");
    let job = h.job(&second).await;
    assert_eq!(job.get("w").map(String::as_str), Some("another-worker"), "nor handed back: {job:?}");
}
