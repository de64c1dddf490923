//! The state a worker's background tasks and its apalis service share: the leases this process
//! holds (prefetched or running — every one must be renewed by the heartbeat), keyed by lease
//! token so two leases of one job (a stale run and its successor) never mix; the channels to
//! the start and settle tasks; and the stop signals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::backend::job::JobMeta;
use crate::locks::LeaseLocks;
use crate::{Failure, JobId, LeaseRef, LeaseToken, Leased, Queue, WorkerInfo};

/// A held lease's stage in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Reserved, waiting in the prefetch buffer.
    Buffered,
    /// Handed to apalis: starting or running.
    Running,
    /// The run ended; its outcome is on its way to Redis (still heartbeated until written).
    Settling,
    /// Was running when its lease was lost: cancelled, no longer heartbeated, held only until
    /// its run has really ended (a newer run of the same job waits for that).
    Lost,
}

/// One lease this process holds.
pub(crate) struct Holding {
    pub id: JobId,
    pub stage: Stage,
    /// Cancelled when the lease is lost (or superseded by a newer lease of the same job): the
    /// run must stop, and nothing it reports is written.
    pub lost: CancellationToken,
    /// The record locks the run took; renewed with the lease.
    pub locks: LeaseLocks,
    /// Set once the run has ended (settled, cut or dropped), so a newer run of the same job in
    /// this process starts only after it.
    pub ended: watch::Sender<bool>,
}

/// A finished run's outcome, on its way to Redis.
#[derive(Debug)]
pub(crate) enum Settle {
    Ack(LeaseRef),
    Fail(JobMeta, Failure),
    Snooze(JobMeta, Duration, String),
    /// Back to ready uncharged (a run cut by the shutdown deadline).
    Release(LeaseRef),
    /// Write everything sent before this, then answer.
    Flush(oneshot::Sender<()>),
}

/// A run asking to be charged and allowed to start; answered with its attempt, or `None`
/// when the lease is no longer held.
pub(crate) type StartRequest = (LeaseRef, oneshot::Sender<Option<u32>>);

/// Knobs of one worker process.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once.
    pub concurrency: usize,
    /// Jobs reserved ahead of the free slots (leased and heartbeated while they wait, charged
    /// only when they start); at most [`crate::config::MAX_PREFETCH`].
    pub prefetch: usize,
    /// On stop: how long running jobs may take to finish; then they are cut and handed back
    /// uncharged. The process is gone within this plus about a second.
    pub shutdown_timeout: Duration,
    /// Acks are written when this many are pending, or after `ack_linger`.
    pub ack_batch: usize,
    pub ack_linger: Duration,
}

impl WorkerOptions {
    /// The default prefetch for `concurrency`: the slots plus a floor of 4, so a worker with
    /// few slots does not pay a reserve round trip per job, while a worker holds few enough
    /// waiting jobs that other workers are not starved of slow ones.
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

/// The leases held, and an index of them by job (a job has more than one only while a stale run
/// of it is still ending), so starting a run never scans every lease held.
#[derive(Default)]
pub(crate) struct Held {
    leases: HashMap<LeaseToken, Holding>,
    by_job: HashMap<JobId, Vec<LeaseToken>>,
}

impl Held {
    fn insert(&mut self, lease: LeaseToken, holding: Holding) {
        self.by_job.entry(holding.id.clone()).or_default().push(lease);
        self.leases.insert(lease, holding);
    }

