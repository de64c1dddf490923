//! # snapsync core
//!
//! What both the producer and the workers need, and nothing that serves HTTP or runs a
//! worker pool.
//!
//! # Layout
//! - [`config`]: the typed [`config::Config`]: one TOML file, then `SNAPSYNC__SECTION__KEY`
//!   environment overrides; every problem reported at once; secrets redacted in printouts.
//! - [`jobs`]: the job kinds that flow through the queue (`docs/job-handlers.md`).
//! - [`ringcentral`]: the RingCentral client (shared OAuth token in Redis, paging, sync tokens, rate-limit headers).
//! - [`errors`]: retryable vs permanent classification of every failure, with a reason.
//! - [`snapshots`]: the Snapshots client (idempotent upserts by external id, owners, activities).
//! - [`mapping`]: RingCentral → Snapshots field mapping from a checked mapping file.
//! - [`routing`]: owner routing of new leads from a checked rules file.
//! - [`subscription`]: the webhook subscription's lifecycle (reuse, renew, recreate, no duplicates).
//! - [`telemetry`]: the Prometheus recorder the binaries install and serve (`docs/metrics.md`).
//!
//! The job queue itself is the `snapsync-queue` crate (`docs/queue.md`).

pub mod clients;
pub mod config;
pub mod errors;
pub mod jobs;
pub mod logging;
pub mod mapping;
pub mod mode;
pub mod ringcentral;
pub mod routing;
pub mod snapshots;
pub mod subscription;
pub mod sync_results;
pub mod telemetry;
