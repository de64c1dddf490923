//! `sync_account`: account info, business address and the operator extension → one
//! Snapshots `/accounts` record with `primary_contact` (the operator). Three Light reads;
//! the upsert writes only when the mapped record changed.

use snapsync::mapping::{account_source, Resource};

use super::context::Context;
use super::failure::job_error;
use super::sync_locations::to_json;
use snapsync::jobs::SyncAccount;
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

pub async fn run(ctx: &Context, _payload: SyncAccount, job: &JobMeta) -> Result<(), JobError> {
    let started = super::sync_results::now_ms();
    let info = ctx.rc.account_info().await.map_err(|e| job_error("reading account info", &e.into()))?;
    let address = ctx.rc.business_address().await.map_err(|e| job_error("reading the business address", &e.into()))?;
    let operator = match info.operator.as_ref().and_then(|o| o.id.as_deref()) {
        Some(id) => Some(
            ctx.rc
                .extension(id)
                .await
                .map_err(|e| job_error(&format!("reading operator extension {id}"), &e.into()))?,
        ),
        None => None,
    };
    let record = format!("account {}", info.id);
    let source = account_source(&to_json(&info), &to_json(&address), operator.as_ref().map(to_json).as_ref());
    let mapped = ctx.mapping().map(Resource::Account, &source).map_err(|e| job_error(&record, &e.into()))?;
    for note in &mapped.notes {
        tracing::info!(record = %record, note = %note, "mapping note");
    }
    let key = super::idempotency_key(job, &mapped.external_id, &mapped.record);
    let outcome = ctx
        .snapshots
        .upsert(&job.locks, mapped.collection, &mapped.external_id, mapped.record, &key, None)
        .await
        .map_err(|e| job_error(&record, &e.into()))?;
    tracing::info!(record = %record, outcome = ?outcome, "account synced");
    let mut tally = super::Tally::default();
    tally.count(&outcome);
    super::sync_results::finished(ctx, "accounts", job, started, &tally, 0).await;
    Ok(())
}
