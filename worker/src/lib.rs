//! # snapsync worker
//!
//! The worker side of snapsync's Redis queue: apalis 1.0 runs the workers (concurrency,
//! middleware, graceful stop) and [`RedisBackend`] plugs the project's own Redis storage
//! (`snapsync::queue`) into it through apalis's backend extension point.
//!
//! A job's path: the fetch task reserves a batch of leased jobs into the prefetch buffer →
//! apalis takes one when a slot is free (`Backend::poll_next`, which decodes the payload;
//! an undecodable one is dead at once) → the backend's layer runs the user's middleware and
//! handler and turns the result into an ack (batched) or a failure (retry with backoff or
//! `Retry-After`, or dead) → the settle task writes it. The heartbeat task renews every held
//! lease meanwhile and recovers other workers' expired jobs.
//!
//! # Layout
//! - [`backend`]: [`RedisBackend`] (apalis `Backend` + `BackendConfig`) and its stop sequence.
//! - `fetch`, `heartbeat`, `settle`: the three background tasks talking to Redis.
//! - [`outcome`]: the layer turning a run's result (or panic, or interruption) into ack/fail.
//! - [`holdings`]: the leases this process holds and what its tasks share; [`WorkerOptions`].
//! - [`error`]: [`JobError`], how handlers classify failures, and [`error::classify`].
//! - [`job`]: [`JobMeta`], what a handler learns about its job.
//! - [`runner`]: [`run`] a handler until a shutdown future resolves; [`connect`]; signals.
//! - [`reconnect`]: the capped backoff every task uses while Redis is away.
//! - [`jobs`]: the job handlers (one file per kind), [`jobs::dispatch`] and their [`jobs::Context`].

pub mod backend;
pub mod error;
mod fetch;
mod heartbeat;
pub mod holdings;
pub mod job;
pub mod jobs;
pub mod outcome;
pub mod reconnect;
pub mod runner;
mod settle;

pub use backend::{BackendHandle, RedisBackend};
pub use error::JobError;
pub use holdings::WorkerOptions;
pub use job::JobMeta;
pub use runner::{connect, run, shutdown_signal, RunError};