    fn remove(&mut self, lease: &LeaseToken) -> Option<Holding> {
        let holding = self.leases.remove(lease)?;
        if let Some(tokens) = self.by_job.get_mut(&holding.id) {
            tokens.retain(|t| t != lease);
            if tokens.is_empty() {
                self.by_job.remove(&holding.id);
            }
        }
        Some(holding)
    }
}

pub(crate) struct Shared {
    pub queue: Queue,
    pub info: WorkerInfo,
    pub options: WorkerOptions,
    held: Mutex<Held>,
    settle_tx: mpsc::UnboundedSender<Settle>,
    start_tx: mpsc::UnboundedSender<StartRequest>,
    /// Stop reserving and starting (SIGTERM received).
    pub stop: CancellationToken,
    /// The shutdown deadline passed: cut the jobs still running.
    pub abort: CancellationToken,
    /// The fetch task has returned (no reserve is in flight any more).
    pub fetch_exited: CancellationToken,
    /// A retry or snooze was scheduled here: an idle fetch loop looks again now, so its wait
    /// ends at the job's due time instead of the idle cap.
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
    ) -> (Arc<Shared>, mpsc::UnboundedReceiver<Settle>, mpsc::UnboundedReceiver<StartRequest>) {
        let (settle_tx, settle_rx) = mpsc::unbounded_channel();
        let (start_tx, start_rx) = mpsc::unbounded_channel();
        let shared = Shared {
            queue,
            info,
            options,
            held: Mutex::new(Held::default()),
            settle_tx,
            start_tx,
            stop: CancellationToken::new(),
            abort: CancellationToken::new(),
            fetch_exited: CancellationToken::new(),
            rearm: Notify::new(),
            ready: watch::channel(false).0,
            polled: watch::channel(false).0,
        };
        (Arc::new(shared), settle_rx, start_rx)
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        // A poisoned lock only means a panic elsewhere mid-update of a plain map; keep going.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a freshly reserved lease, waiting in the buffer.
    pub(crate) fn hold(&self, job: &Leased) {
        let owner = format!("{}:{}", job.id, job.lease);
        let locks = LeaseLocks::new(self.queue.conn().clone(), owner, self.queue.config().lease);
        let holding = Holding {
            id: job.id.clone(),
            stage: Stage::Buffered,
            lost: CancellationToken::new(),
            locks,
            ended: watch::channel(false).0,
        };
        self.held().insert(job.lease, holding);
    }

    /// Moves a buffered lease to running; `None` when it was lost (or handed back) meanwhile, or
    /// the worker is stopping. Any older run of the same job still held here lost its lease
    /// (Redis leased the job again): it is cancelled, and the new run must wait for its end
    /// (the returned receiver), so two runs of one job never overlap in this process.
    pub(crate) fn begin(&self, lease: LeaseToken) -> Option<Begun> {
        let mut guard = self.held();
        if self.stop.is_cancelled() {
            return None;
        }
        let held = &mut *guard;
        let holding = held.leases.get_mut(&lease)?;
        holding.stage = Stage::Running;
        let (id, lost, locks) = (holding.id.clone(), holding.lost.clone(), holding.locks.clone());
        let mut older = Vec::new();
        for token in held.by_job.get(&id).into_iter().flatten().filter(|t| **t != lease) {
            let Some(h) = held.leases.get_mut(token) else { continue };
            if matches!(h.stage, Stage::Running | Stage::Lost) {
                h.lost.cancel();
                h.stage = Stage::Lost;
                older.push(h.ended.subscribe());
            }
        }
        Some(Begun { lost, locks, older })
    }

    /// The run of `lease` has ended (its future completed or was dropped). With an outcome on
    /// its way (`settling`) the lease stays held, and heartbeated, until the outcome is written;
    /// otherwise (lost, nothing to write) it is forgotten now.
    pub(crate) fn finished(&self, lease: LeaseToken, settling: bool) {
        let mut held = self.held();
        let Some(h) = held.leases.get_mut(&lease) else { return };
        let _ = h.ended.send(true);
        if settling && h.stage == Stage::Running {
            h.stage = Stage::Settling;
            return;
        }
        drop(held);
        self.end(lease);
    }

    /// The lease is done with (its outcome written, or lost): forgets it and releases the locks
    /// its run left behind.
    pub(crate) fn end(&self, lease: LeaseToken) {
        let Some(holding) = self.held().remove(&lease) else { return };
        let _ = holding.ended.send(true);
        let locks = holding.locks;
        if !locks.keys().is_empty() {
            tokio::spawn(async move { locks.release_all().await });
        }
    }

    /// The heartbeat found these leases lost: their runs are cancelled (a buffered one is
    /// forgotten and will not start; a running one is kept until its run has ended). Returns
    /// the ids and what they were doing, for the log.
    pub(crate) fn lose(&self, tokens: &[LeaseToken]) -> Vec<(JobId, LeaseToken, Stage)> {
        let mut held = self.held();
        let mut out = Vec::new();
        for t in tokens {
            let Some(h) = held.leases.get_mut(t) else { continue };
            h.lost.cancel();
            out.push((h.id.clone(), *t, h.stage));
            match h.stage {
                // Not started, or already ended: nothing will report on it any more.
                Stage::Buffered | Stage::Settling => {
                    held.remove(t);
                }
                Stage::Running | Stage::Lost => h.stage = Stage::Lost,
            }
        }
        out
    }

    /// Takes every buffered lease out of the holdings (for the hand-back on stop).
    pub(crate) fn take_buffered(&self) -> Vec<LeaseRef> {
        let mut held = self.held();
        let tokens: Vec<LeaseToken> =
            held.leases.iter().filter(|(_, h)| h.stage == Stage::Buffered).map(|(t, _)| *t).collect();
        tokens.into_iter().filter_map(|t| held.remove(&t).map(|h| LeaseRef { id: h.id, lease: t })).collect()
    }

    /// Every lease still held (buffered, running or settling), for the heartbeat.
    pub(crate) fn leases(&self) -> Vec<LeaseRef> {
        self.held()
            .leases
            .iter()
            .filter(|(_, h)| h.stage != Stage::Lost)
            .map(|(t, h)| LeaseRef { id: h.id.clone(), lease: *t })
            .collect()
    }

    /// The lock sets of the running leases, for the heartbeat.
    pub(crate) fn lock_sets(&self) -> Vec<LeaseLocks> {
        self.held()
            .leases
            .values()
            .filter(|h| matches!(h.stage, Stage::Running | Stage::Settling) && !h.locks.keys().is_empty())
            .map(|h| h.locks.clone())
            .collect()
    }

    /// Leases held here: (buffered, running).
    pub(crate) fn census(&self) -> (usize, usize) {
        let held = self.held();
        let buffered = held.leases.values().filter(|h| h.stage == Stage::Buffered).count();
        (buffered, held.leases.len() - buffered)
    }

    pub(crate) fn settle(&self, s: Settle) {
        // The settle task lives as long as the backend; if it is gone the lease simply
        // expires and the job runs again (at-least-once), so a failed send is not an error.
        let _ = self.settle_tx.send(s);
    }

    /// Asks the start task to charge and start `lease`; `None` when it may not run.
    pub(crate) async fn start(&self, lease: LeaseRef) -> Option<u32> {
        let (tx, rx) = oneshot::channel();
        self.start_tx.send((lease, tx)).ok()?;
        rx.await.ok().flatten()
    }

    pub(crate) fn worker(&self) -> &crate::WorkerId {
        &self.info.id
    }
}

/// What a run needs from its holding once it may begin.
pub(crate) struct Begun {
    pub lost: CancellationToken,
    pub locks: LeaseLocks,
    /// Older runs of the same job here, cancelled: wait for each to end first.
    pub older: Vec<watch::Receiver<bool>>,
}
