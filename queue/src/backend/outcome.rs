//! The backend's apalis middleware (`BackendConfig::Layer`, the outermost layer around the
//! user's middleware and handler): turns each run's result into an ack or a failed
//! attempt. A handler panic becomes a failed attempt (retried); when the shutdown deadline
//! passes, a still-running job is cut and recorded as an interrupted attempt, retried at once
//! by another worker.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::Failure;
use apalis_core::error::BoxDynError;
use apalis_core::task::Task;
use futures_util::FutureExt;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::backend::error::{classify, Interrupted, Panicked};
use crate::backend::holdings::{Settle, Shared};
use crate::backend::job::JobMeta;

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
        let shared = self.shared.clone();
        let span = match &meta {
            Some(m) => tracing::info_span!("job", job_id = %m.id, kind = %m.kind, attempt = m.attempt),
            None => tracing::info_span!("job"),
        };
        // `call` itself may run handler code synchronously; a panic there is a failed attempt too.
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(task)));
        let run = async move {
            let result: Result<S::Response, BoxDynError> = match started {
                Err(panic) => Err(Box::new(Panicked::from_payload(&*panic))),
                Ok(fut) => tokio::select! {
                    r = AssertUnwindSafe(fut).catch_unwind() => match r {
                        Ok(r) => r.map_err(Into::into),
                        Err(panic) => Err(Box::new(Panicked::from_payload(&*panic))),
                    },
                    _ = shared.abort.cancelled() => Err(Box::new(Interrupted)),
                },
            };
            if let Some(meta) = meta {
                match &result {
                    Ok(_) => shared.settle(Settle::Ack(meta.id)),
                    Err(e) => {
                        let failure = if e.is::<Interrupted>() {
                            Failure::Retry { after: Some(Duration::ZERO), error: e.to_string() }
                        } else {
                            classify(e)
                        };
                        shared.settle(Settle::Fail(meta, failure));
                    }
                }
            }
            result
        };
        Box::pin(run.instrument(span))
    }
}
