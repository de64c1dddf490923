//! The backend's apalis middleware (`BackendConfig::Layer`, the outermost layer around the
//! user's middleware and handler): the life of one run.
//!
//! 1. An older run of the same job still ending in this process (its lease was lost: Redis
//!    leased the job again) is waited for, so two runs of one job never overlap here.
//! 2. The run is charged and confirmed by the start task; a lease lost meanwhile means the
//!    handler never runs.
//! 3. The handler runs until it returns, its lease is lost (cancelled: nothing it reports is
//!    written), or the shutdown deadline passes (cut: handed back uncharged).
//! 4. Its result becomes an ack, a failed attempt (retry or dead) or a snooze, written by the
//!    settle task. A handler panic is a failed attempt.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use apalis_core::error::BoxDynError;
use apalis_core::task::Task;
use futures_util::FutureExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::backend::error::{classify, Interrupted, LeaseLost, Panicked, Verdict};
use crate::backend::holdings::{Settle, Shared};
use crate::backend::job::JobMeta;
use crate::LeaseToken;

/// What a run needs besides its [`JobMeta`]: the signal that its lease was lost, and the
/// older runs of the same job it must wait for. Put in the task's extensions by `poll_next`.
#[derive(Clone)]
pub(crate) struct RunControl {
    pub lost: CancellationToken,
    pub older: Vec<watch::Receiver<bool>>,
}

/// Wraps the worker's service stack; built by `RedisBackend::middleware`.
#[derive(Clone)]
pub struct SettleLayer {
    pub(crate) shared: Arc<Shared>,
}

impl<S> Layer<S> for SettleLayer {
    type Service = SettleService<S>;

    fn layer(&self, inner: S) -> SettleService<S> {
        SettleService { inner, shared: self.shared.clone() }
    }
}

#[derive(Clone)]
pub struct SettleService<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Tells the holdings when the run has ended, however it ends (returned, cancelled, dropped).
pub(crate) struct RunGuard {
    pub shared: Arc<Shared>,
    pub lease: LeaseToken,
    /// An outcome was handed to the settle task: keep the lease until it is written.
    pub settling: bool,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.shared.finished(self.lease, self.settling);
    }
}

impl<S, Args> Service<Task<Args>> for SettleService<S>
where
    S: Service<Task<Args>>,
    S::Error: Into<BoxDynError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxDynError;
    type Future = BoxFuture<Result<S::Response, BoxDynError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxDynError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, task: Task<Args>) -> Self::Future {
        let meta = task.data().get::<JobMeta>().cloned();
        let control = task.data().get::<RunControl>().cloned();
        let shared = self.shared.clone();
        let span = match &meta {
            Some(m) => tracing::info_span!("job", job_id = %m.id, kind = %m.kind, attempt = m.attempt),
            None => tracing::info_span!("job"),
        };
        // `call` builds the handler's future; futures do nothing until polled, so the handler
        // does not run before the start below. A panic in `call` itself is a failed attempt.
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(task)));
        let (Some(meta), Some(control)) = (meta, control) else {
            // Not one of ours (no lease): run it as it is, with nothing to settle.
            return Box::pin(async move {
                match started {
                    Ok(fut) => fut.await.map_err(Into::into),
                    Err(panic) => Err(Box::new(Panicked::from_payload(&*panic)) as BoxDynError),
                }
            });
        };
        let run = async move {
            let mut guard = RunGuard { shared: shared.clone(), lease: meta.lease, settling: false };
            for mut older in control.older {
                tokio::select! {
                    _ = older.wait_for(|ended| *ended) => {}
                    _ = control.lost.cancelled() => return Err(Box::new(LeaseLost) as BoxDynError),
                }
            }
            let attempt = tokio::select! {
                a = shared.start(meta.lease_ref()) => a,
                _ = control.lost.cancelled() => None,
                _ = shared.abort.cancelled() => {
                    guard.settling = true;
                    shared.settle(Settle::Release(meta.lease_ref()));
                    return Err(Box::new(Interrupted) as BoxDynError);
                }
            };
            if attempt.is_none() {
                tracing::warn!(job_id = %meta.id, "lease lost before the run started; not running it");
                return Err(Box::new(LeaseLost) as BoxDynError);
            }
            if meta.attempt <= 1 {
                // From enqueue to the first run's start (a snoozed first run counts again when
                // it starts again: its wait was for a rate limit or a lock, not a failure).
                metrics::histogram!("snapsync_job_queue_latency_seconds", "kind" => meta.kind.clone())
                    .record(crate::backend::job::since_ms(meta.created_ms));
            }
            let run_started = std::time::Instant::now();
            let result: Result<S::Response, BoxDynError> = match started {
                Err(panic) => Err(Box::new(Panicked::from_payload(&*panic))),
                Ok(fut) => tokio::select! {
                    r = AssertUnwindSafe(fut).catch_unwind() => match r {
                        Ok(r) => r.map_err(Into::into),
                        Err(panic) => Err(Box::new(Panicked::from_payload(&*panic))),
                    },
                    _ = control.lost.cancelled() => Err(Box::new(LeaseLost)),
                    _ = shared.abort.cancelled() => Err(Box::new(Interrupted)),
                },
            };
            metrics::histogram!("snapsync_job_duration_seconds", "kind" => meta.kind.clone())
                .record(run_started.elapsed().as_secs_f64());
            if result.is_ok() {
                metrics::counter!("snapsync_jobs_processed_total", "kind" => meta.kind.clone()).increment(1);
            }
            let settle = match &result {
                Ok(_) => Some(Settle::Ack(meta.lease_ref())),
                Err(e) if e.is::<LeaseLost>() => None,
                Err(e) if e.is::<Interrupted>() => Some(Settle::Release(meta.lease_ref())),
                Err(e) => Some(match classify(e) {
                    Verdict::Fail(failure) => Settle::Fail(meta.clone(), failure),
                    Verdict::Snooze { after, reason } => Settle::Snooze(meta.clone(), after, reason),
                }),
            };
            if let Some(settle) = settle {
                guard.settling = true;
                shared.settle(settle);
            }
            result
        };
        Box::pin(run.instrument(span))
    }
}
