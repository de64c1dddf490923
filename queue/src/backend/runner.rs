//! Runs a handler over a [`RedisBackend`] with apalis: concurrency limit, the stop sequence
//! on a shutdown future, and a handler shape (`(Args, JobMeta) -> Result<(), JobError>`)
//! that keeps job code free of apalis types.

use std::future::Future;

use crate::{Queue, QueueConfig, QueueError};
use apalis::layers::WorkerBuilderExt;
use apalis_core::error::WorkerError;
use apalis_core::task::Task;
use apalis_core::worker::builder::WorkerBuilder;
use serde::de::DeserializeOwned;

use crate::backend::error::JobError;
use crate::backend::job::JobMeta;
use crate::backend::RedisBackend;
use crate::reconnect::Reconnect;

/// The worker stopped for a reason other than a requested shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the apalis worker failed: {0}")]
    Worker(#[from] WorkerError),
}

/// Runs `handler` for every job of the backend's queue until `shutdown` resolves, then
/// stops gracefully (see `RedisBackend`); returns once the worker has deregistered.
pub async fn run<Args, H, Fut>(
    backend: RedisBackend<Args>,
    handler: H,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError>
where
    Args: DeserializeOwned + Send + Sync + 'static,
    H: Fn(Args, JobMeta) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    let handle = backend.handle();
    let concurrency = backend.options().concurrency.max(1);
    let service = tower::service_fn(move |task: Task<Args>| {
        let handler = handler.clone();
        async move {
            let Some(meta) = task.data().get::<JobMeta>().cloned() else {
                return Err(JobError::permanent("the job reached the handler without its metadata"));
            };
            handler(task.args, meta).await
        }
    });
    let worker =
        WorkerBuilder::new(handle.worker_id().0.as_str()).backend(backend).concurrency(concurrency).build(service);
    let signal = async move {
        shutdown.await;
        handle.begin_stop();
        // apalis refuses a stop before the worker started; wait for it to be polled.
        handle.polled().await;
        Ok::<(), WorkerError>(())
    };
    worker.run_until(signal).await?;
    Ok(())
}

/// Connects to the queue, retrying while Redis is unreachable (a worker started before its
/// Redis waits for it); a bad configuration fails at once.
pub async fn connect(url: &str, config: QueueConfig) -> Result<Queue, QueueError> {
    let mut backoff = Reconnect::default();
    loop {
        match Queue::connect(url, config.clone()).await {
            Err(e) if e.is_connection() => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?delay, "redis unreachable; retrying");
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received; stopping"),
                _ = int.recv() => tracing::info!("SIGINT received; stopping"),
            }
        }
        _ => {
            // No signal handlers (should not happen on Unix): never stop on a signal.
            tracing::warn!("cannot install signal handlers; the worker stops only when killed");
            std::future::pending::<()>().await
        }
    }
}
