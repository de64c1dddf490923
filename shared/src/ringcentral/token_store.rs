//! The OAuth token pair, shared by every process through Redis, and the lock that lets
//! exactly one of them log in or refresh at a time.
//!
//! Keys (the prefix is a hash tag, so they live in one Cluster slot):
//! - `{prefix}:rc:token`: the pair as JSON (access, refresh, expiry instants in Unix ms);
//!   expires with the refresh token.
//! - `{prefix}:rc:lock`: `SET NX PX` by the process renewing the pair, holding a random
//!   owner id; released by a compare-and-delete script so a holder whose lock lapsed
//!   never frees someone else's.
//! - `{prefix}:rc:auth_backoff`: set for a while after a failed login/refresh, so the
//!   other processes wait instead of spending the Auth group's 5 requests a minute.
//!
//! Expiry instants are the renewing process's wall clock; skew between machines is small
//! next to the refresh margin (at least 60 s).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::{AsyncCommands, Script};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use snapsync_queue::RedisConn;

use super::error::RcError;

/// Refresh when less than this is left...
const MIN_MARGIN: Duration = Duration::from_secs(60);

/// An access/refresh token pair with the instants they stop working.
#[derive(Clone)]
pub(crate) struct TokenPair {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    pub access_expires_ms: u64,
    pub refresh_expires_ms: u64,
    pub access_ttl_ms: u64,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access", &"[REDACTED]")
            .field("refresh", &self.refresh.as_ref().map(|_| "[REDACTED]"))
            .field("access_expires_ms", &self.access_expires_ms)
            .field("refresh_expires_ms", &self.refresh_expires_ms)
            .finish()
    }
}

impl TokenPair {
    /// Usable for an API call now: not expired, not inside the refresh margin, and not
    /// the token that just got a 401 (`stale`).
    pub fn usable(&self, now_ms: u64, stale: Option<&str>) -> bool {
        let fresh = now_ms + self.margin_ms() < self.access_expires_ms;
        fresh && stale != Some(self.access.expose_secret())
    }

    /// The refresh token can still be presented.
    pub fn can_refresh(&self, now_ms: u64) -> Option<&SecretString> {
        self.refresh.as_ref().filter(|_| now_ms < self.refresh_expires_ms)
    }

    /// Refresh when less than 60 s or 10 % of the TTL is left, whichever is longer, but
    /// never in the first half of the token's life (tiny TTLs would refresh constantly).
    fn margin_ms(&self) -> u64 {
        let margin = (MIN_MARGIN.as_millis() as u64).max(self.access_ttl_ms / 10);
        margin.min(self.access_ttl_ms / 2)
    }
}

#[derive(Serialize, Deserialize)]
struct StoredPair {
    access_token: String,
    refresh_token: Option<String>,
    access_expires_at_ms: u64,
    refresh_expires_at_ms: u64,
    access_ttl_ms: u64,
}

/// Why the other processes are waiting after a failed login/refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Backoff {
    pub reason: String,
    pub retryable: bool,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

const UNLOCK: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

#[derive(Clone)]
pub(crate) struct TokenStore {
    redis: RedisConn,
    token_key: String,
    scope_key: String,
    lock_key: String,
    backoff_key: String,
    unlock: std::sync::Arc<Script>,
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore").field("token_key", &self.token_key).finish_non_exhaustive()
    }
}

impl TokenStore {
    pub fn new(redis: RedisConn, tag: &str) -> TokenStore {
        TokenStore {
            redis,
            token_key: format!("{tag}:rc:token"),
            scope_key: format!("{tag}:rc:token:scope"),
            lock_key: format!("{tag}:rc:lock"),
            backoff_key: format!("{tag}:rc:auth_backoff"),
            unlock: std::sync::Arc::new(Script::new(UNLOCK)),
        }
    }

    /// The stored pair; a value that does not parse (an older format) counts as none,
    /// which leads to one fresh login.
    pub async fn get(&self) -> Result<Option<TokenPair>, RcError> {
        let raw: Option<String> =
            self.redis.clone().get(&self.token_key).await.map_err(RcError::redis("token read"))?;
        let Some(raw) = raw else { return Ok(None) };
        let Ok(s) = serde_json::from_str::<StoredPair>(&raw) else {
            tracing::warn!(key = %self.token_key, "stored ringcentral token pair does not parse; logging in again");
            return Ok(None);
        };
        Ok(Some(TokenPair {
            access: SecretString::from(s.access_token),
            refresh: s.refresh_token.map(SecretString::from),
            access_expires_ms: s.access_expires_at_ms,
            refresh_expires_ms: s.refresh_expires_at_ms,
            access_ttl_ms: s.access_ttl_ms,
        }))
    }

