//! The mapping saved through the admin API (the dashboard's mapping editor, `snapsync
//! mapping restore`), shared by every process through Redis, and [`LiveMapping`], the
//! handle a worker maps with.
//!
//! One hash, `{prefix}:mapping` (one key, so it is one slot on a cluster):
//! - `text`, `format` (`toml` | `json`): the mapping as saved, checked before it was stored;
//! - `version`: 1 for the first save, +1 for each save or restore;
//! - `saved_at`: Unix milliseconds;
//! - `history`: the versions it replaced, newest first, as a JSON list of
//!   `{version, format, text, saved_at}`, at most [`HISTORY`] of them. The first save puts
//!   the mapping file it replaces there as version 0.
//!
//! When the hash exists it overrides `mapping.path` in every worker (each logs which one it
//! uses); without it the file is used. A save and a restore are one Lua script each, so two
//! editors saving at once get two versions, neither lost from the history.

use std::sync::{Arc, RwLock};

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use snapsync_queue::RedisConn;

use super::error::MappingError;
use super::spec::{Format, Mapping};

/// How many replaced versions are kept for a restore.
pub const HISTORY: usize = 20;

/// The key of the saved mapping.
pub fn key(prefix: &str) -> String {
    format!("{prefix}:mapping")
}

/// The name a saved mapping goes by in messages (where a file's path would be).
pub fn saved_name(version: u64) -> String {
    format!("saved mapping v{version}")
}

/// One version of the saved mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedMapping {
    pub version: u64,
    pub format: Format,
    pub text: String,
    pub saved_at: u64,
}

impl SavedMapping {
    pub fn parse(&self) -> Result<Mapping, MappingError> {
        Mapping::parse_as(&saved_name(self.version), &self.text, self.format)
    }
}

/// Saves `text` (already checked by the caller) as the next version; the one it replaces
/// goes to the history. Returns the new version.
const SAVE: &str = r#"
local cur = redis.call('HMGET', KEYS[1], 'text', 'format', 'version', 'saved_at', 'history')
local history = {}
if cur[5] then
  local ok, decoded = pcall(cjson.decode, cur[5])
  if ok and type(decoded) == 'table' then history = decoded end
end
if cur[1] then
  table.insert(history, 1, { text = cur[1], format = cur[2], version = tonumber(cur[3]) or 0, saved_at = tonumber(cur[4]) or 0 })
elseif ARGV[5] ~= '' then
  table.insert(history, 1, { text = ARGV[5], format = ARGV[6], version = 0, saved_at = 0 })
end
while #history > tonumber(ARGV[4]) do table.remove(history) end
local version = (tonumber(cur[3]) or 0) + 1
local encoded = '[]'
if #history > 0 then encoded = cjson.encode(history) end
redis.call('HSET', KEYS[1], 'text', ARGV[1], 'format', ARGV[2], 'version', version, 'saved_at', ARGV[3], 'history', encoded)
return version
"#;

/// Stores a checked mapping as the next version; returns it. `file` is the mapping file in
/// force until now (format and text): on the first save it goes to the history as version 0,
/// so the file's mapping can be restored like any other.
pub async fn save(
    redis: &RedisConn,
    prefix: &str,
    format: Format,
    text: &str,
    now_ms: u64,
    file: Option<(Format, &str)>,
) -> redis::RedisResult<u64> {
    let mut conn = redis.clone();
    let (file_format, file_text) = file.map_or(("toml", ""), |(f, t)| (f.name(), t));
    redis::Script::new(SAVE)
        .key(key(prefix))
        .arg(text)
        .arg(format.name())
        .arg(now_ms)
        .arg(HISTORY)
        .arg(file_text)
        .arg(file_format)
        .invoke_async(&mut conn)
        .await
}

/// The saved mapping, if any.
pub async fn current(redis: &RedisConn, prefix: &str) -> redis::RedisResult<Option<SavedMapping>> {
    let mut conn = redis.clone();
    let (text, format, version, saved_at): (Option<String>, Option<String>, Option<u64>, Option<u64>) =
        redis::cmd("HMGET")
            .arg(key(prefix))
            .arg("text")
            .arg("format")
            .arg("version")
            .arg("saved_at")
            .query_async(&mut conn)
            .await?;
    Ok(match (text, version) {
        (Some(text), Some(version)) => Some(SavedMapping {
            version,
            format: format.as_deref().and_then(Format::from_name).unwrap_or(Format::Toml),
            text,
            saved_at: saved_at.unwrap_or(0),
        }),
        _ => None,
    })
}

