//! The fetch task: keeps the prefetch buffer filled with leased jobs. It reserves only when
//! at least half the buffer is free (so a busy worker reserves in batches, not one job per
//! round trip), and when the queue has nothing it blocks on the queue's wake list until an
//! enqueue (or the next scheduled job's due time, or a 1 s safety net) says to look again.

use std::sync::Arc;
use std::time::Duration;

use crate::Leased;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::backend::holdings::Shared;
use crate::reconnect::Reconnect;

/// A reserved job and its buffer slot (freed when apalis takes the job).
pub(crate) type Buffered = (Leased, OwnedSemaphorePermit);

/// Longest idle wait between two reserve attempts, whatever the wake list says.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// Shortest wait for a due job, so a just-due job cannot make the loop spin.
const MIN_WAIT: Duration = Duration::from_millis(5);

pub(crate) async fn run(shared: Arc<Shared>, tx: mpsc::UnboundedSender<Buffered>) {
    let prefetch = shared.options.prefetch.max(1);
    let slots = Arc::new(Semaphore::new(prefetch));
    let low_water = prefetch.div_ceil(2) as u32;
    let mut waiter = None;
    let mut backoff = Reconnect::default();
    loop {
        let mut permit = tokio::select! {
            p = slots.clone().acquire_many_owned(low_water) => match p { Ok(p) => p, Err(_) => return },
            _ = shared.stop.cancelled() => return,
        };
        let more = slots.available_permits() as u32;
        if more > 0 {
            if let Ok(extra) = slots.clone().try_acquire_many_owned(more) {
                permit.merge(extra);
            }
        }
        // Never abandoned half-way on stop: a reserve whose reply is dropped would strand
        // its leases until they expire (and cost an attempt). It is bounded by the
        // connection's response timeout; whatever it returns is handed back on close.
        let reserved = shared.queue.reserve(shared.worker(), permit.num_permits()).await;
        match reserved {
            Ok(r) => {
                backoff.reset();
                let got = r.jobs.len();
                for job in r.jobs {
                    // reserve returns at most as many jobs as it was asked for, so a slot is
                    // always there; a job beyond them would be left to its lease expiring.
                    let Some(slot) = permit.split(1) else { break };
                    shared.hold(job.id.clone());
                    if tx.send((job, slot)).is_err() {
                        return;
                    }
                }
                drop(permit);
                if got > 0 {
                    continue;
                }
                let wait = if r.paused {
                    IDLE_WAIT
                } else {
                    r.next_due_in.map_or(IDLE_WAIT, |d| d.clamp(MIN_WAIT, IDLE_WAIT))
                };
                let w = match waiter.as_mut() {
                    Some(w) => w,
                    None => match shared.queue.waiter().await {
                        Ok(w) => waiter.insert(w),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot open the wake connection; polling instead");
                            if pause(&shared, wait).await {
                                return;
                            }
                            continue;
                        }
                    },
                };
                tokio::select! {
                    woke = w.wait(wait) => if let Err(e) = woke {
                        tracing::warn!(error = %e, "waiting for work failed; retrying");
                        if pause(&shared, backoff.next_delay()).await {
                            return;
                        }
                    },
                    // The abandoned BLPOP still blocks its connection server-side; a fresh
                    // connection keeps the next wait from queueing behind it.
                    _ = shared.rearm.notified() => waiter = None,
                    _ = shared.stop.cancelled() => return,
                }
            }
            Err(e) => {
                drop(permit);
                let delay = backoff.next_delay();
                if e.is_connection() {
                    tracing::warn!(error = %e, retry_in = ?delay, "reserve failed: redis unreachable; retrying");
                } else {
                    tracing::error!(error = %e, retry_in = ?delay, "reserve failed; retrying");
                }
                if pause(&shared, delay).await {
                    return;
                }
            }
        }
    }
}

/// Sleeps `d`; true when the worker is stopping meanwhile.
async fn pause(shared: &Shared, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shared.stop.cancelled() => true,
    }
}