    pub async fn put(&self, pair: &TokenPair) -> Result<(), RcError> {
        let stored = StoredPair {
            access_token: pair.access.expose_secret().to_owned(),
            refresh_token: pair.refresh.as_ref().map(|r| r.expose_secret().to_owned()),
            access_expires_at_ms: pair.access_expires_ms,
            refresh_expires_at_ms: pair.refresh_expires_ms,
            access_ttl_ms: pair.access_ttl_ms,
        };
        let json = serde_json::to_string(&stored).unwrap_or_default();
        let keep_ms = pair.refresh_expires_ms.max(pair.access_expires_ms).saturating_sub(now_ms()).max(1);
        let _: () =
            self.redis.clone().pset_ex(&self.token_key, json, keep_ms).await.map_err(RcError::redis("token write"))?;
        Ok(())
    }

    /// Records the permissions (`scope`) an authorization-code login was granted.
    pub async fn put_scope(&self, scope: &str) -> Result<(), RcError> {
        let _: () = self.redis.clone().set(&self.scope_key, scope).await.map_err(RcError::redis("scope write"))?;
        Ok(())
    }

    /// The permissions the last authorization-code login was granted, if it recorded them.
    pub async fn scope(&self) -> Result<Option<String>, RcError> {
        self.redis.clone().get(&self.scope_key).await.map_err(RcError::redis("scope read"))
    }

    /// Forgets the stored pair (its refresh token is dead and nothing can replace it
    /// but `snapsync login`). Called by the lock's holder.
    pub async fn clear(&self) -> Result<(), RcError> {
        let _: () = self.redis.clone().del(&self.token_key).await.map_err(RcError::redis("token delete"))?;
        Ok(())
    }

    /// Ends the auth backoff: a new pair was just stored by `snapsync login`.
    pub async fn clear_backoff(&self) -> Result<(), RcError> {
        let _: () = self.redis.clone().del(&self.backoff_key).await.map_err(RcError::redis("auth backoff delete"))?;
        Ok(())
    }

    /// Takes the renewal lock for `ttl`; `Some(owner)` when this caller got it.
    pub async fn try_lock(&self, ttl: Duration) -> Result<Option<String>, RcError> {
        let owner = uuid::Uuid::new_v4().to_string();
        let set: Option<String> = redis::cmd("SET")
            .arg(&self.lock_key)
            .arg(&owner)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(RcError::redis("token lock"))?;
        Ok(set.map(|_| owner))
    }

    pub async fn unlock(&self, owner: &str) -> Result<(), RcError> {
        let _: i64 = self
            .unlock
            .key(&self.lock_key)
            .arg(owner)
            .invoke_async(&mut self.redis.clone())
            .await
            .map_err(RcError::redis("token unlock"))?;
        Ok(())
    }

    /// The backoff after a failed renewal and how much of it is left.
    pub async fn backoff(&self) -> Result<Option<(Backoff, Duration)>, RcError> {
        let mut conn = self.redis.clone();
        let (raw, left): (Option<String>, i64) = redis::pipe()
            .get(&self.backoff_key)
            .pttl(&self.backoff_key)
            .query_async(&mut conn)
            .await
            .map_err(RcError::redis("auth backoff read"))?;
        let Some(b) = raw.and_then(|r| serde_json::from_str::<Backoff>(&r).ok()) else { return Ok(None) };
        Ok(Some((b, Duration::from_millis(left.max(0) as u64))))
    }

    pub async fn set_backoff(&self, backoff: &Backoff, for_: Duration) -> Result<(), RcError> {
        let json = serde_json::to_string(backoff).unwrap_or_default();
        let ms = (for_.as_millis() as u64).max(1);
        let _: () = self
            .redis
            .clone()
            .pset_ex(&self.backoff_key, json, ms)
            .await
            .map_err(RcError::redis("auth backoff write"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(ttl_s: u64, left_s: u64) -> TokenPair {
        let now = 1_000_000_000;
        TokenPair {
            access: SecretString::from("access-secret-value"),
            refresh: Some(SecretString::from("refresh-secret-value")),
            access_expires_ms: now + left_s * 1000,
            refresh_expires_ms: now + 604_800_000,
            access_ttl_ms: ttl_s * 1000,
        }
    }

    #[test]
    fn refresh_margin_is_60s_or_10_percent() {
        let now = 1_000_000_000;
        assert!(pair(3600, 361).usable(now, None));
        assert!(!pair(3600, 359).usable(now, None), "10 % of an hour is 6 min");
        assert!(pair(600, 61).usable(now, None));
        assert!(!pair(600, 59).usable(now, None), "at least 60 s");
        assert!(!pair(600, 300).usable(now, Some("access-secret-value")), "the token that got a 401");
        assert!(pair(600, 300).usable(now, Some("another")));
    }

    #[test]
    fn debug_redacts_both_tokens() {
        let text = format!("{:?}", pair(600, 300));
        assert!(!text.contains("secret-value"), "{text}");
    }
}