/// The saved mapping's version (0: none saved): the one read a worker makes per job.
pub async fn version(redis: &RedisConn, prefix: &str) -> redis::RedisResult<u64> {
    let mut conn = redis.clone();
    let v: Option<u64> = conn.hget(key(prefix), "version").await?;
    Ok(v.unwrap_or(0))
}

/// The versions the current one replaced, newest first.
pub async fn history(redis: &RedisConn, prefix: &str) -> redis::RedisResult<Vec<SavedMapping>> {
    let mut conn = redis.clone();
    let raw: Option<String> = conn.hget(key(prefix), "history").await?;
    // An empty Lua table is encoded `{}`: no history.
    Ok(raw.and_then(|r| serde_json::from_str::<Vec<SavedMapping>>(&r).ok()).unwrap_or_default())
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("no version {0} in the mapping history (see the history for the versions kept)")]
    NoSuchVersion(u64),
    #[error("version {version} no longer passes the mapping checks: {error}")]
    Invalid { version: u64, error: MappingError },
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Saves history version `version` again, as a new version (the current one goes to the
/// history, so a restore can itself be undone). Returns the new version.
pub async fn restore(redis: &RedisConn, prefix: &str, version: u64, now_ms: u64) -> Result<u64, RestoreError> {
    let old = history(redis, prefix)
        .await?
        .into_iter()
        .find(|m| m.version == version)
        .ok_or(RestoreError::NoSuchVersion(version))?;
    old.parse().map_err(|error| RestoreError::Invalid { version, error })?;
    Ok(save(redis, prefix, old.format, &old.text, now_ms, None).await?)
}

/// The mapping a worker maps with: the saved one when there is one, else the file's;
/// [`LiveMapping::refresh`] (before each job) reads the saved version — one `HGET` — and
/// loads a new one when it changed, so the next job uses a mapping saved in the dashboard
/// without a restart. Jobs already running keep the `Arc` they took.
#[derive(Debug)]
pub struct LiveMapping {
    file: Arc<Mapping>,
    redis: RedisConn,
    prefix: String,
    /// The saved version last seen (0: none) and the mapping in force.
    state: RwLock<(u64, Arc<Mapping>)>,
}

impl LiveMapping {
    /// Starts on the file's mapping; call [`LiveMapping::refresh`] to pick up a saved one.
    pub fn new(file: Mapping, redis: RedisConn, prefix: &str) -> LiveMapping {
        let file = Arc::new(file);
        LiveMapping { state: RwLock::new((0, file.clone())), file, redis, prefix: prefix.to_string() }
    }

    /// The mapping in force.
    pub fn current(&self) -> Arc<Mapping> {
        self.state.read().map(|s| s.1.clone()).unwrap_or_else(|p| p.into_inner().1.clone())
    }

    /// The saved version in force (0: the file).
    pub fn version(&self) -> u64 {
        self.state.read().map(|s| s.0).unwrap_or_else(|p| p.into_inner().0)
    }

    /// Picks up a newly saved mapping (or, when it was removed, the file again). A Redis
    /// failure keeps the mapping in force (logged): a job is not failed for it.
    pub async fn refresh(&self) {
        let seen = self.version();
        let version = match version(&self.redis, &self.prefix).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the saved mapping's version; keeping the mapping in force");
                return;
            }
        };
        if version == seen {
            return;
        }
        if version == 0 {
            tracing::info!(file = %self.file.file(), "no saved mapping any more; using the mapping file");
            self.set(0, self.file.clone());
            return;
        }
        let saved = match current(&self.redis, &self.prefix).await {
            Ok(Some(saved)) => saved,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the saved mapping; keeping the mapping in force");
                return;
            }
        };
        match saved.parse() {
            Ok(mapping) => {
                tracing::info!(
                    version = saved.version,
                    format = saved.format.name(),
                    "using the saved mapping (it overrides the mapping file)"
                );
                self.set(saved.version, Arc::new(mapping));
            }
            Err(e) => {
                // Checked when saved, so only a mapping saved by another version of snapsync
                // gets here; remembered so it is not read again for every job.
                tracing::error!(version = saved.version, error = %e, "the saved mapping does not pass this worker's checks; keeping the mapping in force");
                let keep = self.current();
                self.set(saved.version, keep);
            }
        }
    }

    fn set(&self, version: u64, mapping: Arc<Mapping>) {
        match self.state.write() {
            Ok(mut s) => *s = (version, mapping),
            Err(p) => *p.into_inner() = (version, mapping),
        }
    }
}
