//! The scheduler: each enabled resource's schedule enqueues its sync job once per tick. The
//! rules are live (`crate::schedules`): seeded from `[schedules.<resource>]`, changed by an
//! operator in Redis, re-read by every replica at least once a second.
//!
//! Ticks are absolute instants (an `every` interval counts from the Unix epoch, a `cron`
//! expression is read in UTC), so every producer replica computes the same ticks, and each
//! tick's job carries the unique key `schedule:<resource>:<tick-start-epoch-seconds>`: the
//! queue's dedup makes the first replica's enqueue the only one.
//!
//! After downtime only the latest due tick runs, once: at start (and after any Redis outage)
//! the scheduler enqueues the latest tick at or before now, never the ticks in between. A
//! tick already enqueued (by a replica, or before a restart) is a dedup no-op while its
//! unique key lives (`queue.unique_ttl`, 24 h by default; a longer interval can re-run its
//! latest tick on restart).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use snapsync::config::{Resource, Schedule, SchedulesConfig};
use snapsync::jobs::{
    Payload, RenewSubscription, SyncAccount, SyncCalls, SyncContacts, SyncLocations, SyncMessages, Trigger,
};
use snapsync_queue::{Enqueued, NewJob, Queue};

use crate::schedules::{LastRun, ScheduleStore, REFRESH};
use tokio_util::sync::CancellationToken;

/// The scheduler's clock (tests move it to simulate downtime).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Between attempts while Redis is unreachable.
const RETRY: Duration = Duration::from_secs(1);

/// Why a schedule has no ticks.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedules.{resource}: cron {expr:?} does not parse: {reason}")]
    Cron { resource: &'static str, expr: String, reason: String },
}

/// One resource's tick arithmetic.
#[derive(Debug, Clone)]
pub struct Ticks {
    resource: Resource,
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    Every(i64),
    Cron(Box<croner::Cron>),
}

impl Ticks {
    pub fn new(resource: Resource, schedule: &Schedule) -> Result<Ticks, ScheduleError> {
        let rule = match schedule {
            // Config validation keeps `every` ≥ 1 s; max(1) keeps the division safe anyway.
            Schedule::Every(d) => Rule::Every((d.as_millis() as i64).max(1)),
            Schedule::Cron(expr) => Rule::Cron(Box::new(expr.parse::<croner::Cron>().map_err(|e| {
                ScheduleError::Cron { resource: resource.as_str(), expr: expr.clone(), reason: e.to_string() }
            })?)),
        };
        Ok(Ticks { resource, rule })
    }

    /// The latest tick at or before `now_ms` (Unix ms), if any.
    pub fn latest_due(&self, now_ms: i64) -> Option<i64> {
        match &self.rule {
            Rule::Every(every) => Some(now_ms.div_euclid(*every) * every),
            Rule::Cron(cron) => {
                let now = DateTime::<Utc>::from_timestamp_millis(now_ms)?;
                cron.find_previous_occurrence(&now, true).ok().map(|t| t.timestamp_millis())
            }
        }
    }

    /// The first tick strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match &self.rule {
            Rule::Every(every) => Some((after_ms.div_euclid(*every) + 1) * every),
            Rule::Cron(cron) => {
                let at = DateTime::<Utc>::from_timestamp_millis(after_ms)?;
                cron.find_next_occurrence(&at, false).ok().map(|t| t.timestamp_millis())
            }
        }
    }

    /// The job for the tick starting at `tick_ms`, with its tick-keyed unique key.
    pub fn job(&self, tick_ms: i64) -> NewJob {
        sync_job(self.resource, Trigger::Schedule { tick_ms }).unique(tick_key(self.resource, tick_ms))
    }
}

/// One sync of `resource` now, outside its schedule (`schedule run`): no unique key, so
/// asking twice runs twice.
pub fn manual_job(resource: Resource) -> NewJob {
    sync_job(resource, Trigger::Manual)
}

fn sync_job(resource: Resource, trigger: Trigger) -> NewJob {
    let (kind, payload) = match resource {
        Resource::Locations => (SyncLocations::KIND, SyncLocations { v: 1, trigger }.encode()),
        Resource::Accounts => (SyncAccount::KIND, SyncAccount { v: 1, trigger, hints: vec![] }.encode()),
        Resource::Contacts => {
            (SyncContacts::KIND, SyncContacts { v: 1, trigger, extension_id: None, extension_site: None }.encode())
        }
        Resource::Calls => (SyncCalls::KIND, SyncCalls { v: 1, trigger }.encode()),
        Resource::Messages => (SyncMessages::KIND, SyncMessages { v: 1, trigger }.encode()),
        Resource::Subscriptions => (
            RenewSubscription::KIND,
            RenewSubscription { v: 1, trigger, subscription_id: None, expires_in: None }.encode(),
        ),
    };
    NewJob::new(kind.as_str(), payload)
}

/// `schedule:<resource>:<tick-start-epoch-seconds>`.
pub fn tick_key(resource: Resource, tick_ms: i64) -> String {
    format!("schedule:{}:{}", resource.as_str(), tick_ms.div_euclid(1000))
}

