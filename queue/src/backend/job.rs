//! What a handler learns about the job it runs, besides its decoded payload.

use crate::{JobId, Leased, WorkerId};

/// The job being run: injected into every apalis task's extensions (so `Data<JobMeta>`
/// extracts it too) and passed to handlers by [`crate::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMeta {
    pub id: JobId,
    pub kind: String,
    /// 1 on the first run.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The worker process running it.
    pub worker: WorkerId,
}

impl JobMeta {
    pub(crate) fn new(job: &Leased, worker: &WorkerId) -> JobMeta {
        JobMeta {
            id: job.id.clone(),
            kind: job.kind.clone(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            worker: worker.clone(),
        }
    }

    /// The lease as `Queue::fail` wants it (the payload is not needed there).
    pub(crate) fn leased(&self) -> Leased {
        Leased {
            id: self.id.clone(),
            kind: self.kind.clone(),
            payload: String::new(),
            attempt: self.attempt,
            max_attempts: self.max_attempts,
        }
    }
}
