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
//! # Layout
//! - `layers`: the file parsed into a tree, environment overrides written over it.
//! - `reader`: typing the tree key by key, collecting problems, finding unknown keys.
//! - `sections`: the section types and their defaults.
//! - `build`: the tree → [`Config`], section by section.
//! - `validate`: checks across values (ranges, URL schemes, cap ≥ base, ...); the queue
//!   engine's ranges come from `QueueConfig::validate`.
//! - `redis_url`: which `redis.url` values `RedisConn` accepts (one server or a cluster), and
//!   their redacted form.
//! - `show`: the effective config as TOML with secrets redacted; `Debug` impls.
//! - `error`: [`ConfigError`] and [`Problem`].

mod build;
mod error;
mod layers;
mod reader;
mod redis_url;
mod sections;
mod show;
mod validate;

use std::path::Path;

pub use error::{ConfigError, Problem};
pub use layers::ENV_PREFIX;
pub use reader::parse_duration;
pub use sections::*;

use snapsync_queue::QueueConfig;

/// The whole configuration; see `config/snapsync.example.toml` for every key.
#[derive(Clone, Default)]
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
            None => Config::from_toml_named("", "(no config file)", env),
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
        Config::from_toml_named(text, "config file", env)
    }

    fn from_toml_named(
        text: &str,
        file_name: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut reader = reader::Reader::new(layers::merge(text, file_name, env));
        let config = build::build(&mut reader);
        reader.report_unknown();
        // Cross-value checks, minus keys already reported: a bad value was replaced by its
        // default, and a second message about that default would mislead.
        let reported: Vec<Option<String>> = reader.problems.iter().map(|p| p.key.clone()).collect();
        let mut problems = std::mem::take(&mut reader.problems);
        if let Err(ConfigError::Invalid { problems: more }) = config.validate() {
            for mut problem in more {
                if !reported.contains(&problem.key) {
                    problem.origin = problem.key.as_deref().and_then(|k| reader.origin(k));
                    problems.push(problem);
                }
            }
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    /// Every cross-value problem at once (ranges, URL schemes, `retry.cap` ≥ `retry.base`,
    /// and everything [`QueueConfig::validate`] checks, each named by its key).
    /// [`Config::load`] already calls this; call it after changing a `Config` in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = validate::problems(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { problems })
        }
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