/// Every enabled schedule's [`Ticks`]; a bad cron expression is reported by resource.
pub fn enabled(schedules: &SchedulesConfig) -> Result<Vec<Ticks>, ScheduleError> {
    Resource::ALL
        .into_iter()
        .filter(|r| schedules.get(*r).enabled)
        .map(|r| Ticks::new(r, &schedules.get(r).schedule))
        .collect()
}

pub fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// `clock`'s now, in Unix ms.
pub fn now_ms(clock: &Clock) -> i64 {
    millis(clock())
}

/// The system clock's now, in Unix ms.
pub fn unix_ms() -> i64 {
    millis(SystemTime::now())
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Runs every resource's schedule until `stop` is cancelled, following the live rules in
/// `store` (seeded from `config` when Redis has none).
pub async fn run(queue: Queue, store: ScheduleStore, config: SchedulesConfig, clock: Clock, stop: CancellationToken) {
    let tasks: Vec<_> = Resource::ALL
        .into_iter()
        .map(|r| {
            tokio::spawn(run_one(queue.clone(), store.clone(), r, config.get(r).clone(), clock.clone(), stop.clone()))
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

async fn run_one(
    queue: Queue,
    store: ScheduleStore,
    resource: Resource,
    file_rule: snapsync::config::ScheduleConfig,
    clock: Clock,
    stop: CancellationToken,
) {
    let name = resource.as_str();
    // The last tick known to be in Redis (enqueued by us or by a replica).
    let mut done: Option<i64> = None;
    // The rule last read (the file's until Redis answers), and its ticks.
    let mut rule = (file_rule.enabled, file_rule.schedule.clone());
    let mut ticks = Ticks::new(resource, &rule.1).ok();
    loop {
        match store.get(resource).await {
            Ok(Some(live)) => {
                let read = (live.enabled, live.schedule());
                if read != rule {
                    match Ticks::new(resource, &read.1) {
                        Ok(t) => {
                            tracing::info!(resource = name, enabled = read.0, rule = %live.describe(), by = %live.updated_by, "schedule changed");
                            ticks = Some(t);
                            rule = read;
                        }
                        Err(e) => {
                            tracing::warn!(resource = name, error = %e, "live schedule unusable; keeping the previous one")
                        }
                    }
                }
            }
            Ok(None) => {}
            // Redis away: keep the rule last read; the enqueue below reports the outage.
            Err(e) => tracing::debug!(resource = name, error = %e, "cannot read the live schedule"),
        }
        let now = millis(clock());
        let mut wait = None;
        let active = ticks.as_ref().filter(|_| rule.0);
        if let Some(t) = active {
            let due = t.latest_due(now).filter(|d| done.is_none_or(|last| *d > last));
            if let Some(tick) = due {
                match queue.enqueue(t.job(tick)).await {
                    Ok(outcome) => {
                        let first = matches!(outcome, Enqueued::Created(_));
                        tracing::info!(resource = name, tick, job = %outcome.id().0, first, "schedule tick");
                        done = Some(tick);
                        let run = LastRun { tick_ms: tick, job: outcome.id().0.clone() };
                        if let Err(e) = store.record_run(resource, &run).await {
                            tracing::debug!(resource = name, error = %e, "cannot record the schedule's last run");
                        }
                    }
                    Err(e) => {
                        // Retry this (or, if time moved on, the then-latest) tick: one run, no burst.
                        tracing::warn!(resource = name, tick, error = %e, "cannot enqueue schedule tick; retrying");
                        wait = Some(RETRY);
                    }
                }
            }
        }
        let wait = wait.unwrap_or_else(|| {
            // Strictly after now: a tick at `now` itself was just handled (or is retried).
            let next = active.and_then(|t| t.next_after(done.unwrap_or(now).max(now))).unwrap_or(i64::MAX);
            let until_next = Duration::from_millis(next.saturating_sub(millis(clock())).clamp(0, 86_400_000) as u64);
            // Re-read the rule at least this often: a change takes effect at its next tick.
            until_next.min(REFRESH)
        });
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ticks_are_epoch_aligned() {
        let t = Ticks::new(Resource::Contacts, &Schedule::Every(Duration::from_secs(900))).unwrap();
        assert_eq!(t.latest_due(1_000_000_000), Some(999_900_000));
        assert_eq!(t.next_after(999_900_000), Some(1_000_800_000));
        let job = t.job(999_900_000);
        assert_eq!(job.unique_key.as_deref(), Some("schedule:contacts:999900"));
        assert_eq!(job.kind, "sync_contacts");
    }

    #[test]
    fn cron_ticks_in_utc() {
        let t = Ticks::new(Resource::Locations, &Schedule::Cron("*/15 * * * *".into())).unwrap();
        // 2026-01-01T00:20:00Z → latest 00:15, next 00:30.
        let now = 1_767_226_800_000;
        assert_eq!(t.latest_due(now), Some(now - 5 * 60_000));
        assert_eq!(t.next_after(now - 5 * 60_000), Some(now + 10 * 60_000));
    }
}
