//! Locks tied to a job's lease: a run takes a lock on a key of its choosing (for example "the
//! Snapshots record with this external id") and holds it as long as it holds its lease.
//!
//! - **Fenced by the lease**: the lock's value is the lease's owner token (`<job id>:<lease
//!   token>`); renewing and releasing compare it, so a run that lost its lease cannot renew or
//!   release a lock another run now holds, and a write guarded by the lock can check it
//!   atomically ([`LockGuard::token`] in the caller's own script).
//! - **Renewed with the heartbeat**: the lock's TTL is the lease; the worker's heartbeat renews
//!   every lock its live leases hold, at the same time as the leases.
//! - **Gone with the lease**: a crashed holder stops renewing, so its locks expire within one
//!   lease of its last heartbeat — the same bound as its jobs — never minutes later. A run whose
//!   lease is lost is cancelled and its guards release their locks when dropped.
//!
//! A lock that is held answers [`LockError::Busy`] at once with how long it may still be held:
//! waiting is the job's to do (it snoozes), not a worker slot's.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::Script;

use crate::conn::RedisConn;

static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
    )
});
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
});

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it; it is free again within `retry_in` at the latest (its TTL).
    #[error("{key} is held by another run (free within {retry_in:?})")]
    Busy { key: String, retry_in: Duration },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// The locks of one lease (or of a standalone caller). Cheap to clone; clones share the set of
/// held keys, which the heartbeat renews.
#[derive(Clone)]
pub struct LeaseLocks {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RedisConn,
    token: String,
    ttl: Duration,
    held: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for LeaseLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseLocks").field("token", &self.inner.token).field("ttl", &self.inner.ttl).finish()
    }
}

impl LeaseLocks {
    /// The locks of the lease `token` (`<job id>:<lease token>`), living `ttl` (the lease) unless renewed.
    pub fn new(conn: RedisConn, token: String, ttl: Duration) -> LeaseLocks {
        LeaseLocks { inner: Arc::new(Inner { conn, token, ttl, held: Mutex::new(HashSet::new()) }) }
    }

    /// Locks for a caller outside any job (a test, a one-off command): a random token and a
    /// fixed `ttl`; nobody renews them, so `ttl` must outlast the critical section.
    pub fn standalone(conn: RedisConn, ttl: Duration) -> LeaseLocks {
        LeaseLocks::new(conn, format!("standalone:{}", uuid::Uuid::new_v4().simple()), ttl)
    }

    /// The value every lock of this lease holds.
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the lock on `key`, or answers [`LockError::Busy`] at once.
    pub async fn acquire(&self, key: &str) -> Result<LockGuard, LockError> {
        let mut conn = self.inner.conn.clone();
        let set: Option<String> = self.set_nx(key).query_async(&mut conn).await?;
        if set.is_some() {
            return Ok(self.taken(key));
        }
        Err(self.busy(key, &mut conn).await?)
    }

    /// [`acquire`](Self::acquire), with `read` sent in the same round trip: pipelined right
    /// behind the lock's `SET NX` on the same connection, so Redis runs it once the lock is
    /// taken and what it answers was read under the lock. `read`'s keys must share `key`'s
    /// cluster slot (one hash tag), so both go to one node, in order. Its answer comes back
    /// only with the lock; a busy lock answers [`LockError::Busy`] as `acquire` does.
    pub async fn acquire_and_read<T: redis::FromRedisValue>(
        &self,
        key: &str,
        read: &redis::Cmd,
    ) -> Result<(LockGuard, T), LockError> {
        let mut conn = self.inner.conn.clone();
        let mut pipe = redis::pipe();
        pipe.add_command(self.set_nx(key)).add_command(read.clone());
        let (set, value): (Option<String>, redis::Value) = pipe.query_async(&mut conn).await?;
        if set.is_some() {
            let guard = self.taken(key);
            // Not readable as `T`: an error like any other, and the lock goes with the guard.
            let read = redis::from_redis_value(value).map_err(redis::RedisError::from)?;
            return Ok((guard, read));
        }
        Err(self.busy(key, &mut conn).await?)
    }

