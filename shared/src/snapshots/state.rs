//! What snapsync remembers per written record, in Redis, so it can skip writes:
//! `{prefix}:snap:hash:{<collection>:<external_id>}` ([`state_key`]) is a Redis hash with
//! - `hash`: SHA-256 of the mapped record last written (canonical JSON: keys sorted),
//! - `sv`: the last applied source version (`t:<nanos>` / `s:<n>`, see [`SourceVersion`]),
//! - `id`: the Snapshots id of the record,
//! - `ver`: the record's Snapshots `version` after that write, so the next change is one
//!   `PATCH` with `If-Match: <ver>` and no read (a state written before `ver` was kept has
//!   none: the next change reads the record by `id` first).
//!
//! "Read the state, decide, write, store the state" must not interleave with another
//! run doing the same for the same record, or an older version could land last. So each
//! upsert, tag and delete holds `{prefix}:snap:lock:{<collection>:<external_id>}`
//! ([`lock_key`]), a lock of the running job's lease (`snapsync_queue::LeaseLocks`): its
//! value is the lease's owner token, the worker's heartbeat renews it with the lease, and a
//! crashed holder's lock expires within one lease, not minutes later.
//!
//! A lock that expires can be taken by another run while its old holder is still inside a
//! slow request (a lost lease, a stalled process). So the state is written *fenced*: one
//! script checks that the lock still holds this run's token and only then changes the hash
//! ([`store`], [`forget_record`]); a run that lost its lock gets
//! [`SnapshotsError::LockLost`] and writes nothing. Both keys carry the same hash tag, the
//! text between the first `{` and the next `}` (`<collection>:<external_id>` up to any `}`
//! inside the id), so on Redis Cluster they share a slot and the script may touch both. The
//! prefix has no braces (the config refuses them), so the tag is always the one added here.
//!
//! State keys moved to this form (they were `{prefix}:snap:hash:<collection>:<external_id>`,
//! without the tag). Old entries are simply ignored: the next sync of a record tries to
//! create it, Snapshots answers 409 naming the record that holds the external id, which is
//! read and patched (a no-op when nothing changed), and the state is written again under the
//! new key. Nothing is duplicated: Snapshots keeps external ids unique.
//! The old keys never expire; they can be deleted by hand (`SCAN` for
//! `{prefix}:snap:hash:<collection>:*` without a `{`).

use std::sync::LazyLock;

use redis::Script;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use snapsync_queue::{LockGuard, RedisConn};

use super::error::SnapshotsError;
use super::types::{Collection, SourceVersion};

/// `KEYS[1]` the record's lock, `KEYS[2]` its state hash; `ARGV[1]` the lock token this run
/// holds, `ARGV[2]` `HSET` or `HDEL`, then that command's arguments. Returns 1 when the
/// change was made, 0 when the lock is no longer held under this token (nothing written).
const FENCED_WRITE: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local op = ARGV[2]
if op ~= 'HSET' and op ~= 'HDEL' then return redis.error_reply('fenced write: unknown command ' .. tostring(op)) end
redis.call(op, KEYS[2], unpack(ARGV, 3))
return 1
"#;

static FENCED: LazyLock<Script> = LazyLock::new(|| Script::new(FENCED_WRITE));

/// The remembered state of one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteState {
    pub hash: Option<String>,
    pub source_version: Option<SourceVersion>,
    pub id: Option<String>,
    /// The record's Snapshots `version` after our last write (or confirmation) of it.
    pub version: Option<u64>,
}

/// The record's state hash: `{prefix}:snap:hash:{<collection>:<external_id>}`. The braces
/// are the Redis Cluster hash tag it shares with [`lock_key`].
pub fn state_key(prefix: &str, collection: Collection, external_id: &str) -> String {
    format!("{prefix}:snap:hash:{{{}:{external_id}}}", collection.path())
}

/// The record's write lock: `{prefix}:snap:lock:{<collection>:<external_id>}`, in the same
/// cluster slot as [`state_key`].
pub fn lock_key(prefix: &str, collection: Collection, external_id: &str) -> String {
    format!("{prefix}:snap:lock:{{{}:{external_id}}}", collection.path())
}

/// The right to change one record's state: made only from the record's held lock (inside
/// the crate, by the upsert, tag and delete flows), and checked again by every write.
#[derive(Debug, Clone)]
pub struct Fence {
    lock_key: String,
    token: String,
    state_key: String,
    collection: Collection,
    external_id: String,
}

impl Fence {
    /// `guard` must be the lock on [`lock_key`] of this record.
    pub(crate) fn new(prefix: &str, collection: Collection, external_id: &str, guard: &LockGuard) -> Fence {
        debug_assert_eq!(guard.key(), lock_key(prefix, collection, external_id), "a fence needs the record's own lock");
        Fence {
            lock_key: guard.key().to_string(),
            token: guard.token().to_string(),
            state_key: state_key(prefix, collection, external_id),
            collection,
            external_id: external_id.to_string(),
        }
    }

    /// Runs `op` (`HSET`/`HDEL`) with `args` on the state hash if the lock is still ours.
    async fn write(
        &self,
        conn: &mut RedisConn,
        op: &'static str,
        args: &[&str],
        what: &'static str,
    ) -> Result<(), SnapshotsError> {
        let mut inv = FENCED.key(&self.lock_key);
        inv.key(&self.state_key).arg(&self.token).arg(op);
        for a in args {
            inv.arg(*a);
        }
        let done: i64 = inv.invoke_async(conn).await.map_err(SnapshotsError::redis(what))?;
        if done == 1 {
            Ok(())
        } else {
            Err(SnapshotsError::LockLost { collection: self.collection.path(), external_id: self.external_id.clone() })
        }
    }
}

