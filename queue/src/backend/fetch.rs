//! The fetch task: keeps the prefetch buffer filled with leased jobs. It reserves only when
//! at least half the buffer is free (so a busy worker reserves in batches, not one job per
//! round trip), and when the queue has nothing it blocks on the queue's wake list until an
//! enqueue (or the next scheduled job's due time, or a 1 s safety net) says to look again.
//!
//! Every reserve carries a fresh [`ReserveTicket`]. When its reply is lost (a timeout, a
//! dropped connection) the task reclaims the ticket before anything else: whatever that reserve
//! leased goes back to ready uncharged, instead of waiting in Redis for a lease nobody renews.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::backend::holdings::Shared;
use crate::reconnect::Reconnect;
use crate::storage::RESERVE_MAX;
use crate::{Leased, ReserveTicket};

/// A reserved job and its buffer slot (freed when apalis takes the job).
pub(crate) type Buffered = (Leased, OwnedSemaphorePermit);

/// Longest idle wait between two reserve attempts, whatever the wake list says.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// Shortest wait for a due job, so a just-due job cannot make the loop spin.
const MIN_WAIT: Duration = Duration::from_millis(5);

pub(crate) async fn run(shared: Arc<Shared>, tx: mpsc::UnboundedSender<Buffered>) {
    let prefetch = shared.options.prefetch.clamp(1, crate::config::MAX_PREFETCH);
    let slots = Arc::new(Semaphore::new(prefetch));
    let low_water = prefetch.div_ceil(2) as u32;
    let mut waiter = shared.queue.waiter();
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
        let want = (permit.num_permits()).min(RESERVE_MAX);
        let ticket = ReserveTicket::new();
        // Never abandoned half-way on stop: its reply, or its reclaim, always comes first.
        match shared.queue.reserve(shared.worker(), want, &ticket).await {
            Ok(r) => {
                backoff.reset();
                let got = r.jobs.len();
                for job in r.jobs {
                    // reserve returns at most as many jobs as it was asked for, so a slot is
                    // always there; a job beyond them is handed back with the rest on close.
                    let Some(slot) = permit.split(1) else { break };
                    shared.hold(&job);
                    if tx.send((job, slot)).is_err() {
                        return;
                    }
                }
                drop(permit);
                if got > 0 || r.more {
                    continue;
                }
                let wait = if r.paused {
                    IDLE_WAIT
                } else {
                    r.next_due_in.map_or(IDLE_WAIT, |d| d.clamp(MIN_WAIT, IDLE_WAIT))
                };
                tokio::select! {
                    woke = waiter.wait(wait) => if let Err(e) = woke {
                        tracing::warn!(error = %e, "waiting for work failed; retrying");
                        if pause(&shared, backoff.next_delay()).await {
                            return;
                        }
                    },
                    // The abandoned BLPOP still blocks its connection server-side; a fresh
                    // connection keeps the next wait from queueing behind it.
                    _ = shared.rearm.notified() => waiter.reset(),
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
                reclaim(&shared, &ticket, delay).await;
            }
        }
    }
}

/// Hands back what a reserve whose reply was lost may have leased, after `first_wait` (the
/// fetch loop's backoff, so a reserve that keeps failing is retried ever more slowly); retried
/// while Redis is away, for at most two leases (past that its leases expired and came back
/// uncharged anyway).
async fn reclaim(shared: &Shared, ticket: &ReserveTicket, first_wait: Duration) {
    let mut backoff = Reconnect::default();
    let give_up = tokio::time::Instant::now() + shared.queue.config().lease * 2;
    // A stop cuts the first wait short (the reclaim itself still comes first).
    pause(shared, first_wait).await;
    loop {
        match shared.queue.reclaim(shared.worker(), ticket).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(count = n, "a reserve's reply was lost; its jobs are back on ready, uncharged");
                }
                return;
            }
            Err(e) if tokio::time::Instant::now() < give_up => {
                tracing::warn!(error = %e, "cannot reclaim a lost reserve yet; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "gave up reclaiming a lost reserve; its leases expire instead");
                return;
            }
        }
    }
}

/// Sleeps `d`; true when the worker is stopping (at once if it already is).
async fn pause(shared: &Shared, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => shared.stop.is_cancelled(),
        _ = shared.stop.cancelled() => true,
    }
}
