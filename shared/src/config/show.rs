//! Printing a [`Config`]: the effective configuration as TOML (what `snapsync config show`
//! prints) and `Debug`, both with every secret as `[redacted]` and the Redis URL's
//! password, only, redacted.

use std::fmt;

use secrecy::ExposeSecret;

use super::redis_url;
use super::sections::*;
use super::Config;

impl RedisConfig {
    /// The URL with every password replaced by `[redacted]` (each node's, for a cluster), for
    /// logs and printouts.
    pub fn redacted_url(&self) -> String {
        redis_url::redact(self.url.expose_secret())
    }
}

impl Config {
    /// The effective configuration as TOML, secrets redacted; valid input for `--config`
    /// once the secrets are filled back in. It is the config's serialisation: every key, in
    /// the sections' order, each written by its field's `form` function.
    pub fn redacted_toml(&self) -> String {
        // Serialising strings, integers, booleans and tables cannot fail; an empty string
        // would only hide the config, never leak a secret.
        toml::to_string(self).unwrap_or_default()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("redis", &self.redis)
            .field("http", &self.http)
            .field("admin", &self.admin)
            .field("ringcentral", &self.ringcentral)
            .field("snapshots", &self.snapshots)
            .field("schedules", &self.schedules)
            .field("rate_limits", &self.rate_limits)
            .field("retry", &self.retry)
            .field("worker", &self.worker)
            .field("queue", &self.queue)
            .field("mapping", &self.mapping)
            .field("routing", &self.routing)
            .field("sync", &self.sync)
            .field("test", &self.test)
            .finish()
    }
}

/// Shown in place of a secret by `Debug`.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig").field("url", &self.redacted_url()).finish()
    }
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig").field("bind", &self.bind).field("token", &Redacted).finish()
    }
}

impl fmt::Debug for RingCentralConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingCentralConfig")
            .field("server_url", &self.server_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &Redacted)
            .field("auth", &self.auth.as_str())
            .field("jwt", &Redacted)
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("webhook_address", &self.webhook_address.as_str())
            .field("verification_token", &Redacted)
            .finish()
    }
}

impl fmt::Debug for TestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestConfig")
            .field("snapshots_url", &self.snapshots_url.as_str())
            .field("snapshots_api_key", &Redacted)
            .finish()
    }
}

impl fmt::Debug for SnapshotsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotsConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_key", &Redacted)
            .finish()
    }
}
