//! snapsync's typed configuration: one TOML file, then `SNAPSYNC__SECTION__KEY` environment
//! overrides (nested keys too: `SNAPSYNC__SCHEDULES__CONTACTS__EVERY`), read into one
//! [`Config`]. Loading reports every problem at once (unknown keys, wrong types, bad
//! values, each with its key and the expected form) before anything connects.
//!
//! Defaults point at the local sandbox (`snapsync-sandbox`) and a private Redis on port
//! 16379, never the machine's 6379, so a fresh checkout runs without credentials and a test
//! that forgets to configure Redis cannot touch a shared one.
//!
//! Secrets are [`SecretString`]s; `Debug` and [`Config::redacted_toml`] print them as
//! `[redacted]` (for `redis.url` only the password part, every node's for a cluster).
//!
//! Each key is declared once, as a field of a serde-derived section struct in `sections`
//! with its doc, its default (the section's `Default`) and its form and check (the `form`
//! function its serde attribute names). Reading, checking and printing all come from those
//! fields.
//!
//! # Layout
//! - `layers`: the file parsed into a tree, environment overrides written over it.
//! - `sections`: the section types: every key, its default, its form.
//! - `form`: how each kind of value is read, checked and written, with our messages.
//! - `extract`: the tree → [`Config`] through serde, collecting every problem (serde stops
//!   at the first, so extraction goes round by round) and finding unknown keys.
//! - `validate`: checks across values (secrets per login flow, cap ≥ base, binds differ,
//!   ...); the queue engine's ranges come from `QueueConfig::validate`.
//! - `redis_url`: which `redis.url` values `RedisConn` accepts (one server or a cluster), and
//!   their redacted form.
//! - `show`: the effective config as TOML with secrets redacted; `Debug` impls.
//! - `error`: [`ConfigError`] and [`Problem`].

mod error;
mod extract;
mod form;
mod layers;
mod redis_url;
mod sections;
mod show;
mod validate;

use std::path::Path;

pub use error::{ConfigError, Problem};
pub use form::parse_duration;
pub use layers::ENV_PREFIX;
pub use sections::*;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use snapsync_queue::QueueConfig;

/// The whole configuration; see `config/snapsync.example.toml` for every key. Serialising
/// it writes every secret as `[redacted]` (that is [`Config::redacted_toml`]).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub redis: RedisConfig,
    pub http: HttpConfig,
    pub admin: AdminConfig,
    pub ringcentral: RingCentralConfig,
    pub snapshots: SnapshotsConfig,
    pub schedules: SchedulesConfig,
    pub rate_limits: RateLimitsConfig,
    pub retry: RetryConfig,
    pub worker: WorkerConfig,
    pub queue: QueueSection,
    pub mapping: MappingConfig,
    pub routing: RoutingConfig,
    pub sync: SyncConfig,
    pub test: TestConfig,
}

