//! # snapsync core
//!
//! What both the producer and the workers need, and nothing that serves HTTP or runs a
//! worker pool.
//!
//! # Layout
//! - [`jobs`]: the job kinds that flow through the queue (see `DESIGN.md`, triggers → jobs).
//! - [`ringcentral`]: the RingCentral client (shared OAuth token in Redis, paging, sync tokens, rate-limit headers).
//!
//! The Redis queue storage, configuration, the RingCentral and Snapshots clients, field
//! mapping and owner routing arrive with the queue-engine and pipeline issues.

pub mod jobs;
pub mod queue;
pub mod ringcentral;
