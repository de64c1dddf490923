//! The heartbeat task: every lease/3 it renews the lease of every job this process holds
//! (prefetched and running) and the record locks of the running ones, and registers the worker
//! as alive; every lease/2 it returns other workers' expired jobs to ready. A lease the
//! heartbeat reports lost (it expired during a long stall, an operator retried or discarded the
//! job) has its run cancelled at once: within one heartbeat interval of the loss, the run that
//! no longer owns the job stops.

use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backend::holdings::{Shared, Stage};
use crate::reconnect::Reconnect;

/// Expired leases handled per recover call, and calls per round.
const RECOVER_LIMIT: usize = 500;
const RECOVER_CALLS: usize = 10;

pub(crate) async fn run(shared: Arc<Shared>, done: CancellationToken) {
    let lease = shared.queue.config().lease;
    let beat_every = lease / 3;
    let recover_every = lease / 2;
    let mut next_beat = Instant::now();
    let mut next_recover = Instant::now() + recover_every;
    // After an outage, wait a lease before recovering: every live worker first gets the
    // chance to renew the leases it kept through the outage, so none of its jobs is
    // recovered (and run twice) only because Redis was gone for a while.
    let mut recover_after: Option<Instant> = None;
    let mut backoff = Reconnect::default();
    loop {
        let next = next_beat.min(next_recover);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = done.cancelled() => return,
        }
        let now = Instant::now();
        if now >= next_beat {
            let leases = shared.leases();
            match shared.queue.heartbeat(&shared.info, &leases).await {
                Ok(lost) => {
                    if backoff.failing() {
                        recover_after = Some(Instant::now() + lease);
                    }
                    backoff.reset();
                    for (id, token, stage) in shared.lose(&lost) {
                        match stage {
                            Stage::Buffered => tracing::warn!(job_id = %id, lease = %token,
                                "lease lost while prefetched; the job is not run here"),
                            _ => tracing::warn!(job_id = %id, lease = %token,
                                "lease lost (expired, retried or discarded); cancelling this run"),
                        }
                    }
                    renew_locks(&shared).await;
                    shared.ready.send_replace(true);
                    next_beat = Instant::now() + beat_every;
                }
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "heartbeat failed; retrying");
                    next_beat = Instant::now() + delay.min(beat_every);
                }
            }
        }
        if now >= next_recover {
            next_recover = Instant::now() + recover_every;
            // Not while our own heartbeat fails: Redis may just be back and our leases not yet
            // renewed, and recovering them would run our jobs twice.
            if backoff.failing() || recover_after.is_some_and(|t| Instant::now() < t) {
                continue;
            }
            recover_after = None;
            for _ in 0..RECOVER_CALLS {
                match shared.queue.recover_expired(RECOVER_LIMIT).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(count = n, "returned jobs of lost workers to the queue");
                        if n < RECOVER_LIMIT {
                            break;
                        }
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "recovering expired leases failed; next round retries");
                        break;
                    }
                }
            }
        }
    }
}

/// Renews the record locks of every running lease; a lock lost meanwhile is logged (the run's
/// fenced writes under it will be refused).
async fn renew_locks(shared: &Shared) {
    // All at once: a beat waits one round trip for every run's locks, not one per run.
    let sets = shared.lock_sets();
    let results = futures_util::future::join_all(sets.iter().map(|locks| locks.renew())).await;
    for (locks, result) in sets.iter().zip(results) {
        match result {
            Ok(lost) => {
                for key in lost {
                    tracing::warn!(lock = %key, owner = %locks.token(), "record lock lost before its run ended");
                }
            }
            Err(e) => tracing::warn!(error = %e, "renewing record locks failed; next beat retries"),
        }
    }
}
