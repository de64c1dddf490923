//! # snapsync core
//!
//! What both the producer and the workers need, and nothing that serves HTTP or runs a
//! worker pool.
//!
//! # Layout
//! - [`config`]: the typed [`config::Config`]: one TOML file, then `SNAPSYNC__SECTION__KEY`
//!   environment overrides; every problem reported at once; secrets redacted in printouts.
//! - [`jobs`]: the job kinds that flow through the queue (see `DESIGN.md`, triggers → jobs).
//! - [`ringcentral`]: the RingCentral client (shared OAuth token in Redis, paging, sync tokens, rate-limit headers).
//!
//! The RingCentral and Snapshots clients, field
//! mapping and owner routing arrive with the queue-engine and pipeline issues.

pub mod config;
pub mod jobs;
pub mod queue;
pub mod ringcentral;
