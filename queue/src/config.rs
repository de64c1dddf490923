//! Queue settings: names, lease, attempts, backoff, snooze bound, dedup and retention, each
//! checked against a range at startup (every problem at once, naming its key).

use std::collections::HashMap;
use std::time::Duration;

use crate::backoff::horizon;

/// Largest number of jobs one worker may hold prefetched; also the cap on `promote_chunk`.
/// Reserve calls take at most [`crate::storage::RESERVE_MAX`] jobs each, so any prefetch up to
/// this is filled by bounded script calls.
pub const MAX_PREFETCH: usize = 10_000;

/// How one queue behaves. Defaults suit production; tests shorten the lease and backoff.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Isolates deployments sharing one Redis (`{prefix:queue}` is every key's hash tag).
    pub prefix: String,
    pub queue: String,
    /// How long a reserved job stays leased without a heartbeat (workers renew every lease/3);
    /// an expired lease returns the job to ready. Workers recover expired leases every
    /// lease/2, so a crashed worker's job runs again within 1.5 × lease (22.5 s by default).
    pub lease: Duration,
    pub default_max_attempts: u32,
    /// Max attempts per job kind; kinds not listed use `default_max_attempts`.
    pub max_attempts: HashMap<String, u32>,
    /// Retry backoff: `min(cap, base * 2^(attempt-1))`, half of it fixed and half random.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A job's snoozes (waits that are not failures) may add up to this much; past it a
    /// snooze counts as a failed attempt, so a job cannot wait forever.
    pub max_snoozed: Duration,
    /// How long an enqueue's unique key blocks duplicates.
    pub unique_ttl: Duration,
    /// Done jobs are kept this long and at most this many.
    pub done_keep_age: Duration,
    pub done_keep_count: u64,
    /// Dead jobs are kept this long and at most this many (oldest dropped first).
    pub dead_keep_age: Duration,
    pub dead_cap: u64,
    /// Due scheduled (and snoozed) jobs promoted per reserve call.
    pub promote_chunk: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            prefix: "snapsync".into(),
            queue: "jobs".into(),
            lease: Duration::from_secs(15),
            // With the backoff below, 15 attempts cover at least 19 minutes of failures (at most
            // 38): a 15-minute outage of either API leaves no dead job. See `docs/queue.md`.
            default_max_attempts: 15,
            max_attempts: HashMap::new(),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(300),
            max_snoozed: Duration::from_secs(3600),
            unique_ttl: Duration::from_secs(24 * 3600),
            done_keep_age: Duration::from_secs(3600),
            done_keep_count: 10_000,
            dead_keep_age: Duration::from_secs(30 * 24 * 3600),
            dead_cap: 100_000,
            promote_chunk: 500,
        }
    }
}

impl QueueConfig {
    /// Max attempts for jobs of `kind`.
    pub fn max_attempts_for(&self, kind: &str) -> u32 {
        self.max_attempts.get(kind).copied().unwrap_or(self.default_max_attempts)
    }

    /// The shortest and longest span of failures the default attempts ride out (see
    /// [`crate::backoff::horizon`]).
    pub fn retry_horizon(&self) -> (Duration, Duration) {
        horizon(self.default_max_attempts, self.backoff_base, self.backoff_cap)
    }

    /// Every problem at once, as `key: value is not valid: expected ...` lines.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Err(e) = crate::keys::check_name(&self.prefix) {
            problems.push(format!("queue.prefix: {:?} is not valid: {e}", self.prefix));
        }
        if let Err(e) = crate::keys::check_name(&self.queue) {
            problems.push(format!("queue.name: {:?} is not valid: {e}", self.queue));
        }
        let mut range = |key: &str, v: Duration, lo: Duration, hi: Duration| {
            if v < lo || v > hi {
                problems.push(format!("{key}: {v:?} is out of range: expected between {lo:?} and {hi:?}"));
            }
        };
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        range("worker.lease", self.lease, ms(100), s(3600));
        range("retry.base", self.backoff_base, ms(1), s(3600));
        range("retry.cap", self.backoff_cap, ms(1), s(7 * 24 * 3600));
        range("retry.max_snoozed", self.max_snoozed, ms(100), s(30 * 24 * 3600));
        range("queue.unique_ttl", self.unique_ttl, s(1), s(365 * 24 * 3600));
        range("queue.done_keep_age", self.done_keep_age, ms(1), s(365 * 24 * 3600));
        range("queue.dead_keep_age", self.dead_keep_age, ms(1), s(10 * 365 * 24 * 3600));
        let attempts_ok = |m: u32| (1..=1000).contains(&m);
        if !attempts_ok(self.default_max_attempts) {
            problems.push(format!(
                "retry.max_attempts: {} is out of range: expected between 1 and 1000",
                self.default_max_attempts
            ));
        }
        let mut kinds: Vec<(&String, &u32)> = self.max_attempts.iter().filter(|(_, m)| !attempts_ok(**m)).collect();
        kinds.sort();
        for (kind, m) in kinds {
            problems
                .push(format!("retry.max_attempts_per_kind.{kind}: {m} is out of range: expected between 1 and 1000"));
        }
        if self.backoff_cap < self.backoff_base {
            problems.push(format!(
                "retry.cap: {:?} is below retry.base {:?}: expected cap >= base",
                self.backoff_cap, self.backoff_base
            ));
        }
        if !(1..=MAX_PREFETCH).contains(&self.promote_chunk) {
            problems.push(format!(
                "queue.promote_chunk: {} is out of range: expected between 1 and {MAX_PREFETCH}",
                self.promote_chunk
            ));
        }
        if !(1..=10_000_000).contains(&self.done_keep_count) {
            problems.push(format!(
                "queue.done_keep_count: {} is out of range: expected between 1 and 10000000",
                self.done_keep_count
            ));
        }
        if !(1..=10_000_000).contains(&self.dead_cap) {
            problems
                .push(format!("queue.dead_cap: {} is out of range: expected between 1 and 10000000", self.dead_cap));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ride_out_a_fifteen_minute_outage() {
        let c = QueueConfig::default();
        assert_eq!(c.validate(), Ok(()));
        let (min, max) = c.retry_horizon();
        assert!(min >= Duration::from_secs(15 * 60), "the default policy covers only {min:?}");
        assert!(max <= Duration::from_secs(60 * 60), "{max:?}");
    }

    #[test]
    fn every_out_of_range_setting_is_named() {
        let c = QueueConfig {
            prefix: "a b".into(),
            lease: Duration::from_millis(5),
            default_max_attempts: 0,
            max_attempts: HashMap::from([("sync_contacts".to_string(), 5000)]),
            backoff_base: Duration::from_secs(10),
            backoff_cap: Duration::from_secs(1),
            promote_chunk: 1_000_000,
            dead_cap: 0,
            ..QueueConfig::default()
        };
        let problems = c.validate().expect_err("invalid");
        for key in [
            "queue.prefix",
            "worker.lease",
            "retry.max_attempts:",
            "retry.max_attempts_per_kind.sync_contacts",
            "retry.cap",
            "queue.promote_chunk",
            "queue.dead_cap",
        ] {
            assert!(problems.iter().any(|p| p.starts_with(key)), "{key} not named in {problems:#?}");
        }
    }
}
