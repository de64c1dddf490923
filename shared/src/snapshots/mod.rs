//! # The Snapshots client
//!
//! Writes RingCentral's data into Snapshots (contract: `docs/snapshots-api.md`) so that a
//! job can run any number of times and leave one record per source record:
//! every write is an upsert by `external_id`; creates carry an `Idempotency-Key` derived
//! from the job; updates carry `If-Match`; a mapped record equal to the one last written is
//! not sent at all; an older source version never overwrites a newer one.
//!
//! # Layout
//! - [`types`]: [`Collection`], [`Record`], [`Owner`], [`SourceVersion`] and the outcomes.
//! - [`error`] — [`SnapshotsError`] (status, Snapshots `error.code`, `field`, `Retry-After`)
//!   and its classification.
//! - [`http`]: [`SnapshotsClient`] and the single-request calls (find, get, create, patch,
//!   delete, owners, activities).
//! - [`upsert`]: the upsert (with [`OnCreate`]: fields only a create sends), tag and
//!   delete-by-external-id flows.
//! - [`state`]: what is kept in Redis per record (content hash, last source version, id and
//!   Snapshots version),
//!   the keys of the per-record lock (a lock of the job's lease, `snapsync_queue::LeaseLocks`)
//!   that makes "check, then write" safe across workers, and the fenced state writes.

pub mod error;
pub mod http;
pub mod state;
pub mod types;
pub mod upsert;

pub use error::{ApiError, SnapshotsError};
pub use http::SnapshotsClient;
pub use types::{ActivityOutcome, Collection, DeleteOutcome, Owner, Record, SourceVersion, TagOutcome, UpsertOutcome};
pub use upsert::OnCreate;