impl Config {
    /// Reads `path` (when given; without it, only defaults and environment), applies the
    /// process's `SNAPSYNC__*` variables, and validates. Nothing connects.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env = std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            // A non-UTF-8 value is kept (lossily) so validation names the variable.
            k.starts_with(ENV_PREFIX).then(|| (k, v.to_string_lossy().into_owned()))
        });
        match path {
            None => Config::from_layers("", None, env),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                Config::from_toml_named(&text, &path.display().to_string(), env)
            }
        }
    }

    /// Like [`Config::load`] from TOML text and an explicit environment (tests need not touch
    /// the process's). Only `SNAPSYNC__*` entries of `env` are used.
    pub fn from_toml_str(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        Config::from_layers(text, None, env)
    }

    fn from_toml_named(
        text: &str,
        file_name: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::from_layers(text, Some(file_name), env)
    }

    fn from_layers(
        text: &str,
        file: Option<&str>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let layers = layers::merge(text, file.unwrap_or("config file"), env);
        let mut problems = layers.problems.clone();
        let config: Config = extract::extract(layers.root.clone(), &mut problems);
        // Cross-value checks, minus keys already reported: a bad value was replaced by its
        // default, and a second message about that default would mislead.
        let reported: Vec<Option<String>> = problems.iter().map(|p| p.key.clone()).collect();
        problems.extend(validate::across(&config).into_iter().filter(|p| !reported.contains(&p.key)));
        // Where each bad value came from: the variable that set it, else the file that did.
        for problem in &mut problems {
            let Some(key) = problem.key.as_deref() else { continue };
            if problem.origin.is_none() {
                problem.origin =
                    layers.origin(key).or_else(|| file.filter(|_| holds(&layers.file, key)).map(str::to_owned));
            }
        }
        finish(config, problems)
    }

    /// Every problem at once: each key's own check (its form, as when loading) and the
    /// checks across values (URL schemes per login flow, `retry.cap` ≥ `retry.base`, and
    /// everything [`QueueConfig::validate`] checks), each named by its key.
    /// [`Config::load`] already calls this; call it after changing a `Config` in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // The keys' own checks run on what the config writes out, read back: one check per
        // key, for loaded and built configs alike. Secrets come back as `[redacted]`; their
        // checks are `validate::across`, on the typed values.
        let mut problems = Vec::new();
        match toml::Table::try_from(self) {
            Ok(mut tree) => {
                // The one secret with a form to check: the real URL (it stays in memory;
                // messages show it redacted).
                if let Some(redis) = tree.get_mut("redis").and_then(toml::Value::as_table_mut) {
                    redis.insert("url".into(), self.redis.url.expose_secret().into());
                }
                let _: Config = extract::extract(tree, &mut problems);
            }
            Err(err) => problems.push(Problem { key: None, origin: None, message: err.to_string() }),
        }
        let reported: Vec<Option<String>> = problems.iter().map(|p| p.key.clone()).collect();
        problems.extend(validate::across(self).into_iter().filter(|p| !reported.contains(&p.key)));
        finish(self.clone(), problems).map(|_| ())
    }

    /// The queue engine's settings: `queue.*`, `worker.lease` and `retry.*`.
    pub fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            prefix: self.queue.prefix.clone(),
            queue: self.queue.name.clone(),
            lease: self.worker.lease,
            default_max_attempts: self.retry.max_attempts,
            max_attempts: self
                .retry
                .max_attempts_per_kind
                .iter()
                .map(|(kind, n)| (kind.as_str().to_owned(), *n))
                .collect(),
            backoff_base: self.retry.base,
            backoff_cap: self.retry.cap,
            max_snoozed: self.retry.max_snoozed,
            unique_ttl: self.queue.unique_ttl,
            done_keep_age: self.queue.done_keep_age,
            done_keep_count: self.queue.done_keep_count,
            dead_keep_age: self.queue.dead_keep_age,
            dead_cap: self.queue.dead_cap,
            ..QueueConfig::default()
        }
    }
}

/// Sorted by key (whole-file problems first), so messages come in a stable order whatever
/// found them.
fn finish(config: Config, mut problems: Vec<Problem>) -> Result<Config, ConfigError> {
    if problems.is_empty() {
        return Ok(config);
    }
    problems.sort_by(|a, b| a.key.cmp(&b.key));
    Err(ConfigError::Invalid { problems })
}

/// Whether the dotted `key` (a value or a section) is written in `tree`.
fn holds(tree: &toml::Table, key: &str) -> bool {
    let mut table = tree;
    let mut segments = key.split('.').peekable();
    while let Some(segment) = segments.next() {
        match (table.get(segment), segments.peek()) {
            (None, _) => return false,
            (Some(_), None) => return true,
            (Some(toml::Value::Table(inner)), Some(_)) => table = inner,
            // A value where the key goes deeper: the file wrote this key's section as a value.
            (Some(_), Some(_)) => return true,
        }
    }
    false
}
