//! The state a worker's background tasks and its apalis service share: which jobs this
//! process holds leases on (prefetched or running — every one must be renewed by the
//! heartbeat), the settle channel to the ack task, and the stop signals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::{Failure, JobId, Queue, WorkerInfo};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::backend::job::JobMeta;

/// A held job's stage in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Reserved, waiting in the prefetch buffer.
    Buffered,
    /// Handed to apalis.
    Running,
}

/// A finished run's outcome, on its way to Redis.
#[derive(Debug)]
pub(crate) enum Settle {
    Ack(JobId),
    Fail(JobMeta, Failure),
    /// Write everything sent before this, then stop and answer.
    Flush(oneshot::Sender<()>),
}

/// Knobs of one worker process.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Jobs reserved ahead of the free slots (leased and heartbeated while they wait).
    pub prefetch: usize,
    /// On stop: how long running jobs may take to finish; then again at most this long to
    /// hand back, flush acks and deregister.
    pub shutdown_timeout: Duration,
    /// Acks are written when this many are pending, or after `ack_linger`.
    pub ack_batch: usize,
    pub ack_linger: Duration,
}

impl WorkerOptions {
    /// The default prefetch for `concurrency`: the slots plus a floor of 4, so a worker with
    /// few slots does not pay a reserve round trip per job (at concurrency 1 this takes the
    /// drain from ~7,500 to ~13,700 jobs/s; see docs/benchmarks.md), while a worker holds
    /// few enough waiting jobs that other workers are not starved of slow ones.
    pub fn default_prefetch(concurrency: usize) -> usize {
        concurrency.max(4)
    }
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 16,
            prefetch: 16,
            shutdown_timeout: Duration::from_secs(30),
            ack_batch: 64,
            ack_linger: Duration::from_millis(2),
        }
    }
}

pub(crate) struct Shared {
    pub queue: Queue,
    pub info: WorkerInfo,
    pub options: WorkerOptions,
    held: Mutex<HashMap<JobId, Stage>>,
    settle_tx: mpsc::UnboundedSender<Settle>,
    /// Stop reserving (SIGTERM received).
    pub stop: CancellationToken,
    /// The shutdown deadline passed: cut the jobs still running.
    pub abort: CancellationToken,
    /// A retry was scheduled here: an idle fetch loop looks again now, so its wait ends at
    /// the retry's due time instead of the 1 s idle cap.
    pub rearm: Notify,
    /// The worker is registered in Redis (first heartbeat went through).
    pub ready: watch::Sender<bool>,
    /// apalis has started polling the backend (so `WorkerContext::stop` is accepted).
    pub polled: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(
        queue: Queue,
        info: WorkerInfo,
        options: WorkerOptions,
    ) -> (Arc<Shared>, mpsc::UnboundedReceiver<Settle>) {
        let (settle_tx, settle_rx) = mpsc::unbounded_channel();
        let shared = Shared {
            queue,
            info,
            options,
            held: Mutex::new(HashMap::new()),
            settle_tx,
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            rearm: Notify::new(),
            ready: watch::channel(false).0,
            polled: watch::channel(false).0,
        };
        (Arc::new(shared), settle_rx)
    }

    fn held(&self) -> MutexGuard<'_, HashMap<JobId, Stage>> {
        // A poisoned lock only means a panic elsewhere mid-update of a plain map; keep going.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn hold(&self, id: JobId) {
        self.held().insert(id, Stage::Buffered);
    }

    /// Moves a buffered job to running; false when its lease was lost meanwhile.
    pub(crate) fn start(&self, id: &JobId) -> bool {
        match self.held().get_mut(id) {
            Some(stage) => {
                *stage = Stage::Running;
                true
            }
            None => false,
        }
    }

    /// Forgets a job whose lease this worker no longer needs (settled or lost).
    pub(crate) fn drop_lease(&self, id: &JobId) {
        self.held().remove(id);
    }

    /// Forgets a buffered job; true when it was still held and never started.
    pub(crate) fn take_buffered(&self, id: &JobId) -> bool {
        let mut held = self.held();
        if held.get(id) == Some(&Stage::Buffered) {
            held.remove(id);
            true
        } else {
            false
        }
    }

    pub(crate) fn held_ids(&self) -> Vec<JobId> {
        self.held().keys().cloned().collect()
    }

    pub(crate) fn settle(&self, s: Settle) {
        // The ack task lives as long as the backend; if it is gone the lease simply
        // expires and the job runs again (at-least-once), so a failed send is not an error.
        let _ = self.settle_tx.send(s);
    }

    pub(crate) fn worker(&self) -> &crate::WorkerId {
        &self.info.id
    }
}
