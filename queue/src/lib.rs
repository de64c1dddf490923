//! # snapsync-queue: the job queue engine
//!
//! snapsync's own job storage on Redis and the apalis backend that runs jobs from it. It knows
//! nothing of RingCentral, Snapshots, mapping or routing: jobs are a kind and a JSON payload.
//! Jobs move between states — ready, scheduled, snoozed, running (leased), done, dead — by Lua
//! scripts that get every key they touch in `KEYS`, all under one hash tag `{prefix:queue}`, so
//! a queue lives in one Redis Cluster slot and a prefix isolates deployments. Every lease has a
//! fencing token; a run is charged an attempt when it starts; a wait that is not a failure is a
//! snooze. Why the storage is ours and not apalis-redis's, the key layout and every guarantee:
//! `docs/queue.md`.
//!
//! # Layout
//! - [`conn`]: [`RedisConn`], the self-healing Redis connection (one server or a cluster)
//!   every part of snapsync uses, its [`ConnOptions`], and [`is_connection_error`].
//! - [`config`]: [`QueueConfig`] (lease, attempts, backoff, snooze bound, dedup TTL, retention),
//!   validated with every out-of-range setting named.
//! - [`keys`]: every Redis key of a queue, in the order the scripts get them; names from callers
//!   checked or hashed.
//! - [`types`]: ids, [`LeaseToken`], [`NewJob`], [`Leased`], [`Failure`] and the other values.
//! - [`storage`]: [`Queue`] and its moves (enqueue, reserve, reclaim, start, ack, fail, snooze,
//!   release, heartbeat, recover) and the [`Waiter`] that blocks an idle worker until work arrives.
//! - [`backoff`](mod@backoff): retry delays (exponential, capped, equal jitter) and the [`horizon`] they cover.
//! - [`inspect`]: counts per state and kind, the oldest ready job, pages of jobs by state and
//!   kind, one job with history.
//! - [`admin`]: retry, discard, purge done or dead jobs, pause and resume.
//! - [`live_workers`]: the live-worker registry (who heartbeats, holding what; who went silent).
//! - [`locks`]: [`LeaseLocks`], locks tied to a run's lease (renewed with it, gone with it).
//! - [`error`]: [`QueueError`], telling a dropped connection from other failures.
//! - [`reconnect`]: the capped backoff every task uses while Redis is away.
//! - [`backend`]: the apalis side — [`RedisBackend`] (apalis `Backend`), its fetch, start,
//!   heartbeat and settle tasks, the layer that runs each job (cancelled when its lease is lost)
//!   and turns its result into ack, fail or snooze, [`JobError`], [`JobMeta`], and [`run`] (a
//!   handler over a backend until a shutdown future resolves).
//! - `lua/`: the scripts; `common.lua` is prepended to each.

pub mod admin;
pub mod backend;
pub mod backoff;
pub mod config;
pub mod conn;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod limits;
pub mod live_workers;
pub mod locks;
pub mod reconnect;
pub mod storage;
pub mod throughput;
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
pub use inspect::{
    Attempt, Counts, DueCounts, JobDetail, JobState, JobSummary, OldestReady, Page, StateCounts, UnknownState,
};
pub use limits::{with_class, with_patience, Budget, BudgetStats, Class, LimitError, Limiter, LimiterOptions, Permit};
pub use live_workers::{GoneWorker, LiveWorker, Workers};
pub use locks::{LeaseLocks, LockError, LockGuard};
pub use storage::{Queue, Waiter};
pub use throughput::Minute;
pub use types::{
    Enqueued, FailOutcome, Failure, JobId, LeaseRef, LeaseToken, Leased, NewJob, ReserveTicket, Reserved,
    SnoozeOutcome, WorkerId, WorkerInfo,
};

#[cfg(test)]
mod tests {
    /// The engine stands alone: nothing of RingCentral, Snapshots, mapping or routing (they
    /// live in `snapsync`, which depends on this crate, not the other way round), and no HTTP
    /// client.
    #[test]
    fn the_engine_depends_on_no_other_snapsync_crate() {
        let manifest = include_str!("../Cargo.toml");
        let deps = manifest.split("[dependencies]").nth(1).unwrap_or_default();
        let deps = deps.split("\n[").next().unwrap_or_default();
        for line in deps.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let name = line.split(['.', ' ', '=']).next().unwrap_or_default();
            assert!(!name.starts_with("snapsync"), "the queue engine depends on {name}");
            assert!(!["reqwest", "axum"].contains(&name), "the queue engine depends on {name}");
        }
    }
}
