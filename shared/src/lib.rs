//! # snapsync core
//!
//! What both the producer and the workers need, and nothing that serves HTTP or runs a
//! worker pool.
//!
//! # Layout
//! - [`jobs`]: the job kinds that flow through the queue (see `DESIGN.md`, triggers → jobs).
//! - [`errors`]: retryable vs permanent classification of every failure, with a reason.
//! - [`snapshots`]: the Snapshots client (idempotent upserts by external id, owners, activities).
//! - [`mapping`]: RingCentral → Snapshots field mapping from a checked mapping file.
//! - [`routing`]: owner routing of new leads from a checked rules file.
//!
//! The Redis queue storage, configuration, the RingCentral and Snapshots clients, field
//! mapping and owner routing arrive with the queue-engine and pipeline issues.

pub mod errors;
pub mod jobs;
pub mod mapping;
pub mod queue;
pub mod routing;
pub mod snapshots;
