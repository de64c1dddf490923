//! # snapsync worker: the data plane
//!
//! The job handlers that turn queued jobs into RingCentral reads and Snapshots writes. The
//! queue engine itself — the Redis storage and the apalis backend that leases, runs,
//! heartbeats and settles jobs — is the `snapsync-queue` crate; `main.rs` builds a
//! [`jobs::Context`] from the config and runs [`jobs::dispatch`] over a
//! `snapsync_queue::RedisBackend` until SIGTERM.
//!
//! # Layout
//! - [`jobs`]: the job handlers (one file per kind), [`jobs::dispatch`] and their [`jobs::Context`].

pub mod jobs;
