//! The settle task: writes run outcomes to Redis. Acks are batched (up to `ack_batch` ids
//! per call, waiting at most `ack_linger` for a batch to fill) because a per-job ack round
//! trip would cost Redis more than the job itself; failures are written one by one. A
//! lease stays held (and heartbeated) until its outcome is written, and every write is
//! retried with capped backoff while Redis is away: acks and fails are idempotent.

use std::sync::Arc;

use crate::{FailOutcome, Failure, JobId};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::backend::holdings::{Settle, Shared};
use crate::backend::job::JobMeta;
use crate::reconnect::Reconnect;

pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Settle>) {
    let batch_max = shared.options.ack_batch.max(1);
    let linger = shared.options.ack_linger;
    let mut acks: Vec<JobId> = Vec::with_capacity(batch_max);
    let mut pending: Option<Settle> = None;
    loop {
        let first = match pending.take() {
            Some(s) => s,
            None => match rx.recv().await {
                Some(s) => s,
                None => return,
            },
        };
        match first {
            Settle::Ack(id) => acks.push(id),
            Settle::Fail(meta, failure) => {
                fail(&shared, meta, failure).await;
                continue;
            }
            Settle::Flush(reply) => {
                flushed(reply);
                return;
            }
        }
        // Fill the batch: what is already queued, then whatever arrives within the linger.
        let deadline = Instant::now() + linger;
        while acks.len() < batch_max {
            let next = match rx.try_recv() {
                Ok(s) => Some(s),
                Err(mpsc::error::TryRecvError::Empty) => {
                    tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten()
                }
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            };
            match next {
                Some(Settle::Ack(id)) => acks.push(id),
                Some(other) => {
                    // Keep order: the acks gathered so far go first.
                    pending = Some(other);
                    break;
                }
                None => break,
            }
        }
        ack(&shared, &mut acks).await;
    }
}

fn flushed(reply: oneshot::Sender<()>) {
    let _ = reply.send(());
}

async fn ack(shared: &Shared, ids: &mut Vec<JobId>) {
    let mut backoff = Reconnect::default();
    loop {
        match shared.queue.ack(shared.worker(), ids).await {
            Ok(n) => {
                if n < ids.len() {
                    tracing::warn!(
                        acked = n,
                        sent = ids.len(),
                        "some acks were ignored: those jobs' leases had expired (they may run again)"
                    );
                }
                for id in ids.drain(..) {
                    shared.drop_lease(&id);
                }
                return;
            }
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, count = ids.len(), retry_in = ?delay, "ack failed; retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn fail(shared: &Shared, meta: JobMeta, failure: Failure) {
    let leased = meta.leased();
    let mut backoff = Reconnect::default();
    let outcome = loop {
        match shared.queue.fail(shared.worker(), &leased, failure.clone()).await {
            Ok(outcome) => break outcome,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(job_id = %meta.id, error = %e, retry_in = ?delay, "recording a failed attempt failed; retrying");
                tokio::time::sleep(delay).await;
            }
        }
    };
    shared.drop_lease(&meta.id);
    let error = match &failure {
        Failure::Retry { error, .. } | Failure::Permanent { error } => error.as_str(),
    };
    if matches!(outcome, FailOutcome::Scheduled { .. }) {
        shared.rearm.notify_one();
    }
    match outcome {
        FailOutcome::Scheduled { after } => tracing::warn!(
            job_id = %meta.id, kind = %meta.kind, attempt = meta.attempt, retry_in = ?after, error,
            "job failed; retry scheduled"
        ),
        FailOutcome::Dead => tracing::error!(
            job_id = %meta.id, kind = %meta.kind, attempt = meta.attempt, error,
            "job failed for good; moved to dead"
        ),
        FailOutcome::NotLeased => tracing::warn!(
            job_id = %meta.id, kind = %meta.kind, error,
            "job failed but its lease had expired; the failure was not recorded (it may run again)"
        ),
    }
}
