//! Live schedules: each resource's frequency and on/off switch, kept in Redis so an operator
//! can change them (CLI, admin API, dashboard) without a restart.
//!
//! - `{prefix}:schedules` (hash, field = resource): the rule in force, as JSON
//!   `{"enabled": true, "every_ms": 900000}` or `{"enabled": true, "cron": "*/15 * * * *"}`,
//!   with when and by what it was last changed. Seeded from the configuration file on first
//!   start; at each start a rule that came from the file follows the file, while one an
//!   operator set is kept (with a warning when the file says otherwise;
//!   [`ScheduleStore::reset`] puts the file's rule back).
//! - `{prefix}:schedules:runs` (hash, field = resource): the last tick enqueued and its job.
//!
//! Every producer replica re-reads its rules at least every [`REFRESH`], so a change takes
//! effect at the next tick everywhere. Ticks stay absolute instants (epoch-aligned
//! intervals, cron in UTC), so replicas that read the same rule compute the same tick and
//! the tick's unique key still makes one job of it.

use std::collections::HashMap;
use std::time::Duration;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use snapsync::config::{Resource, Schedule, ScheduleConfig, SchedulesConfig};
use snapsync_queue::RedisConn;

use crate::scheduler::Ticks;

/// How often a replica re-reads the rules (the longest a change waits to be seen).
pub const REFRESH: Duration = Duration::from_secs(1);
/// The shortest interval a live change may set (the configuration's own floor).
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// A resource's rule as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSchedule {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// When the rule was last written (Unix ms) and by what (`config`, `cli`, `api`, …).
    #[serde(default)]
    pub updated_ms: i64,
    #[serde(default)]
    pub updated_by: String,
}

impl LiveSchedule {
    fn from_config(c: &ScheduleConfig, now_ms: i64) -> LiveSchedule {
        let (every_ms, cron) = match &c.schedule {
            Schedule::Every(d) => (Some(d.as_millis() as u64), None),
            Schedule::Cron(e) => (None, Some(e.clone())),
        };
        LiveSchedule { enabled: c.enabled, every_ms, cron, updated_ms: now_ms, updated_by: "config".into() }
    }

    /// The rule as the scheduler reads it.
    pub fn schedule(&self) -> Schedule {
        match (&self.cron, self.every_ms) {
            (Some(expr), _) => Schedule::Cron(expr.clone()),
            (None, Some(ms)) => Schedule::Every(Duration::from_millis(ms.max(1))),
            (None, None) => Schedule::Every(Duration::from_secs(3600)),
        }
    }

    /// `every 15m` or `cron */15 * * * *`.
    pub fn describe(&self) -> String {
        match self.schedule() {
            Schedule::Every(d) => format!("every {}", humantime::format_duration(d)),
            Schedule::Cron(e) => format!("cron {e}"),
        }
    }
}

/// The last tick a replica enqueued for a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    pub tick_ms: i64,
    pub job: String,
}

/// One resource's schedule, for listings: the rule, the last run and the next tick.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    pub resource: &'static str,
    #[serde(flatten)]
    pub rule: LiveSchedule,
    pub last_run: Option<LastRun>,
    /// The next tick (Unix ms); `None` while paused.
    pub next_run_ms: Option<i64>,
}

/// A change an operator asked for that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleChangeError {
    #[error("unknown resource {0:?}: expected one of locations, accounts, contacts, calls, subscriptions")]
    UnknownResource(String),
    #[error("`every` must be at least 1s, got {0:?}")]
    TooFrequent(String),
    #[error("{0:?} is not a duration (e.g. 30s, 15m, 1h)")]
    BadDuration(String),
    #[error("cron {expr:?} does not parse: {reason}")]
    BadCron { expr: String, reason: String },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Reads and writes the live schedules of one deployment (`queue.prefix`).
#[derive(Clone)]
pub struct ScheduleStore {
    conn: RedisConn,
    rules: String,
    runs: String,
}

pub fn resource(name: &str) -> Result<Resource, ScheduleChangeError> {
    Resource::ALL
        .into_iter()
        .find(|r| r.as_str() == name.trim())
        .ok_or_else(|| ScheduleChangeError::UnknownResource(name.to_owned()))
}

impl ScheduleStore {
    pub fn new(conn: RedisConn, prefix: &str) -> ScheduleStore {
        ScheduleStore { conn, rules: format!("{prefix}:schedules"), runs: format!("{prefix}:schedules:runs") }
    }

