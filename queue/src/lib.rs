//! # snapsync-queue: the job queue engine
//!
//! snapsync's own job storage on Redis and the apalis backend that runs jobs from it. It knows
//! nothing of RingCentral, Snapshots, mapping or routing: jobs are a kind and a JSON payload.
//! Jobs move between states — ready, scheduled, running (leased), done, dead — by Lua scripts
//! over the keys of one hash tag `{prefix:queue}`, so a queue lives in one Redis Cluster slot
//! and a prefix isolates deployments. Why the storage is ours and not apalis-redis's, the key
//! layout and every guarantee: `docs/queue.md`.
//!
//! # Layout
//! - [`conn`]: [`RedisConn`], the self-healing Redis connection (one server or a cluster)
//!   every part of snapsync uses, its [`ConnOptions`], and [`is_connection_error`].
//! - [`config`]: [`QueueConfig`] (lease, attempts, backoff, dedup TTL, retention).
//! - [`types`]: ids, [`NewJob`], [`Leased`], [`Failure`] and the other values of the API.
//! - [`storage`]: [`Queue`] and its moves (enqueue, reserve, ack, fail, heartbeat, recover)
//!   and the [`Waiter`] that blocks an idle worker until work arrives.
//! - [`backoff`]: retry delays, exponential with full jitter and a cap.
//! - [`inspect`]: counts per state and kind, pages of jobs by state and kind, one job with history.
//! - [`admin`]: retry, discard, purge done jobs, pause and resume.
//! - [`live_workers`]: the live-worker registry (who heartbeats, holding what; who went silent).
//! - [`error`]: [`QueueError`], telling a dropped connection from other failures.
//! - [`reconnect`]: the capped backoff every task uses while Redis is away.
//! - [`backend`]: the apalis side — [`RedisBackend`] (apalis `Backend`), its fetch, heartbeat
//!   and settle tasks, the layer that turns a run's result into ack/fail, [`JobError`],
//!   [`JobMeta`], and [`run`] (a handler over a backend until a shutdown future resolves).
//! - `lua/`: the scripts; `common.lua` is prepended to each.

pub mod admin;
pub mod backend;
pub mod backoff;
pub mod config;
pub mod conn;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod live_workers;
pub mod locks;
pub mod reconnect;
pub mod storage;
pub mod types;

pub use admin::RetryOutcome;
pub use backend::error::JobError;
pub use backend::holdings::WorkerOptions;
pub use backend::job::JobMeta;
pub use backend::runner::{connect, run, shutdown_signal, RunError};
pub use backend::{BackendHandle, RedisBackend};
pub use backoff::{backoff, backoff_ceiling, horizon};
pub use config::QueueConfig;
pub use conn::{is_connection_error, ConnOptions, RedisConn};
pub use error::QueueError;
pub use inspect::{Attempt, Counts, JobDetail, JobState, JobSummary, Page, StateCounts, UnknownState};
pub use live_workers::{GoneWorker, LiveWorker, Workers};
pub use locks::{LeaseLocks, LockError, LockGuard};
pub use storage::{Queue, Waiter};
pub use types::{
    Enqueued, FailOutcome, Failure, JobId, LeaseRef, LeaseToken, Leased, NewJob, ReserveTicket, Reserved,
    SnoozeOutcome, WorkerId, WorkerInfo,
};