/// SHA-256 (hex) of a record's canonical JSON. `serde_json::Map` keeps keys sorted, so
/// equal records hash equal whatever order the mapping produced them in.
pub fn content_hash(record: &Map<String, Value>) -> String {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn load(
    conn: &mut RedisConn,
    prefix: &str,
    collection: Collection,
    external_id: &str,
) -> Result<WriteState, SnapshotsError> {
    let fields: StateFields = load_cmd(prefix, collection, external_id)
        .query_async(conn)
        .await
        .map_err(SnapshotsError::redis("HMGET write state"))?;
    Ok(WriteState::from_fields(fields))
}

/// The fields [`load`] reads, as `HMGET` answers them: hash, source version, id, version.
pub(crate) type StateFields = (Option<String>, Option<String>, Option<String>, Option<String>);

/// The `HMGET` [`load`] sends, for a caller that pipelines it (behind the record's lock:
/// `LeaseLocks::acquire_and_read`).
pub(crate) fn load_cmd(prefix: &str, collection: Collection, external_id: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("HMGET");
    cmd.arg(state_key(prefix, collection, external_id)).arg("hash").arg("sv").arg("id").arg("ver");
    cmd
}

impl WriteState {
    pub(crate) fn from_fields((hash, sv, id, ver): StateFields) -> WriteState {
        WriteState {
            hash,
            source_version: sv.as_deref().and_then(SourceVersion::decode),
            id,
            version: ver.and_then(|v| v.parse().ok()),
        }
    }
}

/// Records a successful write (or a confirmed "already so"), if the lock is still held.
/// `version`: the record's Snapshots version now; `None` leaves the remembered one as it is.
pub async fn store(
    conn: &mut RedisConn,
    fence: &Fence,
    hash: &str,
    source_version: Option<SourceVersion>,
    id: &str,
    version: Option<u64>,
) -> Result<(), SnapshotsError> {
    let sv = source_version.map(SourceVersion::encode);
    let ver = version.map(|v| v.to_string());
    let mut args = vec!["hash", hash, "id", id];
    if let Some(sv) = &sv {
        args.extend(["sv", sv.as_str()]);
    }
    if let Some(ver) = &ver {
        args.extend(["ver", ver.as_str()]);
    }
    fence.write(conn, "HSET", &args, "HSET write state").await
}

/// Remembers the record's new Snapshots version after a write of ours that is not an
/// upsert (a tag), so the next upsert's `If-Match` is not stale.
pub async fn store_version(conn: &mut RedisConn, fence: &Fence, version: u64) -> Result<(), SnapshotsError> {
    let ver = version.to_string();
    fence.write(conn, "HSET", &["ver", ver.as_str()], "HSET write state version").await
}

/// Forgets the hash, id and version (the record is gone) but keeps the source version, so
/// a late older update cannot bring a deleted record back.
pub async fn forget_record(conn: &mut RedisConn, fence: &Fence) -> Result<(), SnapshotsError> {
    fence.write(conn, "HDEL", &["hash", "id", "ver"], "HDEL write state").await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis Cluster's rule (cluster spec, "hash tags"): when the key has a `{` and a `}`
    /// after it with at least one byte between, only that text is hashed; else the whole key.
    fn hash_tag(key: &str) -> &str {
        if let Some(open) = key.find('{') {
            if let Some(len) = key[open + 1..].find('}') {
                if len > 0 {
                    return &key[open + 1..open + 1 + len];
                }
            }
        }
        key
    }

    #[test]
    fn the_state_and_the_lock_of_a_record_share_a_hash_tag_whatever_braces_its_id_has() {
        let cases = [
            ("ringcentral:site:1", "locations:ringcentral:site:1"),
            ("a{b}c", "locations:a{b"),
            ("a}b", "locations:a"),
            ("}", "locations:"),
            ("{x}", "locations:{x"),
            ("}{", "locations:"),
            ("a{", "locations:a{"),
            ("{}", "locations:{"),
            ("x}}{{y}", "locations:x"),
        ];
        for (external_id, tag) in cases {
            let state = state_key("snapsync", Collection::Locations, external_id);
            let lock = lock_key("snapsync", Collection::Locations, external_id);
            assert_eq!(hash_tag(&state), tag, "state key {state}");
            assert_eq!(hash_tag(&lock), tag, "lock key {lock}");
            assert_ne!(state, lock);
        }
        // Different records, different tags (so they spread over the cluster's slots).
        let a = state_key("p", Collection::Leads, "ringcentral:contact:1");
        let b = state_key("p", Collection::Leads, "ringcentral:contact:2");
        assert_ne!(hash_tag(&a), hash_tag(&b));
        assert_eq!(a, "p:snap:hash:{leads:ringcentral:contact:1}");
        assert_eq!(lock_key("p", Collection::Leads, "x"), "p:snap:lock:{leads:x}");
    }

    #[test]
    fn the_hash_tag_rule_is_redis_clusters() {
        // The helper above is what the assertions rest on; pin it to the spec's examples.
        assert_eq!(hash_tag("{user1000}.following"), "user1000");
        assert_eq!(hash_tag("foo{}{bar}"), "foo{}{bar}");
        assert_eq!(hash_tag("foo{{bar}}zap"), "{bar");
        assert_eq!(hash_tag("foo{bar}{zap}"), "bar");
        assert_eq!(hash_tag("plain"), "plain");
    }
}
