//! `RedisBackend`: snapsync's Redis queue plugged into apalis 1.0 through its backend
//! extension point (`apalis_core::backend::{Backend, BackendConfig}`). apalis drives it:
//! `poll_next` hands out prefetched jobs (decoded into `Args`) when the service has a free
//! slot, the backend's layer ([`SettleLayer`]) runs each one — marked started before its handler runs, cancelled
//! if its lease is lost — and turns its result into an ack, a failed attempt or a snooze, and
//! `poll_close` — called by apalis once a stopping worker has no job left running — flushes
//! the outcomes and deregisters. The Redis work runs in four background tasks (fetch, start,
//! heartbeat, settle), started on the first poll.
//!
//! Stopping ([`BackendHandle::begin_stop`], on SIGTERM): reserving stops at once and every
//! prefetched job is handed back at once, uncharged, so other workers take them while this one
//! finishes; running jobs get `shutdown_timeout`, after which they are cut and handed back
//! uncharged too; the outcomes are flushed within about a second more.

pub mod error;
mod fetch;
mod heartbeat;
pub mod holdings;
pub mod job;
pub mod outcome;
pub mod runner;
mod settle;
mod start;

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::{builder::TaskBuilder, task_id::TaskId, Task};
use apalis_core::worker::context::WorkerContext;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::fetch::Buffered;
use self::holdings::{Settle, Shared, StartRequest, WorkerOptions};
use self::job::JobMeta;
use self::outcome::{RunControl, RunGuard, SettleLayer};
use crate::reconnect::Reconnect;
use crate::{Failure, JobId, Queue, WorkerId, WorkerInfo};

/// A worker's view of one Redis queue, as an apalis backend emitting `Task<Args>`.
pub struct RedisBackend<Args> {
    shared: Arc<Shared>,
    receivers: Option<(mpsc::UnboundedReceiver<Settle>, mpsc::UnboundedReceiver<StartRequest>)>,
    buffer: Option<mpsc::UnboundedReceiver<Buffered>>,
    tasks: Option<Tasks>,
    closing: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    closed: bool,
    _args: PhantomData<fn() -> Args>,
}

struct Tasks {
    heartbeat: JoinHandle<()>,
    heartbeat_done: CancellationToken,
    settle: JoinHandle<()>,
    start: JoinHandle<()>,
}

/// Controls a running backend from outside apalis: its identity, readiness and stop.
#[derive(Clone)]
pub struct BackendHandle {
    shared: Arc<Shared>,
}

impl BackendHandle {
    pub fn worker_id(&self) -> &WorkerId {
        self.shared.worker()
    }

    /// Resolves once the worker has registered itself in Redis (first heartbeat).
    pub async fn ready(&self) {
        let mut rx = self.shared.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// Resolves once apalis has started polling the backend.
    pub(crate) async fn polled(&self) {
        let mut rx = self.shared.polled.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// True once a stop was requested (no job starts after that).
    pub fn is_stopping(&self) -> bool {
        self.shared.stop.is_cancelled()
    }

    /// Leases held here now: (prefetched, started or settling).
    pub fn held(&self) -> (usize, usize) {
        self.shared.census()
    }

    /// Stops reserving and starting jobs, hands every prefetched job back at once, and cuts the
    /// jobs still running once `shutdown_timeout` has passed.
    pub fn begin_stop(&self) {
        if self.shared.stop.is_cancelled() {
            return;
        }
        self.shared.stop.cancel();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + shared.options.shutdown_timeout;
            // The fetch task finishes the reserve it may be in (its jobs are held by then).
            let _ = tokio::time::timeout_at(deadline, shared.fetch_exited.cancelled()).await;
            hand_back(&shared, deadline).await;
        });
        let abort = self.shared.abort.clone();
        let grace = self.shared.options.shutdown_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            abort.cancel();
        });
    }
}

impl<Args> RedisBackend<Args> {
    /// A backend for a new worker identity (`WorkerId::generate()`): one per process start.
    pub fn new(queue: Queue, options: WorkerOptions) -> RedisBackend<Args> {
        let info = WorkerInfo {
            id: WorkerId::generate(),
            host: crate::types::hostname(),
            pid: std::process::id(),
            started_ms: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            concurrency: options.concurrency,
        };
        let (shared, settle_rx, start_rx) = Shared::new(queue, info, options);
        RedisBackend {
            shared,
            receivers: Some((settle_rx, start_rx)),
            buffer: None,
            tasks: None,
            closing: None,
            closed: false,
            _args: PhantomData,
        }
    }

    pub fn handle(&self) -> BackendHandle {
        BackendHandle { shared: self.shared.clone() }
    }

    pub fn options(&self) -> &WorkerOptions {
        &self.shared.options
    }

    fn start(&mut self) {
        let Some((settle_rx, start_rx)) = self.receivers.take() else { return };
        let (tx, rx) = mpsc::unbounded_channel();
        self.buffer = Some(rx);
        let heartbeat_done = CancellationToken::new();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let _exited = shared.fetch_exited.clone().drop_guard();
            fetch::run(shared, tx).await;
        });
        self.tasks = Some(Tasks {
            heartbeat: tokio::spawn(heartbeat::run(self.shared.clone(), heartbeat_done.clone())),
            heartbeat_done,
            settle: tokio::spawn(settle::run(self.shared.clone(), settle_rx)),
            start: tokio::spawn(start::run(self.shared.clone(), start_rx)),
        });
        self.shared.polled.send_replace(true);
    }
}

impl<Args: DeserializeOwned> Backend for RedisBackend<Args> {
    type Task = Task<Args>;
    type Error = Infallible;

