//! The drain through the real worker path: one `snapsync_queue::RedisBackend` run by
//! apalis (`snapsync_queue::run`) with a no-op handler that decodes the payload, as a
//! sync job's would. The end of the drain is read from Redis (every job acked = nothing
//! ready, scheduled or running beyond the untouched backlog), polled every 2 ms on the
//! bench's own connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use snapsync_queue::{JobError, JobMeta, Queue, RedisBackend, WorkerOptions};

use crate::bench_redis::BenchRedis;

const POLL_EVERY: Duration = Duration::from_millis(2);
/// A drain that makes no progress for this long has failed (a lost job, a stuck worker).
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// The benchmark payload, decoded by the handler like a real job's.
#[derive(Deserialize)]
#[allow(dead_code)] // decoded for the cost of it; the no-op handler reads nothing
struct NoopPayload {
    id: String,
    kind: String,
    user: String,
    padding: String,
}

/// Runs one worker pool until `target` of the `backlog` jobs are acked; returns how many
/// the handler ran. The pool is stopped (gracefully) after the caller's clock stops.
pub async fn drain(
    queue: Queue,
    redis: &mut BenchRedis,
    concurrency: usize,
    prefetch: usize,
    backlog: u64,
    target: u64,
) -> anyhow::Result<Pool> {
    let options = WorkerOptions { concurrency, prefetch, ..WorkerOptions::default() };
    let backend = RedisBackend::<NoopPayload>::new(queue, options);
    let ran = Arc::new(AtomicU64::new(0));
    let counter = ran.clone();
    let handler = move |_payload: NoopPayload, _meta: JobMeta| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<(), JobError>(())
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pool = tokio::spawn(snapsync_queue::run(backend, handler, async move {
        let _ = stop_rx.await;
    }));

    let mut last = (0u64, tokio::time::Instant::now());
    loop {
        let depth = redis.depth().await?;
        let acked = backlog.saturating_sub(depth.pending() + depth.dead);
        if acked >= target {
            break;
        }
        if pool.is_finished() {
            bail!("the worker pool stopped after {acked} of {target} jobs");
        }
        if acked > last.0 {
            last = (acked, tokio::time::Instant::now());
        } else if last.1.elapsed() > STALL_LIMIT {
            bail!("the drain stalled at {acked} of {target} jobs: {depth:?}");
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    Ok(Pool { ran, stop: stop_tx, pool })
}

/// The pool after its timed drain: still running until [`Pool::stop`].
pub struct Pool {
    ran: Arc<AtomicU64>,
    stop: tokio::sync::oneshot::Sender<()>,
    pool: tokio::task::JoinHandle<Result<(), snapsync_queue::RunError>>,
}

impl Pool {
    /// Stops the pool gracefully (untimed) and returns how many jobs the handler ran.
    pub async fn stop(self) -> anyhow::Result<u64> {
        let _ = self.stop.send(());
        self.pool.await.context("worker pool task")?.context("worker pool")?;
        Ok(self.ran.load(Ordering::Relaxed))
    }
}
