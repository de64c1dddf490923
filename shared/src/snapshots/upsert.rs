//! The flows that make writes idempotent: upsert by `external_id`, tag, delete.
//!
//! Every flow runs under the record's write lock, taken from the caller's
//! [`LeaseLocks`] (the running job's `JobMeta::locks`, so the lock lives and dies with the
//! job's lease; see `state.rs`). A record another run holds answers
//! [`SnapshotsError::Busy`] at once, with how long the lock may still be held: the job
//! snoozes rather than holding a worker slot while it waits.
//!
//! Upsert:
//! 1. an older source version than the last applied one → [`UpsertOutcome::Stale`];
//! 2. the same content hash as last written → [`UpsertOutcome::Unchanged`], no request;
//! 3. `GET /<collection>?external_id=` → found: `PATCH` with `If-Match` (a 412 re-reads
//!    and retries once); not found: `POST` with the caller's `Idempotency-Key` (a 409
//!    names `existing_id`: read it and `PATCH` it, so a lost race is an update);
//! 4. remember the hash, the source version and the id: fenced, only while the lock is
//!    still this run's ([`SnapshotsError::LockLost`] otherwise).

use std::cmp::Ordering;

use serde_json::{Map, Value};
use snapsync_queue::{LeaseLocks, LockError};

use super::error::SnapshotsError;
use super::http::SnapshotsClient;
use super::state::{self, content_hash, Fence};
use super::types::{Collection, DeleteOutcome, Record, SourceVersion, TagOutcome, UpsertOutcome};

impl SnapshotsClient {
    /// Creates or updates the record with this `external_id` (see the module docs).
    /// `record` is the mapped record without `external_id` (it is set here); a `null`
    /// value means "not sent" on a create and "clear it" on an update.
    /// `idempotency_key` is derived by the caller from the job (same job → same key).
    /// `locks`: the running job's lease locks (`JobMeta::locks`), or
    /// `LeaseLocks::standalone` outside a job.
    pub async fn upsert(
        &self,
        locks: &LeaseLocks,
        collection: Collection,
        external_id: &str,
        record: Map<String, Value>,
        idempotency_key: &str,
        source_version: Option<SourceVersion>,
    ) -> Result<UpsertOutcome, SnapshotsError> {
        if collection == Collection::Activities {
            return Err(SnapshotsError::Invalid(
                "activities cannot be updated in Snapshots; use create_activity".into(),
            ));
        }
        check_external_id(external_id)?;
        self.locked(locks, collection, external_id, |me, fence| {
            me.upsert_locked(fence, collection, external_id, record, idempotency_key, source_version)
        })
        .await
    }

    /// Adds `tag` to the record's `tags` (the "deleted at source" action for collections
    /// Snapshots cannot delete from).
    pub async fn tag(
        &self,
        locks: &LeaseLocks,
        collection: Collection,
        external_id: &str,
        tag: &str,
    ) -> Result<TagOutcome, SnapshotsError> {
        check_external_id(external_id)?;
        self.locked(locks, collection, external_id, |me, _fence| me.tag_locked(collection, external_id, tag)).await
    }

    /// Deletes the record with this `external_id` (Snapshots allows it for locations).
    pub async fn delete(
        &self,
        locks: &LeaseLocks,
        collection: Collection,
        external_id: &str,
    ) -> Result<DeleteOutcome, SnapshotsError> {
        check_external_id(external_id)?;
        self.locked(locks, collection, external_id, |me, fence| async move {
            let mut conn = me.redis.clone();
            let outcome = match me.find_by_external_id(collection, external_id).await? {
                Some(r) if me.delete_by_id(collection, &r.id).await? => DeleteOutcome::Deleted { id: r.id },
                _ => DeleteOutcome::NotFound,
            };
            state::forget_record(&mut conn, &fence).await?;
            Ok(outcome)
        })
        .await
    }

