//! The start task: marks runs started as they begin. A started run is charged an attempt
//! however it ends (a reservation is not: prefetched jobs a crash or a stop never started cost
//! nothing), and the mark must be in Redis before the handler runs, or a job that kills its
//! worker at once would never use up its attempts. Runs that begin together share one round trip: the
//! task takes every request waiting when it is free and sends them in one call, so a busy
//! worker pays one call per batch of starts and an idle one no extra wait.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::backend::holdings::{Shared, StartRequest};
use crate::reconnect::Reconnect;
use crate::storage::SETTLE_CHUNK;

pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<StartRequest>) {
    let mut batch: Vec<StartRequest> = Vec::new();
    loop {
        let Some(first) = rx.recv().await else { return };
        batch.push(first);
        while batch.len() < SETTLE_CHUNK {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut backoff = Reconnect::default();
        loop {
            // A run cancelled meanwhile (lost lease, shutdown cut) no longer waits for its answer.
            batch.retain(|(_, reply)| !reply.is_closed());
            if batch.is_empty() {
                break;
            }
            let leases: Vec<_> = batch.iter().map(|(l, _)| l.clone()).collect();
            match shared.queue.start(&leases).await {
                Ok(attempts) => {
                    for ((_, reply), attempt) in batch.drain(..).zip(attempts) {
                        let _ = reply.send(attempt);
                    }
                    break;
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, count = batch.len(), retry_in = ?delay, "starting jobs failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shared.abort.cancelled() => {
                            // Cut by the shutdown deadline: none of them runs.
                            for (_, reply) in batch.drain(..) {
                                let _ = reply.send(None);
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
}
