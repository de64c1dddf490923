//! `renew_subscription`: keeps the webhook subscription alive with
//! `snapsync::subscription::ensure` — reuse the active one, renew it when it is close to
//! expiry, recreate it when RingCentral blacklisted it, delete duplicates. The same call the
//! producer makes at start, so a renewal reminder and a scheduled tick converge on one
//! subscription whichever runs first.

use snapsync::jobs::RenewSubscription;
use snapsync::subscription::ensure;

use super::context::Context;
use super::failure::job_error;
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

pub async fn run(ctx: &Context, payload: RenewSubscription, _job: &JobMeta) -> Result<(), JobError> {
    let name = match &payload.subscription_id {
        Some(id) => format!("subscription {id}"),
        None => format!("the subscription to {}", ctx.subscription.address),
    };
    let outcome = ensure(&ctx.rc, &ctx.subscription).await.map_err(|e| job_error(&name, &e.into()))?;
    tracing::info!(
        subscription_id = %outcome.id,
        action = ?outcome.action,
        deleted = outcome.deleted.len(),
        reminded_expires_in = payload.expires_in,
        "subscription ensured"
    );
    Ok(())
}
