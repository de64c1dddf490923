//! What snapsync remembers per written record, in Redis, so it can skip writes:
//! `{prefix}:snap:hash:<collection>:<external_id>` is a Redis hash with
//! - `hash`: SHA-256 of the mapped record last written (canonical JSON: keys sorted),
//! - `sv`: the last applied source version (`t:<nanos>` / `s:<n>`, see [`SourceVersion`]),
//! - `id`: the Snapshots id of the record.
//!
//! "Read the state, decide, write, store the state" must not interleave with another
//! worker doing the same for the same record, or an older version could land last. So
//! each upsert holds `{prefix}:snap:lock:<collection>:<external_id>` (SET NX with a TTL and
//! a random token, released only by its holder). The TTL outlives the longest upsert
//! (at most five 30 s requests) so a live holder never loses it; a crashed one frees it.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use snapsync_queue::RedisConn;

use super::error::SnapshotsError;
use super::types::{Collection, SourceVersion};

const LOCK_TTL_MS: u64 = 180_000;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// The remembered state of one record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteState {
    pub hash: Option<String>,
    pub source_version: Option<SourceVersion>,
    pub id: Option<String>,
}

pub fn state_key(prefix: &str, collection: Collection, external_id: &str) -> String {
    format!("{prefix}:snap:hash:{}:{external_id}", collection.path())
}

fn lock_key(prefix: &str, collection: Collection, external_id: &str) -> String {
    format!("{prefix}:snap:lock:{}:{external_id}", collection.path())
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
    let (hash, sv, id): (Option<String>, Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(state_key(prefix, collection, external_id))
        .arg("hash")
        .arg("sv")
        .arg("id")
        .query_async(conn)
        .await
        .map_err(SnapshotsError::redis("HMGET write state"))?;
    Ok(WriteState { hash, source_version: sv.as_deref().and_then(SourceVersion::decode), id })
}

/// Records a successful write (or a confirmed "already so").
pub async fn store(
    conn: &mut RedisConn,
    prefix: &str,
    collection: Collection,
    external_id: &str,
    hash: &str,
    source_version: Option<SourceVersion>,
    id: &str,
) -> Result<(), SnapshotsError> {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(state_key(prefix, collection, external_id)).arg("hash").arg(hash).arg("id").arg(id);
    if let Some(sv) = source_version {
        cmd.arg("sv").arg(sv.encode());
    }
    cmd.query_async::<()>(conn).await.map_err(SnapshotsError::redis("HSET write state"))
}

/// Forgets the hash and id (the record is gone) but keeps the source version, so a late
/// older update cannot bring a deleted record back.
pub async fn forget_record(
    conn: &mut RedisConn,
    prefix: &str,
    collection: Collection,
    external_id: &str,
) -> Result<(), SnapshotsError> {
    redis::cmd("HDEL")
        .arg(state_key(prefix, collection, external_id))
        .arg("hash")
        .arg("id")
        .query_async::<()>(conn)
        .await
        .map_err(SnapshotsError::redis("HDEL write state"))
}

/// Clears the remembered hash only, so the next upsert writes even if unchanged
/// (after a tag changed the record outside the mapping, for example).
pub async fn forget_hash(
    conn: &mut RedisConn,
    prefix: &str,
    collection: Collection,
    external_id: &str,
) -> Result<(), SnapshotsError> {
    redis::cmd("HDEL")
        .arg(state_key(prefix, collection, external_id))
        .arg("hash")
        .query_async::<()>(conn)
        .await
        .map_err(SnapshotsError::redis("HDEL write state hash"))
}

/// A held per-record lock; release it with [`RecordLock::release`].
pub struct RecordLock {
    key: String,
    token: String,
}

impl RecordLock {
    /// Takes the lock or answers [`SnapshotsError::Busy`] (retryable) at once: waiting
    /// here would hold a worker slot while another worker finishes the same record.
    pub async fn acquire(
        conn: &mut RedisConn,
        prefix: &str,
        collection: Collection,
        external_id: &str,
    ) -> Result<RecordLock, SnapshotsError> {
        let key = lock_key(prefix, collection, external_id);
        let token = uuid::Uuid::new_v4().to_string();
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LOCK_TTL_MS)
            .query_async(conn)
            .await
            .map_err(SnapshotsError::redis("SET NX record lock"))?;
        match set {
            Some(_) => Ok(RecordLock { key, token }),
            None => Err(SnapshotsError::Busy {
                collection: collection.path(),
                external_id: external_id.into(),
                retry_in: std::time::Duration::from_millis(200),
            }),
        }
    }

    pub async fn release(self, conn: &mut RedisConn) -> Result<(), SnapshotsError> {
        redis::Script::new(RELEASE)
            .key(&self.key)
            .arg(&self.token)
            .invoke_async::<i64>(conn)
            .await
            .map(|_| ())
            .map_err(SnapshotsError::redis("release record lock"))
    }
}
