//! What a handler learns about the job it runs, besides its decoded payload.

use crate::locks::LeaseLocks;
use crate::{JobId, LeaseRef, LeaseToken, Leased, WorkerId};

/// The job being run: injected into every apalis task's extensions (so `Data<JobMeta>`
/// extracts it too) and passed to handlers by [`crate::run`].
#[derive(Debug, Clone)]
pub struct JobMeta {
    pub id: JobId,
    pub kind: String,
    /// 1 on the first run. Snoozes give their run's attempt back, so a job that waited for a
    /// rate limit twice and then ran is still on attempt 1.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The worker process running it.
    pub worker: WorkerId,
    /// The lease this run holds (its fencing token).
    pub lease: LeaseToken,
    /// Locks tied to this run's lease (renewed with it, gone with it): take one before writing
    /// a record another run may be writing too.
    pub locks: LeaseLocks,
    /// When the job was enqueued (ms since the epoch, Redis's clock).
    pub created_ms: u64,
}

/// Seconds from `ms` (since the epoch) to now; 0 when the clocks disagree the other way.
pub(crate) fn since_ms(ms: u64) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(u128::from(u64::MAX)) as u64);
    now.saturating_sub(ms) as f64 / 1000.0
}

impl JobMeta {
    pub(crate) fn new(job: &Leased, worker: &WorkerId, locks: LeaseLocks) -> JobMeta {
        JobMeta {
            id: job.id.clone(),
            kind: job.kind.clone(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            worker: worker.clone(),
            lease: job.lease,
            locks,
            created_ms: job.created_ms,
        }
    }

    pub fn lease_ref(&self) -> LeaseRef {
        LeaseRef { id: self.id.clone(), lease: self.lease }
    }
}
