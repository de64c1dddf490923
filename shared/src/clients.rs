//! The two API clients as every process builds them from the configuration: each call takes
//! a permit of its budget from `limiter` (shared by all processes through Redis), and the
//! RingCentral token is shared through `redis`.

use secrecy::ExposeSecret;
use snapsync_queue::{Budget, Limiter, RedisConn};

use crate::config::Config;
use crate::ringcentral::{RcError, RcLimits, RcSettings, RingCentral};
use crate::snapshots::{SnapshotsClient, SnapshotsError};

/// The RingCentral client of `config`.
pub fn ringcentral(config: &Config, redis: RedisConn, limiter: Limiter) -> Result<RingCentral, RcError> {
    let settings = RcSettings {
        server_url: config.ringcentral.server_url.to_string(),
        client_id: config.ringcentral.client_id.clone(),
        client_secret: config.ringcentral.client_secret.clone(),
        jwt: config.ringcentral.jwt.clone(),
        auth: config.ringcentral.auth,
    };
    Ok(RingCentral::new(settings, redis, &config.queue.prefix)?.with_limits(RcLimits::new(
        limiter,
        &config.rate_limits.ringcentral,
        &config.ringcentral.client_id,
        &config.ringcentral.jwt,
    )))
}

/// The Snapshots client of `config`.
pub fn snapshots(config: &Config, redis: RedisConn, limiter: Limiter) -> Result<SnapshotsClient, SnapshotsError> {
    Ok(SnapshotsClient::new(
        config.snapshots.base_url.as_str(),
        config.snapshots.api_key.clone(),
        redis,
        config.queue.prefix.clone(),
    )?
    .with_limits(limiter, snapshots_budget(config)))
}

/// The Snapshots API key's budget (named by a one-way tag of the key, never the key).
pub fn snapshots_budget(config: &Config) -> Budget {
    let tag = crate::ringcentral::limits::credential_tag(&[config.snapshots.api_key.expose_secret()]);
    let limits = &config.rate_limits.snapshots;
    Budget::new(format!("snapshots:{tag}"), limits.requests, limits.window)
}

/// The test target's Snapshots client (`[test]`, see [`crate::mode`]): its own URL and key
/// (and the key's own budget), its write state under `key_prefix` (the test state prefix).
pub fn test_snapshots(
    config: &Config,
    redis: RedisConn,
    limiter: Limiter,
    key_prefix: String,
) -> Result<SnapshotsClient, SnapshotsError> {
    let tag = crate::ringcentral::limits::credential_tag(&[config.test.snapshots_api_key.expose_secret()]);
    let limits = &config.rate_limits.snapshots;
    let budget = Budget::new(format!("snapshots:{tag}"), limits.requests, limits.window);
    Ok(SnapshotsClient::new(
        config.test.snapshots_url.as_str(),
        config.test.snapshots_api_key.clone(),
        redis,
        key_prefix,
    )?
    .with_limits(limiter, budget))
}
