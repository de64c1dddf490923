//! Queue settings: names, lease, attempts, backoff, dedup and retention.

use std::collections::HashMap;
use std::time::Duration;

/// How one queue behaves. Defaults suit production; tests shorten the lease and backoff.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Isolates deployments sharing one Redis (`{prefix:queue}` is every key's hash tag).
    pub prefix: String,
    pub queue: String,
    /// How long a reserved job stays leased without a heartbeat; an expired lease returns
    /// the job to ready (and counts as an attempt). Workers recover expired leases every
    /// lease/2, so a crashed worker's job runs again within 1.5 × lease (22.5 s by default).
    pub lease: Duration,
    pub default_max_attempts: u32,
    /// Max attempts per job kind; kinds not listed use `default_max_attempts`.
    pub max_attempts: HashMap<String, u32>,
    /// Retry backoff: full jitter over `base * 2^(attempt-1)`, capped.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How long an enqueue's unique key blocks duplicates.
    pub unique_ttl: Duration,
    /// Done jobs are kept this long and at most this many.
    pub done_keep_age: Duration,
    pub done_keep_count: u64,
    /// The dead set keeps at most this many jobs (oldest dropped first).
    pub dead_cap: u64,
    /// Due scheduled jobs promoted per reserve call.
    pub promote_chunk: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            prefix: "snapsync".into(),
            queue: "jobs".into(),
            lease: Duration::from_secs(15),
            default_max_attempts: 5,
            max_attempts: HashMap::new(),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            unique_ttl: Duration::from_secs(24 * 3600),
            done_keep_age: Duration::from_secs(3600),
            done_keep_count: 10_000,
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

    /// Every problem at once, as `key: value is not valid: expected ...` lines.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let name_ok = |s: &str| !s.is_empty() && !s.contains(['{', '}', ' ']);
        if !name_ok(&self.prefix) {
            problems.push(format!(
                "queue.prefix: {:?} is not valid: expected a non-empty name without braces or spaces",
                self.prefix
            ));
        }
        if !name_ok(&self.queue) {
            problems.push(format!(
                "queue.name: {:?} is not valid: expected a non-empty name without braces or spaces",
                self.queue
            ));
        }
        if self.lease < Duration::from_millis(100) {
            problems.push(format!("queue.lease: {:?} is too short: expected at least 100ms", self.lease));
        }
        if self.default_max_attempts == 0 || self.max_attempts.values().any(|&m| m == 0) {
            problems.push("queue.max_attempts: 0 is not valid: expected at least 1".into());
        }
        if self.backoff_cap < self.backoff_base {
            problems.push(format!(
                "queue.backoff_cap: {:?} is below backoff_base {:?}: expected cap >= base",
                self.backoff_cap, self.backoff_base
            ));
        }
        if self.promote_chunk == 0 {
            problems.push("queue.promote_chunk: 0 is not valid: expected at least 1".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}
