//! The storage-only drain: `Queue::reserve` / `start` / `ack` called directly, without
//! apalis. NOT the worker path: it measures what the Redis storage costs and allows,
//! with the batching the worker backend uses (reserve up to the room in a prefetch buffer,
//! start the jobs that begin together in one call, run at most `concurrency` handlers, ack in
//! batches of <= 64 leases or every 2 ms). The `apalis` path (`drain_apalis.rs`) is the one
//! the targets are about.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use snapsync_queue::{LeaseRef, Leased, Queue, ReserveTicket, WorkerId};
use tokio::sync::{mpsc, Semaphore};

const ACK_BATCH: usize = 64;
const ACK_EVERY: Duration = Duration::from_millis(2);

/// Runs until `target` jobs are acked; returns how many were acked.
pub async fn drain(queue: Queue, concurrency: usize, prefetch: usize, target: u64) -> anyhow::Result<u64> {
    let worker = WorkerId::generate();
    let acked = Arc::new(AtomicU64::new(0));
    let (job_tx, mut job_rx) = mpsc::channel::<Leased>(prefetch.max(1));
    let (ack_tx, ack_rx) = mpsc::unbounded_channel::<LeaseRef>();

    let fetcher = tokio::spawn(fetch(queue.clone(), worker.clone(), job_tx));
    let acker = tokio::spawn(ack(queue.clone(), ack_rx, acked.clone(), target));

    // Dispatch: at most `concurrency` no-op handlers at once, each reporting its id to the acker.
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let dispatcher = tokio::spawn(async move {
        while let Some(job) = job_rx.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let ack_tx = ack_tx.clone();
            tokio::spawn(async move {
                // The no-op handler.
                let _ = ack_tx.send(job.lease_ref());
                drop(slot);
            });
        }
    });

    let result = acker.await.context("ack task")?;
    fetcher.abort();
    dispatcher.abort();
    result?;
    Ok(acked.load(Ordering::Relaxed))
}

/// Reserves as many jobs as the buffer has room for; blocks on the wake list when the queue is empty.
async fn fetch(queue: Queue, worker: WorkerId, tx: mpsc::Sender<Leased>) -> anyhow::Result<()> {
    let mut waiter = queue.waiter();
    loop {
        // Wait for at least one free slot, then take all the room there is.
        let first = tx.reserve().await.context("dispatcher gone")?;
        let room = tx.capacity() + 1;
        let reserved = queue.reserve(&worker, room, &ReserveTicket::new()).await.context("reserve")?;
        // The jobs of one reserve begin together here: one start call charges them all.
        let leases: Vec<LeaseRef> = reserved.jobs.iter().map(Leased::lease_ref).collect();
        if !leases.is_empty() {
            queue.start(&leases).await.context("start")?;
        }
        let mut jobs = reserved.jobs.into_iter();
        match jobs.next() {
            Some(job) => first.send(job),
            None => {
                drop(first);
                let idle = reserved.next_due_in.unwrap_or(Duration::from_secs(1)).min(Duration::from_secs(1));
                waiter.wait(idle).await.context("wait for work")?;
                continue;
            }
        }
        for job in jobs {
            tx.send(job).await.context("dispatcher gone")?;
        }
    }
}

/// Acks finished jobs in batches until `target` have been acked.
async fn ack(
    queue: Queue,
    mut rx: mpsc::UnboundedReceiver<LeaseRef>,
    acked: Arc<AtomicU64>,
    target: u64,
) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(ACK_BATCH);
    while acked.load(Ordering::Relaxed) < target {
        let Some(first) = rx.recv().await else { break };
        batch.push(first);
        let flush_at = tokio::time::Instant::now() + ACK_EVERY;
        while batch.len() < ACK_BATCH {
            match tokio::time::timeout_at(flush_at, rx.recv()).await {
                Ok(Some(id)) => batch.push(id),
                Ok(None) | Err(_) => break,
            }
        }
        let n = queue.ack(&batch).await.context("ack")?;
        acked.fetch_add(n as u64, Ordering::Relaxed);
        batch.clear();
    }
    Ok(())
}
