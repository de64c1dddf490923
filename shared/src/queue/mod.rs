//! # The Redis queue storage
//!
//! snapsync's own job storage on Redis (why not apalis-redis: `../shared/QUEUE.md`).
//! Jobs move between five states — ready, scheduled, running (leased), done, dead — by Lua
//! scripts over the keys of one hash tag `{prefix:queue}`, so a queue lives in one Redis
//! Cluster slot and a prefix isolates deployments. Key layout: `docs/queue.md`.
//!
//! # Layout
//! - [`config`]: [`QueueConfig`] (lease, attempts, backoff, dedup TTL, retention).
//! - [`types`]: ids, [`NewJob`], [`Leased`], [`Failure`] and the other values of the API.
//! - [`storage`]: [`Queue`] and its moves (enqueue, reserve, ack, fail, heartbeat, recover)
//!   and the [`Waiter`] that blocks an idle worker until work arrives.
//! - [`backoff`]: retry delays, exponential with full jitter and a cap.
//! - [`inspect`]: counts per state and kind, pages of jobs by state and kind, one job with history.
//! - [`admin`]: retry, discard, purge done jobs, pause and resume.
//! - [`live_workers`]: the live-worker registry (who heartbeats, holding what; who went silent).
//! - [`error`]: [`QueueError`], telling a dropped connection from other failures.
//! - `lua/`: the scripts; `common.lua` is prepended to each.

pub mod admin;
pub mod backoff;
pub mod config;
pub mod error;
pub mod inspect;
pub mod live_workers;
pub mod storage;
pub mod types;

pub use admin::RetryOutcome;
pub use backoff::{backoff, backoff_ceiling};
pub use config::QueueConfig;
pub use error::QueueError;
pub use inspect::{Attempt, Counts, JobDetail, JobState, JobSummary, Page, StateCounts, UnknownState};
pub use live_workers::{GoneWorker, LiveWorker, Workers};
pub use storage::{Queue, Waiter};
pub use types::{Enqueued, FailOutcome, Failure, JobId, Leased, NewJob, Reserved, WorkerId, WorkerInfo};