    fn set_nx(&self, key: &str) -> redis::Cmd {
        let ttl_ms = self.inner.ttl.as_millis().max(1) as u64;
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(&self.inner.token).arg("NX").arg("PX").arg(ttl_ms);
        cmd
    }

    /// The lock on `key` was just taken: held (renewed with the lease) until its guard goes.
    fn taken(&self, key: &str) -> LockGuard {
        self.held().insert(key.to_string());
        LockGuard { locks: self.clone(), key: key.to_string(), released: false }
    }

    /// The lock on `key` is another run's: how long it may still be held.
    async fn busy(&self, key: &str, conn: &mut RedisConn) -> Result<LockError, redis::RedisError> {
        let left: i64 = redis::cmd("PTTL").arg(key).query_async(conn).await?;
        // -2: released meanwhile (free now); -1: no TTL (never ours to set; wait a lease).
        let retry_in = match left {
            n if n >= 0 => Duration::from_millis(n as u64),
            -2 => Duration::ZERO,
            _ => self.inner.ttl,
        };
        Ok(LockError::Busy { key: key.to_string(), retry_in })
    }

    /// Keys of the locks currently held.
    pub fn keys(&self) -> Vec<String> {
        self.held().iter().cloned().collect()
    }

    /// Renews every held lock for another TTL; returns the keys no longer held under this token
    /// (expired and taken by another run), which are forgotten.
    pub async fn renew(&self) -> Result<Vec<String>, redis::RedisError> {
        let keys = self.keys();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let ttl_ms = self.inner.ttl.as_millis().max(1) as u64;
        let calls = keys.iter().map(|key| {
            let mut conn = self.inner.conn.clone();
            let mut inv = RENEW.key(key);
            inv.arg(&self.inner.token).arg(ttl_ms);
            async move { inv.invoke_async::<i64>(&mut conn).await }
        });
        // Separate calls, not one script: the keys may live in different cluster slots.
        let results = futures_util::future::join_all(calls).await;
        let mut lost = Vec::new();
        for (key, r) in keys.into_iter().zip(results) {
            if r? == 0 {
                lost.push(key);
            }
        }
        let mut held = self.held();
        for key in &lost {
            held.remove(key);
        }
        Ok(lost)
    }

    /// Releases every lock still held (the lease ended).
    pub async fn release_all(&self) {
        let keys: Vec<String> = self.held().drain().collect();
        for key in keys {
            let _ = release(&self.inner.conn, &key, &self.inner.token).await;
        }
    }
}

async fn release(conn: &RedisConn, key: &str, token: &str) -> Result<bool, redis::RedisError> {
    let mut inv = RELEASE.key(key);
    inv.arg(token);
    let n: i64 = inv.invoke_async(&mut conn.clone()).await?;
    Ok(n == 1)
}

/// A held lock. [`LockGuard::release`] it when the guarded work is done; dropped without that
/// (a cancelled run), it is released in the background.
pub struct LockGuard {
    locks: LeaseLocks,
    key: String,
    released: bool,
}

impl LockGuard {
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The lock's value: a script that writes under the lock compares it first (fencing).
    pub fn token(&self) -> &str {
        self.locks.token()
    }

    /// Releases the lock if this lease still holds it; false when it was lost meanwhile.
    pub async fn release(mut self) -> Result<bool, redis::RedisError> {
        self.released = true;
        self.locks.held().remove(&self.key);
        release(&self.locks.inner.conn, &self.key, self.locks.token()).await
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.locks.held().remove(&self.key);
        let (conn, key, token) = (self.locks.inner.conn.clone(), self.key.clone(), self.locks.token().to_string());
        // Outside a runtime (a test tearing down) the lock simply expires with its TTL.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = release(&conn, &key, &token).await;
            });
        }
    }
}
