//! # Job handlers
//!
//! One file per job kind (`docs/job-handlers.md`); [`dispatch`] picks the handler by
//! the job's kind. Every handler reads RingCentral, maps with the mapping file, writes to
//! Snapshots idempotently (upsert by external id, `Idempotency-Key` derived from the job),
//! and turns each failure into a classified [`JobError`] (see [`failure`]).
//!
//! # Layout
//! - [`context`]: [`Context`], the clients and files every handler uses, built from `Config`.
//! - [`payload`]: decoding the versioned payloads of `snapsync::jobs`.
//! - [`failure`]: [`HandlerError`] and its classification into retry or permanent.
//! - [`sync_locations`], [`sync_account`], [`sync_contacts`], [`upsert_contact`],
//!   [`voicemail_follow_up`], [`tag_call`], [`tag_message`], [`sync_calls`],
//!   [`sync_messages`], [`renew_subscription`]: the handlers.
//! - [`catch_up`]: the record-feed loop `sync_calls` and `sync_messages` share.
//! - [`activity`]: the site and location lookups the call and message activities share.
//! - [`deletions`]: what "deleted at the source" does in Snapshots (tag or delete).

pub mod activity;
pub mod catch_up;
pub mod context;
pub mod deletions;
pub mod failure;
pub mod payload;
pub mod renew_subscription;
pub mod sync_account;
pub mod sync_calls;
pub mod sync_contacts;
pub mod sync_locations;
pub mod sync_messages;
pub mod sync_results;
pub mod tag_call;
pub mod tag_message;
pub mod targets;
pub mod upsert_contact;
pub mod voicemail_follow_up;

use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use snapsync::jobs::JobKind;

pub use context::{Context, SetupError};
pub use failure::HandlerError;
pub use targets::Targets;

use snapsync_queue::JobError;
use snapsync_queue::JobMeta;
use snapsync_queue::{with_class, Class};

/// Runs the handler of `job.kind` on `payload`, its calls counted as real-time or bulk by the
/// rate limiter ([`JobKind::is_realtime`]). Kinds without a handler here are permanent
/// failures: retrying cannot make this worker understand them.
pub async fn dispatch(ctx: Arc<Context>, payload: Value, job: JobMeta) -> Result<(), JobError> {
    let Some(kind) = JobKind::from_name(&job.kind) else {
        return Err(JobError::permanent(format!("no handler for job kind {:?} in this worker", job.kind)));
    };
    // A mapping saved in the dashboard since the last job is used from this job on.
    ctx.refresh_mapping().await;
    run_refreshed(kind, &ctx, payload, &job).await
}

/// [`dispatch`] for a context whose mapping was just refreshed ([`Targets::pick`] refreshes
/// it in the same round trip as its read of the mode).
pub async fn dispatch_refreshed(ctx: Arc<Context>, payload: Value, job: JobMeta) -> Result<(), JobError> {
    let Some(kind) = JobKind::from_name(&job.kind) else {
        return Err(JobError::permanent(format!("no handler for job kind {:?} in this worker", job.kind)));
    };
    run_refreshed(kind, &ctx, payload, &job).await
}

async fn run_refreshed(kind: JobKind, ctx: &Context, payload: Value, job: &JobMeta) -> Result<(), JobError> {
    let class = if kind.is_realtime() { Class::Urgent } else { Class::Bulk };
    with_class(class, run_kind(kind, ctx, payload, job)).await
}

async fn run_kind(kind: JobKind, ctx: &Context, payload: Value, job: &JobMeta) -> Result<(), JobError> {
    let bad = |e: HandlerError| failure::job_error(&format!("{} job {}", kind.as_str(), job.id), &e);
    match kind {
        JobKind::SyncLocations => sync_locations::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::SyncAccount => sync_account::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::SyncContacts => sync_contacts::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::UpsertContact => upsert_contact::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::VoicemailFollowUp => voicemail_follow_up::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::RenewSubscription => renew_subscription::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::TagCall => tag_call::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::TagMessage => tag_message::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::SyncCalls => sync_calls::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
        JobKind::SyncMessages => sync_messages::run(ctx, payload::decode(&payload).map_err(bad)?, job).await,
    }
}

/// An `Idempotency-Key` for one write of one job: the same job (any attempt) writing the
/// same body gets the same key, so a retried create is replayed, not repeated; a retry
/// whose body differs gets another key (Snapshots refuses a reused key with another body)
/// and the upsert's 409 → PATCH path keeps it to one record.
pub fn idempotency_key(job: &JobMeta, external_id: &str, record: &serde_json::Map<String, Value>) -> String {
    let body = serde_json::to_string(record).unwrap_or_default();
    let digest = Sha256::digest(format!("{external_id}\n{body}").as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("job-{}-{hex}", job.id)
}

/// Short content hash of a JSON value (unique keys of fanned-out jobs).
pub fn value_hash(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// What a sync wrote, for its log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
}

impl Tally {
    pub fn count(&mut self, outcome: &snapsync::snapshots::UpsertOutcome) {
        use snapsync::snapshots::UpsertOutcome::*;
        match outcome {
            Created { .. } => self.created += 1,
            Updated { .. } => self.updated += 1,
            Unchanged { .. } | Stale { .. } => self.unchanged += 1,
        }
    }
}