    /// Brings the file's rules in: a resource with no rule in Redis gets the file's; one whose
    /// rule came from the file (`updated_by = "config"`) follows the file when it changed; one
    /// an operator set (CLI, API, dashboard) keeps it, with a warning naming the difference
    /// (`snapsync schedule reset` puts the file's back).
    pub async fn seed(&self, config: &SchedulesConfig, now_ms: i64) -> Result<(), redis::RedisError> {
        for r in Resource::ALL {
            let file = LiveSchedule::from_config(config.get(r), now_ms);
            let text = serde_json::to_string(&file).unwrap_or_default();
            match self.get(r).await? {
                None => {
                    let _: bool = self.conn.clone().hset_nx(&self.rules, r.as_str(), text).await?;
                }
                Some(live) if live.updated_by == "config" => {
                    if (live.enabled, live.schedule()) != (file.enabled, file.schedule()) {
                        tracing::info!(resource = r.as_str(), was = %live.describe(), now = %file.describe(), "schedule follows the changed configuration file");
                        self.put(r, &file).await?;
                    }
                }
                Some(live) => {
                    if (live.enabled, live.schedule()) != (file.enabled, file.schedule()) {
                        tracing::warn!(
                            resource = r.as_str(),
                            live = %live.describe(),
                            live_enabled = live.enabled,
                            by = %live.updated_by,
                            file = %file.describe(),
                            "schedule kept as an operator set it, not as the configuration file says (`snapsync schedule reset {}` restores the file's)",
                            r.as_str()
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// The rule in force (`None`: never seeded, or unreadable).
    pub async fn get(&self, r: Resource) -> Result<Option<LiveSchedule>, redis::RedisError> {
        let raw: Option<String> = self.conn.clone().hget(&self.rules, r.as_str()).await?;
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    async fn put(&self, r: Resource, rule: &LiveSchedule) -> Result<(), redis::RedisError> {
        let text = serde_json::to_string(rule).unwrap_or_default();
        self.conn.clone().hset::<_, _, _, ()>(&self.rules, r.as_str(), text).await
    }

    /// Sets an interval (`"15m"`) or, with `cron`, an expression; keeps the on/off switch.
    pub async fn set(
        &self,
        r: Resource,
        every: Option<&str>,
        cron: Option<&str>,
        by: &str,
        now_ms: i64,
    ) -> Result<LiveSchedule, ScheduleChangeError> {
        let (every_ms, cron) = match (every, cron) {
            (_, Some(expr)) => {
                let expr = expr.trim().to_owned();
                Ticks::new(r, &Schedule::Cron(expr.clone()))
                    .map_err(|e| ScheduleChangeError::BadCron { expr: expr.clone(), reason: e.to_string() })?;
                (None, Some(expr))
            }
            (Some(text), None) => {
                let d = humantime::parse_duration(text.trim())
                    .map_err(|_| ScheduleChangeError::BadDuration(text.to_owned()))?;
                if d < MIN_EVERY {
                    return Err(ScheduleChangeError::TooFrequent(text.to_owned()));
                }
                (Some(d.as_millis() as u64), None)
            }
            (None, None) => return Err(ScheduleChangeError::BadDuration(String::new())),
        };
        let enabled = self.get(r).await?.is_none_or(|s| s.enabled);
        let rule = LiveSchedule { enabled, every_ms, cron, updated_ms: now_ms, updated_by: by.to_owned() };
        self.put(r, &rule).await?;
        Ok(rule)
    }

    /// Pauses (`false`) or resumes (`true`) a resource's ticks.
    pub async fn set_enabled(
        &self,
        r: Resource,
        enabled: bool,
        config: &SchedulesConfig,
        by: &str,
        now_ms: i64,
    ) -> Result<LiveSchedule, redis::RedisError> {
        let mut rule = self.get(r).await?.unwrap_or_else(|| LiveSchedule::from_config(config.get(r), now_ms));
        rule.enabled = enabled;
        rule.updated_ms = now_ms;
        rule.updated_by = by.to_owned();
        self.put(r, &rule).await?;
        Ok(rule)
    }

    /// Puts the configuration file's rule back.
    pub async fn reset(
        &self,
        r: Resource,
        config: &SchedulesConfig,
        now_ms: i64,
    ) -> Result<LiveSchedule, redis::RedisError> {
        let rule = LiveSchedule::from_config(config.get(r), now_ms);
        self.put(r, &rule).await?;
        Ok(rule)
    }

    pub async fn record_run(&self, r: Resource, run: &LastRun) -> Result<(), redis::RedisError> {
        let text = serde_json::to_string(run).unwrap_or_default();
        self.conn.clone().hset::<_, _, _, ()>(&self.runs, r.as_str(), text).await
    }

    pub async fn last_run(&self, r: Resource) -> Result<Option<LastRun>, redis::RedisError> {
        let raw: Option<String> = self.conn.clone().hget(&self.runs, r.as_str()).await?;
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Every resource's rule (the file's where Redis has none), last run and next tick: two
    /// reads, whatever the number of resources.
    pub async fn list(&self, config: &SchedulesConfig, now_ms: i64) -> Result<Vec<ScheduleView>, redis::RedisError> {
        let (rules, runs): (HashMap<String, String>, HashMap<String, String>) =
            redis::pipe().hgetall(&self.rules).hgetall(&self.runs).query_async(&mut self.conn.clone()).await?;
        let mut out = Vec::new();
        for r in Resource::ALL {
            let rule = rules
                .get(r.as_str())
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_else(|| LiveSchedule::from_config(config.get(r), now_ms));
            let next_run_ms = if rule.enabled {
                Ticks::new(r, &rule.schedule()).ok().and_then(|t| t.next_after(now_ms))
            } else {
                None
            };
            let last_run = runs.get(r.as_str()).and_then(|s| serde_json::from_str(s).ok());
            out.push(ScheduleView { resource: r.as_str(), last_run, next_run_ms, rule });
        }
        Ok(out)
    }
}