    fn poll_ready(&mut self, _cx: &mut Context<'_>, _worker: &WorkerContext) -> Poll<Result<(), Infallible>> {
        self.start();
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Option<Result<Task<Args>, Infallible>>> {
        self.start();
        // After a stop request nothing new starts, even if a slot frees before apalis
        // notices the stop: what is still buffered is handed back.
        if self.shared.stop.is_cancelled() {
            return Poll::Pending;
        }
        let Some(buffer) = self.buffer.as_mut() else { return Poll::Pending };
        loop {
            // The slot permit drops here: taking a job frees room in the prefetch buffer.
            let Some((job, _slot)) = std::task::ready!(buffer.poll_recv(cx)) else {
                // The fetch task ended (stopping): nothing more comes; apalis closes us.
                return Poll::Pending;
            };
            // Lost while buffered, or handed back by a stop that began meanwhile.
            let Some(begun) = self.shared.begin(job.lease) else { continue };
            let meta = JobMeta::new(&job, self.shared.worker(), begun.locks);
            let control = RunControl { lost: begun.lost, older: begun.older };
            match serde_json::from_str::<Args>(&job.payload) {
                Ok(args) => {
                    let task = TaskBuilder::new(args)
                        .task_id(TaskId::from_string(job.id.0.clone()))
                        .attempt(job.attempt.saturating_sub(1) as usize)
                        .max_attempts(job.max_attempts as usize)
                        .data(meta)
                        .data(control)
                        .build();
                    return Poll::Ready(Some(Ok(task)));
                }
                Err(e) => {
                    // Undecodable: a failed run (charged like any other), and permanent.
                    let error = format!("cannot decode payload of job {} (kind {}): {e}", job.id, job.kind);
                    let shared = self.shared.clone();
                    tokio::spawn(async move {
                        let mut guard = RunGuard { shared: shared.clone(), lease: meta.lease, settling: false };
                        if shared.start(meta.lease_ref()).await.is_some() {
                            guard.settling = true;
                            shared.settle(Settle::Fail(meta, Failure::Permanent { error }));
                        }
                    });
                }
            }
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, _worker: &WorkerContext) -> Poll<Result<(), Infallible>> {
        if self.closed {
            return Poll::Ready(Ok(()));
        }
        let shared = &self.shared;
        let (buffer, tasks) = (&mut self.buffer, &mut self.tasks);
        let closing = self.closing.get_or_insert_with(|| Box::pin(close(shared.clone(), buffer.take(), tasks.take())));
        std::task::ready!(closing.as_mut().poll(cx));
        self.closing = None;
        self.closed = true;
        Poll::Ready(Ok(()))
    }
}

impl<Args> BackendConfig for RedisBackend<Args> {
    type Args = Args;
    type Id = JobId;
    type Kind = Ephemeral;
    type Config = WorkerOptions;
    type Layer = SettleLayer;

    fn config(&self) -> &WorkerOptions {
        &self.shared.options
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> SettleLayer {
        SettleLayer { shared: self.shared.clone() }
    }
}

/// How long the last steps of a stop may take once no job runs: flush the outcomes, stop the
/// heartbeat, deregister. Whatever is not written by then is covered by leases expiring.
const CLOSE_BUDGET: Duration = Duration::from_millis(1500);

/// Hands every buffered (never started) lease back to ready, uncharged.
async fn hand_back(shared: &Shared, deadline: Instant) {
    let leases = shared.take_buffered();
    if leases.is_empty() {
        return;
    }
    let queue = shared.queue.clone();
    let released = retry_until(deadline, "hand back prefetched jobs", || queue.release(&leases)).await;
    tracing::info!(count = released.unwrap_or(0), "handed prefetched jobs back to the queue");
}

/// The stop sequence once no job is running: hand back anything still buffered, flush
/// outcomes, stop heartbeating, deregister — within [`CLOSE_BUDGET`].
async fn close(shared: Arc<Shared>, buffer: Option<mpsc::UnboundedReceiver<Buffered>>, tasks: Option<Tasks>) {
    shared.stop.cancel();
    let deadline = Instant::now() + CLOSE_BUDGET;
    let Some(tasks) = tasks else { return };
    let _ = tokio::time::timeout_at(deadline, shared.fetch_exited.cancelled()).await;
    drop(buffer);
    hand_back(&shared, deadline).await;

    let (reply, flushed) = oneshot::channel();
    shared.settle(Settle::Flush(reply));
    if tokio::time::timeout_at(deadline, flushed).await.is_err() {
        tracing::warn!(
            "outcomes not flushed before the stop budget; those jobs will run again when their leases expire"
        );
    }
    tasks.settle.abort();
    tasks.start.abort();
    tasks.heartbeat_done.cancel();
    let _ = tokio::time::timeout_at(deadline, tasks.heartbeat).await;

    let queue = shared.queue.clone();
    let worker = shared.worker().clone();
    let _ = retry_until(deadline, "deregister", || queue.deregister(&worker)).await;
    tracing::info!(worker = %shared.worker(), "worker stopped");
}

/// Runs `op` until it succeeds or `deadline` passes, backing off on errors.
async fn retry_until<T, F, Fut>(deadline: Instant, what: &str, mut op: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, crate::QueueError>>,
{
    let mut backoff = Reconnect::default();
    loop {
        match tokio::time::timeout_at(deadline, op()).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) => {
                let delay = backoff.next_delay();
                if Instant::now() + delay >= deadline {
                    tracing::warn!(error = %e, "could not {what} before the shutdown deadline");
                    return None;
                }
                tracing::warn!(error = %e, retry_in = ?delay, "could not {what}; retrying");
                tokio::time::sleep(delay).await;
            }
            Err(_) => {
                tracing::warn!("could not {what} before the shutdown deadline");
                return None;
            }
        }
    }
}
