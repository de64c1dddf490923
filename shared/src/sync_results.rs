//! The last sync of each resource, for operators: written by the workers, read by the admin
//! API and the dashboard.
//!
//! - `{prefix}:sync:last` (hash, field = resource): the last run as JSON — its job, when it
//!   started and finished, and (locations, accounts) its counts.
//! - `{prefix}:sync:run:<job id>` (hash, a day's TTL): a contacts sync's counts, incremented
//!   by each `upsert_contact` it queued as that upsert ends (they run after the sync job).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use snapsync_queue::RedisConn;

/// How long a contacts sync's counters are kept.
pub const RUN_TTL_SECS: i64 = 24 * 3600;

/// One resource's last sync, as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LastSync {
    pub job: String,
    pub started_ms: u64,
    #[serde(default)]
    pub finished_ms: Option<u64>,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub updated: u64,
    #[serde(default)]
    pub unchanged: u64,
    #[serde(default)]
    pub deleted: u64,
    #[serde(default)]
    pub failed: u64,
    /// Contacts: upserts queued by the sync (their outcomes are counted as they run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued: Option<u64>,
}

pub fn last_key(prefix: &str) -> String {
    format!("{prefix}:sync:last")
}

pub fn run_key(prefix: &str, run: &str) -> String {
    format!("{prefix}:sync:run:{run}")
}

/// Every resource's last sync, a contacts sync with its upserts' counts so far.
pub async fn read_all(redis: &RedisConn, prefix: &str) -> Result<BTreeMap<String, LastSync>, redis::RedisError> {
    let mut conn = redis.clone();
    let raw: BTreeMap<String, String> = redis::AsyncCommands::hgetall(&mut conn, last_key(prefix)).await?;
    let mut out = BTreeMap::new();
    for (resource, text) in raw {
        let Ok(mut last) = serde_json::from_str::<LastSync>(&text) else { continue };
        if resource == "contacts" {
            let counts: BTreeMap<String, u64> =
                redis::AsyncCommands::hgetall(&mut conn, run_key(prefix, &last.job)).await?;
            let n = |k: &str| counts.get(k).copied().unwrap_or(0);
            (last.created, last.updated, last.unchanged, last.deleted, last.failed) =
                (n("created"), n("updated"), n("unchanged"), n("deleted"), n("failed"));
        }
        out.insert(resource, last);
    }
    Ok(out)
}
