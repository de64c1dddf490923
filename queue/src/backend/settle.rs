//! The settle task: writes run outcomes to Redis. Acks are batched (up to `ack_batch` per call,
//! waiting at most `ack_linger` for a batch to fill) because a per-job ack round trip would
//! cost Redis more than the job itself; failures, snoozes and hand-backs are written one by
//! one. A lease stays held (and heartbeated) until its outcome is written, and every write is
//! retried with capped backoff while Redis is away: each presents the lease's token, so a
//! write repeated after a lost reply, or arriving after the lease was lost, changes nothing.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::backend::holdings::{Settle, Shared};
use crate::reconnect::Reconnect;
use crate::{FailOutcome, Failure, LeaseRef, QueueError, SnoozeOutcome};

pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Settle>) {
    let batch_max = shared.options.ack_batch.max(1);
    let linger = shared.options.ack_linger;
    let mut acks: Vec<LeaseRef> = Vec::with_capacity(batch_max);
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
            Settle::Ack(lease) => acks.push(lease),
            Settle::Flush(reply) => {
                flushed(reply);
                continue;
            }
            other => {
                one(&shared, other).await;
                continue;
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
                Some(Settle::Ack(lease)) => acks.push(lease),
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

/// Runs `op` until Redis answers, backing off in between.
async fn retrying<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, QueueError>>,
{
    let mut backoff = Reconnect::default();
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %e, retry_in = ?delay, "{what} failed; retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn ack(shared: &Shared, leases: &mut Vec<LeaseRef>) {
    let n = retrying("ack", || shared.queue.ack(leases)).await;
    if n < leases.len() {
        tracing::warn!(
            acked = n,
            sent = leases.len(),
            "some acks were refused: those runs had lost their lease (the job was taken from them)"
        );
    }
    for l in leases.drain(..) {
        shared.end(l.lease);
    }
}

async fn one(shared: &Shared, settle: Settle) {
    match settle {
        Settle::Fail(meta, failure) => {
            let lease = meta.lease_ref();
            let outcome =
                retrying("recording a failed attempt", || shared.queue.fail(&lease, meta.attempt, failure.clone()))
                    .await;
            shared.end(meta.lease);
            let kind = || meta.kind.clone();
            match outcome {
                FailOutcome::Scheduled { .. } => {
                    metrics::counter!("snapsync_jobs_failed_total", "kind" => kind()).increment(1);
                    metrics::counter!("snapsync_jobs_retried_total", "kind" => kind()).increment(1);
                }
                FailOutcome::Dead => {
                    metrics::counter!("snapsync_jobs_failed_total", "kind" => kind()).increment(1);
                    metrics::counter!("snapsync_jobs_dead_total", "kind" => kind()).increment(1);
                }
                FailOutcome::NotLeased => {}
            }
            let error = match &failure {
                Failure::Retry { error, .. } | Failure::Permanent { error } => error.as_str(),
            };
            match outcome {
                FailOutcome::Scheduled { after } => {
                    shared.rearm.notify_one();
                    tracing::warn!(job_id = %meta.id, kind = %meta.kind, attempt = meta.attempt, retry_in = ?after, error,
                        "job failed; retry scheduled")
                }
                FailOutcome::Dead => {
                    tracing::error!(job_id = %meta.id, kind = %meta.kind, attempt = meta.attempt, error,
                    "job failed for good; moved to dead")
                }
                FailOutcome::NotLeased => tracing::warn!(job_id = %meta.id, kind = %meta.kind, error,
                    "job failed but its lease had been lost; the failure was not recorded"),
            }
        }
        Settle::Snooze(meta, after, reason) => {
            let lease = meta.lease_ref();
            let outcome =
                retrying("snoozing a job", || shared.queue.snooze(&lease, meta.attempt, after, &reason)).await;
            shared.end(meta.lease);
            let kind = || meta.kind.clone();
            match outcome {
                SnoozeOutcome::Snoozed { .. } => {
                    metrics::counter!("snapsync_jobs_snoozed_total", "kind" => kind()).increment(1)
                }
                SnoozeOutcome::BoundPassed(FailOutcome::Dead) => {
                    metrics::counter!("snapsync_jobs_failed_total", "kind" => kind()).increment(1);
                    metrics::counter!("snapsync_jobs_dead_total", "kind" => kind()).increment(1);
                }
                SnoozeOutcome::BoundPassed(FailOutcome::Scheduled { .. }) => {
                    metrics::counter!("snapsync_jobs_failed_total", "kind" => kind()).increment(1);
                    metrics::counter!("snapsync_jobs_retried_total", "kind" => kind()).increment(1);
                }
                SnoozeOutcome::BoundPassed(FailOutcome::NotLeased) | SnoozeOutcome::NotLeased => {}
            }
            match outcome {
                SnoozeOutcome::Snoozed { after } => {
                    shared.rearm.notify_one();
                    tracing::info!(job_id = %meta.id, kind = %meta.kind, back_in = ?after, reason = %reason, "job snoozed")
                }
                SnoozeOutcome::BoundPassed(FailOutcome::Dead) => tracing::error!(job_id = %meta.id, kind = %meta.kind,
                    reason = %reason, "job snoozed past its bound and has no attempt left; moved to dead"),
                SnoozeOutcome::BoundPassed(_) => {
                    shared.rearm.notify_one();
                    tracing::warn!(job_id = %meta.id, kind = %meta.kind, reason = %reason,
                        "job snoozed past its bound; counted as a failed attempt")
                }
                SnoozeOutcome::NotLeased => tracing::warn!(job_id = %meta.id, kind = %meta.kind,
                    "job asked to snooze but its lease had been lost; nothing recorded"),
            }
        }
        Settle::Release(lease) => {
            let n = retrying("handing back an interrupted job", || shared.queue.release(std::slice::from_ref(&lease)))
                .await;
            shared.end(lease.lease);
            if n == 1 {
                tracing::info!(job_id = %lease.id, "interrupted by the shutdown deadline; handed back uncharged");
            }
        }
        Settle::Ack(_) | Settle::Flush(_) => {}
    }
}
