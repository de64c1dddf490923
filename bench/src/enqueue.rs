//! Putting the benchmark's jobs into the queue: one awaited `enqueue` at a time, sequential
//! `enqueue_batch` chunks, and the untimed fill before a drain.

use anyhow::Context;
use snapsync_queue::{Enqueued, Queue};

use crate::payload::job;

/// `Queue::enqueue` awaited job by job: one script call and one round trip each.
pub async fn single(queue: &Queue, jobs: u64) -> anyhow::Result<u64> {
    let mut created = 0;
    for i in 0..jobs {
        if matches!(queue.enqueue(job(i)).await.context("enqueue")?, Enqueued::Created(_)) {
            created += 1;
        }
    }
    Ok(created)
}

/// `Queue::enqueue_batch` over chunks of `chunk` jobs, one chunk after the other
/// (the peers' `addBulk` is timed the same way).
pub async fn batch(queue: &Queue, jobs: u64, chunk: u64) -> anyhow::Result<u64> {
    batch_range(queue, 0, jobs, chunk).await
}

async fn batch_range(queue: &Queue, from: u64, to: u64, chunk: u64) -> anyhow::Result<u64> {
    let mut created = 0;
    let mut i = from;
    while i < to {
        let end = (i + chunk.max(1)).min(to);
        let out = queue.enqueue_batch((i..end).map(job).collect()).await.context("enqueue_batch")?;
        created += out.iter().filter(|e| matches!(e, Enqueued::Created(_))).count() as u64;
        i = end;
    }
    Ok(created)
}

/// The untimed fill before a drain: batches of 1,000 from a few tasks at once (a
/// 1,000,000-job backlog would otherwise take a while to build).
pub async fn fill(queue: &Queue, jobs: u64) -> anyhow::Result<u64> {
    const TASKS: u64 = 4;
    let per = jobs.div_ceil(TASKS);
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let (from, to) = ((t * per).min(jobs), ((t + 1) * per).min(jobs));
        let q = queue.clone();
        handles.push(tokio::spawn(async move { batch_range(&q, from, to, 1000).await }));
    }
    let mut created = 0;
    for h in handles {
        created += h.await.context("fill task")??;
    }
    Ok(created)
}
