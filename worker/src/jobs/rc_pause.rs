//! A cluster-wide pause of one RingCentral usage group after a 429, until its `Retry-After`
//! passes ("within quota": a wait for the rate limit spends no attempt). RingCentral restarts the penalty on every request that
//! arrives during it, so jobs that each retried on their own after their 429 could keep the
//! group locked for good; instead the first 429 sets `{prefix}:rc:paused:<group>` (with the
//! delay as its TTL) and every job checks it before a call in that group, waiting out the
//! rest of the pause without touching RingCentral.
//!
//! This is the minimal piece the handlers need; a full limiter (permits per group shared
//! through Redis, following the `X-Rate-Limit-*` headers) is the worker's rate-limit work.

use std::time::Duration;

use redis::AsyncCommands;
use snapsync::ringcentral::RcError;

use super::context::Context;
use super::failure::HandlerError;

/// The group address-book sync and the call log use.
pub const HEAVY: &str = "heavy";

fn key(ctx: &Context, group: &str) -> String {
    ctx.key(&format!("rc:paused:{}", group.to_ascii_lowercase()))
}

/// `Err` (retry after what is left of the pause) while `group` is paused.
pub async fn check(ctx: &Context, group: &str) -> Result<(), HandlerError> {
    let mut conn = ctx.redis.clone();
    let left_ms: i64 = conn.pttl(key(ctx, group)).await?;
    if left_ms > 0 {
        return Err(HandlerError::Paused { group: group.to_owned(), left: Duration::from_millis(left_ms as u64) });
    }
    Ok(())
}

/// After a RingCentral error: a 429 pauses its group (named by the answer's headers, else
/// `fallback_group`) for its `Retry-After`. Returns the error for the caller to report.
pub async fn note(ctx: &Context, error: RcError, fallback_group: &str) -> HandlerError {
    if let (Some(429), Some(after)) = (error.status(), error.retry_after()) {
        let group = error.rate_info().map_or(fallback_group, |r| r.group.as_str()).to_owned();
        let ms = after.as_millis().max(1) as u64;
        let mut conn = ctx.redis.clone();
        // NX: the first 429 of a burst sets the pause; later ones must not stretch it.
        let set: redis::RedisResult<Option<String>> =
            redis::cmd("SET").arg(key(ctx, &group)).arg(1).arg("NX").arg("PX").arg(ms).query_async(&mut conn).await;
        if let Err(e) = set {
            tracing::warn!(error = %e, group = %group, "could not record the ringcentral pause");
        } else {
            tracing::warn!(group = %group, pause = ?after, "ringcentral rate limit hit; pausing the group");
        }
    }
    HandlerError::Rc(error)
}
