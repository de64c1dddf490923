//! The worker survives Redis going away: a job running across a Redis crash and restart is
//! acked once Redis is back (run once, not twice), the worker keeps going and picks up new
//! work, and it still stops cleanly.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use snapsync_queue::{run, JobMeta, JobState, RedisBackend, WorkerOptions};
use snapsync_queue::{JobId, NewJob, Queue, QueueConfig};
use snapsync_testkit::{wait_until_async, RedisServer};
use tokio::sync::{oneshot, Notify};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Deserialize)]
struct Job {
    block: bool,
}

/// The job's state through a fresh connection (`None` while Redis cannot be reached).
async fn state(url: &str, config: &QueueConfig, id: &JobId) -> Option<JobState> {
    let queue = Queue::connect(url, config.clone()).await.ok()?;
    Some(queue.get(id).await.ok()??.summary.state)
}

#[tokio::test]
async fn a_redis_restart_mid_job_neither_loses_nor_repeats_it() {
    let mut server = RedisServer::start_with_aof();
    let url = server.url();
    let config = QueueConfig { prefix: "outage".into(), lease: Duration::from_millis(1000), ..QueueConfig::default() };
    let queue = Queue::connect(&url, config).await.expect("connect to the private redis");
    let options = WorkerOptions { concurrency: 2, prefetch: 2, ..WorkerOptions::default() };
    let backend = RedisBackend::<Job>::new(queue.clone(), options);
    let handle = backend.handle();
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let runs = Arc::new(AtomicU32::new(0));
    let handler = {
        let (started, release, runs) = (started.clone(), release.clone(), runs.clone());
        move |job: Job, _meta: JobMeta| {
            let (started, release, runs) = (started.clone(), release.clone(), runs.clone());
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                if job.block {
                    started.notify_one();
                    release.notified().await;
                }
                Ok(())
            }
        }
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = tokio::spawn(run(backend, handler, async move {
        let _ = stopped.await;
    }));
    tokio::time::timeout(WAIT, handle.ready()).await.expect("worker registers");

    let blocked = queue.enqueue(NewJob::new("t", r#"{"block":true}"#)).await.expect("enqueue").id().clone();
    tokio::time::timeout(WAIT, started.notified()).await.expect("the job starts");

    server.kill();
    // While Redis is down the job finishes; its ack must wait for Redis and not be lost.
    release.notify_one();
    // The outage outlasts the lease: when Redis is back the lease deadline has passed, and
    // the job must still not be recovered and run again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();

    wait_until_async("the job to be acked after the restart", WAIT, || async {
        (state(&url, queue.config(), &blocked).await == Some(JobState::Done)).then_some(())
    })
    .await;
    assert!(!worker.is_finished(), "the worker kept running through the outage");

    let queue = Queue::connect(&url, queue.config().clone()).await.expect("reconnect");
    let next = queue.enqueue(NewJob::new("t", r#"{"block":false}"#)).await.expect("enqueue").id().clone();
    wait_until_async("a job enqueued after the restart to run", WAIT, || async {
        (state(&url, queue.config(), &next).await == Some(JobState::Done)).then_some(())
    })
    .await;
    assert_eq!(runs.load(Ordering::SeqCst), 2, "each job ran once");

    let _ = stop.send(());
    let result = tokio::time::timeout(WAIT, worker).await.expect("worker stops");
    result.expect("worker task").expect("worker stops cleanly");
}
