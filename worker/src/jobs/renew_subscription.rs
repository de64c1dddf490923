//! `renew_subscription`: renews a RingCentral webhook subscription before it expires. An
//! unknown or expired subscription (404) is permanent: it must be recreated, which is the
//! producer's subscription lifecycle, not this job.

use super::context::Context;
use super::failure::job_error;
use super::payload::RenewSubscription;
use crate::error::JobError;
use crate::job::JobMeta;

pub async fn run(ctx: &Context, payload: RenewSubscription, _job: &JobMeta) -> Result<(), JobError> {
    let name = format!("subscription {}", payload.subscription_id);
    let renewed = ctx.rc.renew_subscription(&payload.subscription_id).await.map_err(|e| job_error(&name, &e.into()))?;
    tracing::info!(
        subscription_id = %renewed.id,
        expires = renewed.expiration_time.as_deref().unwrap_or("?"),
        status = renewed.status.as_deref().unwrap_or("?"),
        "subscription renewed"
    );
    Ok(())
}
