//! Printing a [`Config`]: the effective configuration as TOML (what `snapsync config show`
//! prints) and `Debug`, both with every secret as `[redacted]` and the Redis URL's
//! password, only, redacted.

use std::fmt;
use std::time::Duration;

use toml::{Table, Value};

use super::redis_url;
use super::sections::*;
use super::Config;
use secrecy::ExposeSecret;

const REDACTED: &str = "[redacted]";

fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

fn duration(d: Duration) -> Value {
    text(humantime::format_duration(d).to_string())
}

fn int(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn table<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Table(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

impl RedisConfig {
    /// The URL with every password replaced by `[redacted]` (each node's, for a cluster), for
    /// logs and printouts.
    pub fn redacted_url(&self) -> String {
        redis_url::redact(self.url.expose_secret())
    }
}

impl Config {
    /// The effective configuration as TOML, secrets redacted; valid input for `--config`
    /// once the secrets are filled back in.
    pub fn redacted_toml(&self) -> String {
        let mut root = Table::new();
        root.insert("redis".into(), table([("url", text(self.redis.redacted_url()))]));
        root.insert("http".into(), table([("bind", text(self.http.bind.to_string()))]));
        root.insert("admin".into(), table([("bind", text(self.admin.bind.to_string())), ("token", text(REDACTED))]));
        let rc = &self.ringcentral;
        root.insert(
            "ringcentral".into(),
            table([
                ("server_url", text(rc.server_url.as_str())),
                ("client_id", text(rc.client_id.as_str())),
                ("client_secret", text(REDACTED)),
                ("auth", text(rc.auth.as_str())),
                ("jwt", text(REDACTED)),
                ("redirect_uri", text(rc.redirect_uri.as_str())),
                ("webhook_address", text(rc.webhook_address.as_str())),
                ("verification_token", text(REDACTED)),
            ]),
        );
        root.insert(
            "snapshots".into(),
            table([("base_url", text(self.snapshots.base_url.as_str())), ("api_key", text(REDACTED))]),
        );
        let mut schedules = Table::new();
        for resource in Resource::ALL {
            let entry = self.schedules.get(resource);
            let when = match &entry.schedule {
                Schedule::Every(every) => ("every", duration(*every)),
                Schedule::Cron(cron) => ("cron", text(cron.as_str())),
            };
            schedules.insert(resource.as_str().into(), table([("enabled", Value::Boolean(entry.enabled)), when]));
        }
        root.insert("schedules".into(), Value::Table(schedules));
        let (rl, sn) = (&self.rate_limits.ringcentral, &self.rate_limits.snapshots);
        root.insert(
            "rate_limits".into(),
            table([
                (
                    "ringcentral",
                    table([
                        ("light", int(rl.light.into())),
                        ("medium", int(rl.medium.into())),
                        ("heavy", int(rl.heavy.into())),
                        ("auth", int(rl.auth.into())),
                        ("window", duration(rl.window)),
                    ]),
                ),
                ("snapshots", table([("requests", int(sn.requests.into())), ("window", duration(sn.window))])),
                ("max_wait", duration(self.rate_limits.max_wait)),
                ("urgent_max_wait", duration(self.rate_limits.urgent_max_wait)),
                ("urgent_reserve_percent", int(self.rate_limits.urgent_reserve_percent.into())),
            ]),
        );
        let per_kind: Table = crate::jobs::JobKind::ALL
            .iter()
            .filter_map(|k| self.retry.max_attempts_per_kind.get(k).map(|n| (k.as_str().to_owned(), int((*n).into()))))
            .collect();
        root.insert(
            "retry".into(),
            table([
                ("base", duration(self.retry.base)),
                ("cap", duration(self.retry.cap)),
                ("max_attempts", int(self.retry.max_attempts.into())),
                ("max_snoozed", duration(self.retry.max_snoozed)),
                ("max_attempts_per_kind", Value::Table(per_kind)),
            ]),
        );
        let w = &self.worker;
        root.insert(
            "worker".into(),
            table([
                ("concurrency", int(w.concurrency as u64)),
                ("prefetch", int(w.prefetch as u64)),
                ("threads", int(w.threads as u64)),
                ("lease", duration(w.lease)),
                ("shutdown_deadline", duration(w.shutdown_deadline)),
                ("metrics_bind", text(w.metrics_bind.map(|a| a.to_string()).unwrap_or_default())),
            ]),
        );
        let q = &self.queue;
        root.insert(
            "queue".into(),
            table([
                ("prefix", text(q.prefix.as_str())),
                ("name", text(q.name.as_str())),
                ("done_keep_age", duration(q.done_keep_age)),
                ("done_keep_count", int(q.done_keep_count)),
                ("dead_keep_age", duration(q.dead_keep_age)),
                ("dead_cap", int(q.dead_cap)),
                ("unique_ttl", duration(q.unique_ttl)),
            ]),
        );
        root.insert("mapping".into(), table([("path", text(self.mapping.path.to_string_lossy()))]));
        root.insert("routing".into(), table([("path", text(self.routing.path.to_string_lossy()))]));
        root.insert(
            "sync".into(),
            table([
                ("deleted_contact_action", text(self.sync.deleted_contact_action.as_str())),
                ("default_country", text(self.sync.default_country.as_str())),
                ("mode", text(self.sync.mode.as_str())),
            ]),
        );
        root.insert(
            "test".into(),
            table([("snapshots_url", text(self.test.snapshots_url.as_str())), ("snapshots_api_key", text(REDACTED))]),
        );
        // Serialising a table of strings, integers and booleans cannot fail; an empty
        // string would only hide the config, never leak a secret.
        toml::to_string(&root).unwrap_or_default()
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