    /// Runs `f` holding the record's lock from `locks`, with the [`Fence`] its state writes
    /// go through; the lock is released whatever `f` returns (and, should this future be
    /// dropped mid-way, by the guard's drop).
    async fn locked<'a, T, F, Fut>(
        &'a self,
        locks: &LeaseLocks,
        collection: Collection,
        external_id: &str,
        f: F,
    ) -> Result<T, SnapshotsError>
    where
        F: FnOnce(&'a SnapshotsClient, Fence) -> Fut,
        Fut: std::future::Future<Output = Result<T, SnapshotsError>>,
    {
        let key = state::lock_key(&self.key_prefix, collection, external_id);
        let guard = locks.acquire(&key).await.map_err(|e| match e {
            LockError::Busy { retry_in, .. } => {
                SnapshotsError::Busy { collection: collection.path(), external_id: external_id.into(), retry_in }
            }
            LockError::Redis(source) => SnapshotsError::Redis { op: "SET NX record lock", source },
        })?;
        let fence = Fence::new(&self.key_prefix, collection, external_id, &guard);
        let result = f(self, fence).await;
        match guard.release().await {
            Ok(true) => {}
            // Expired (a stalled run): any state write after that was refused by the fence.
            Ok(false) => tracing::warn!(lock = %key, "a snapshots record lock had expired before its release"),
            // It expires with its TTL; the work itself is done, so do not fail it.
            Err(e) => tracing::warn!(error = %e, lock = %key, "could not release a snapshots record lock"),
        }
        result
    }

    async fn upsert_locked(
        &self,
        fence: Fence,
        collection: Collection,
        external_id: &str,
        mut record: Map<String, Value>,
        idempotency_key: &str,
        source_version: Option<SourceVersion>,
    ) -> Result<UpsertOutcome, SnapshotsError> {
        let mut conn = self.redis.clone();
        record.insert("external_id".into(), Value::String(external_id.into()));
        let hash = content_hash(&record);
        let known = state::load(&mut conn, &self.key_prefix, collection, external_id).await?;
        if let (Some(new), Some(applied)) = (source_version, known.source_version) {
            if new.compare(applied) == Some(Ordering::Less) {
                return Ok(UpsertOutcome::Stale { id: known.id.unwrap_or_default() });
            }
        }
        if let (Some(last), Some(id)) = (&known.hash, &known.id) {
            if *last == hash {
                // Same content; a newer source version is still worth remembering.
                state::store(&mut conn, &fence, &hash, source_version, id).await?;
                return Ok(UpsertOutcome::Unchanged { id: id.clone() });
            }
        }
        let outcome = match self.find_by_external_id(collection, external_id).await? {
            Some(existing) => self.update(collection, existing, &record).await?,
            None => match self.create(collection, &record, idempotency_key).await {
                Ok(created) => UpsertOutcome::Created { id: created.id },
                Err(SnapshotsError::Api(e)) if e.status == 409 => {
                    let op = e.op.clone();
                    let Some(id) = e.existing_id else {
                        return Err(SnapshotsError::Api(e));
                    };
                    let existing = self.get(collection, &id).await?.ok_or_else(|| SnapshotsError::Response {
                        op,
                        detail: format!("409 named existing_id {id}, which does not exist"),
                    })?;
                    self.update(collection, existing, &record).await?
                }
                Err(e) => return Err(e),
            },
        };
        let state_version = source_version.or(known.source_version);
        state::store(&mut conn, &fence, &hash, state_version, outcome.id()).await?;
        Ok(outcome)
    }

    /// PATCHes an existing record with `If-Match`; a 412 re-reads it and tries once more.
    async fn update(
        &self,
        collection: Collection,
        existing: Record,
        body: &Map<String, Value>,
    ) -> Result<UpsertOutcome, SnapshotsError> {
        match self.patch(collection, &existing.id, existing.version, body).await {
            Ok(r) => Ok(updated(existing.version, r)),
            Err(e) if e.status() == Some(412) => {
                let fresh = self.reread(collection, &existing.id, &e).await?;
                let r = self.patch(collection, &fresh.id, fresh.version, body).await?;
                Ok(updated(fresh.version, r))
            }
            Err(e) => Err(e),
        }
    }

    async fn reread(&self, collection: Collection, id: &str, cause: &SnapshotsError) -> Result<Record, SnapshotsError> {
        self.get(collection, id).await?.ok_or_else(|| SnapshotsError::Response {
            op: format!("GET /{}/{id}", collection.path()),
            detail: format!("record vanished after {cause}"),
        })
    }

    async fn tag_locked(
        &self,
        collection: Collection,
        external_id: &str,
        tag: &str,
    ) -> Result<TagOutcome, SnapshotsError> {
        let Some(mut current) = self.find_by_external_id(collection, external_id).await? else {
            return Ok(TagOutcome::NotFound);
        };
        for attempt in 0..2 {
            let mut tags: Vec<Value> =
                current.fields.get("tags").and_then(Value::as_array).cloned().unwrap_or_default();
            if tags.iter().any(|t| t.as_str() == Some(tag)) {
                return Ok(TagOutcome::AlreadyTagged { id: current.id });
            }
            tags.push(Value::String(tag.into()));
            let body = Map::from_iter([("tags".to_string(), Value::Array(tags))]);
            match self.patch(collection, &current.id, current.version, &body).await {
                Ok(r) => return Ok(TagOutcome::Tagged { id: r.id, version: r.version }),
                Err(e) if e.status() == Some(412) && attempt == 0 => {
                    current = self.reread(collection, &current.id, &e).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(SnapshotsError::Invalid("unreachable: tag loop ended".into()))
    }
}

/// A PATCH that changed nothing keeps the version: Snapshots holds these values already.
fn updated(before: u64, after: Record) -> UpsertOutcome {
    if after.version == before {
        UpsertOutcome::Unchanged { id: after.id }
    } else {
        UpsertOutcome::Updated { id: after.id, version: after.version }
    }
}

fn check_external_id(external_id: &str) -> Result<(), SnapshotsError> {
    if external_id.trim().is_empty() {
        return Err(SnapshotsError::Invalid("external_id must not be blank".into()));
    }
    Ok(())
}
