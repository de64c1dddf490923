//! Test mode and live mode: where the jobs write.
//!
//! - **live**: writes go to `[snapshots]`.
//! - **test**: every job runs end to end on the real RingCentral data, but its writes go to the
//!   test Snapshots (`[test] snapshots_url`, `snapshots_api_key`; by default the local
//!   sandbox), so a deployment can be rehearsed without touching the live Snapshots.
//!
//! The mode lives in Redis, `{prefix}:mode` (`"test"` or `"live"`), so one command switches
//! every process without a restart: `snapsync mode live|test` ([`set`]); `snapsync mode`
//! shows it. `sync.mode` only seeds the key when it is unset ([`seed`]). Workers read the key
//! before each job (one `GET`) and each process logs once when it sees it change
//! ([`Watch`]). Every switch is also kept in `{prefix}:mode:log` (newest first, the last
//! 100): when, from, to, and who (user and host of the command).
//!
//! Write state is per target, so the test target's memory never makes the live target look
//! "unchanged": [`state_prefix`] is `{prefix}` for live (the keys of a deployment that never
//! used test mode are unchanged) and `{prefix}:test` for test. It prefixes the Snapshots
//! write state (`snap:hash`, `snap:lock`), the lead email claims, the phone and contact-email
//! indexes, the `seen:` sets of deletion detection and the contacts-sync bookkeeping. The
//! address-book sync tokens are per target too (`rc:synctoken` for live, `rc:synctoken:test`
//! for test): after a switch to live, the first live contacts sync of each extension is a
//! full one if live never synced it, and writes every record, not only the ones changed since
//! the last test-mode sync. What is shared: the queue, schedules, the RingCentral login and
//! rate-limit budgets, round-robin counters, sync results and the webhook subscription.
//!
//! A job that was already running when the mode changed finishes in the mode it started in;
//! jobs it fanned out run in the mode current when they start.

use std::sync::atomic::{AtomicU8, Ordering};

use redis::AsyncCommands;
use snapsync_queue::RedisConn;

pub use crate::config::Mode;

/// How many switches `{prefix}:mode:log` keeps.
pub const LOG_KEEP: isize = 100;

/// `{prefix}:mode`.
pub fn key(prefix: &str) -> String {
    format!("{prefix}:mode")
}

/// `{prefix}:mode:log`: a list of JSON entries, newest first.
pub fn log_key(prefix: &str) -> String {
    format!("{prefix}:mode:log")
}

/// The prefix of the per-target write state (module docs).
pub fn state_prefix(prefix: &str, mode: Mode) -> String {
    match mode {
        Mode::Live => prefix.to_string(),
        Mode::Test => format!("{prefix}:test"),
    }
}

/// The namespace of the address-book sync tokens of the test target.
pub const TEST_SYNC_NAMESPACE: &str = "test";

/// The stored mode; `None` when unset; an unknown value is an error naming it.
pub async fn get(conn: &RedisConn, prefix: &str) -> Result<Option<Mode>, ModeError> {
    let mut conn = conn.clone();
    let text: Option<String> = conn.get(key(prefix)).await?;
    match text {
        None => Ok(None),
        Some(t) => Mode::from_name(&t).map(Some).ok_or(ModeError::Unknown(t)),
    }
}

/// Stores `initial` unless a mode is stored already; returns the mode in force.
pub async fn seed(conn: &RedisConn, prefix: &str, initial: Mode) -> Result<Mode, ModeError> {
    let mut c = conn.clone();
    let _: Option<String> =
        redis::cmd("SET").arg(key(prefix)).arg(initial.as_str()).arg("NX").query_async(&mut c).await?;
    Ok(get(conn, prefix).await?.unwrap_or(initial))
}

/// Switches to `mode` and records the switch (by `who`) in the log; returns the previous mode.
pub async fn set(conn: &RedisConn, prefix: &str, mode: Mode, who: &str) -> Result<Option<Mode>, ModeError> {
    let mut c = conn.clone();
    let previous: Option<String> =
        redis::cmd("SET").arg(key(prefix)).arg(mode.as_str()).arg("GET").query_async(&mut c).await?;
    let entry = serde_json::json!({
        "at_ms": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
        "from": previous.as_deref(),
        "to": mode.as_str(),
        "by": who,
    });
    let _: () = redis::pipe()
        .lpush(log_key(prefix), entry.to_string())
        .ltrim(log_key(prefix), 0, LOG_KEEP - 1)
        .query_async(&mut c)
        .await?;
    Ok(previous.as_deref().and_then(Mode::from_name))
}

/// The switches, newest first (raw JSON entries as [`set`] wrote them).
pub async fn history(conn: &RedisConn, prefix: &str, n: isize) -> Result<Vec<serde_json::Value>, ModeError> {
    let mut c = conn.clone();
    let entries: Vec<String> = c.lrange(log_key(prefix), 0, n - 1).await?;
    Ok(entries.iter().filter_map(|e| serde_json::from_str(e).ok()).collect())
}

#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the stored mode {0:?} is neither \"test\" nor \"live\"; set it with `snapsync mode live|test`")]
    Unknown(String),
}

/// The mode a process last saw, to log each change once.
#[derive(Debug, Default)]
pub struct Watch {
    /// 0 = not seen yet, 1 = test, 2 = live.
    seen: AtomicU8,
}

impl Watch {
    /// Notes `mode`; logs (once per change, by whichever caller sees it first) when it differs
    /// from the mode seen before. `process` names the process in the log line.
    pub fn observe(&self, mode: Mode, process: &str) {
        let code = match mode {
            Mode::Test => 1,
            Mode::Live => 2,
        };
        let before = self.seen.swap(code, Ordering::AcqRel);
        if before == code {
            return;
        }
        let target = match mode {
            Mode::Test => "the test Snapshots ([test])",
            Mode::Live => "the live Snapshots ([snapshots])",
        };
        match before {
            0 => tracing::info!(mode = mode.as_str(), process, "mode {}: writes go to {target}", mode.as_str()),
            _ => tracing::warn!(
                mode = mode.as_str(),
                previous = if before == 1 { "test" } else { "live" },
                process,
                "mode switched to {}: writes now go to {target}",
                mode.as_str()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_state_keeps_the_deployment_prefix_and_test_state_is_apart() {
        assert_eq!(state_prefix("snapsync", Mode::Live), "snapsync");
        assert_eq!(state_prefix("snapsync", Mode::Test), "snapsync:test");
        let live = crate::snapshots::state::state_key(
            &state_prefix("p", Mode::Live),
            crate::snapshots::Collection::Leads,
            "x",
        );
        let test = crate::snapshots::state::state_key(
            &state_prefix("p", Mode::Test),
            crate::snapshots::Collection::Leads,
            "x",
        );
        assert_ne!(live, test);
        assert_eq!(key("p"), "p:mode");
    }

    #[test]
    fn names_round_trip() {
        for m in [Mode::Test, Mode::Live] {
            assert_eq!(Mode::from_name(m.as_str()), Some(m));
        }
        assert_eq!(Mode::from_name("Live"), None);
    }
}
