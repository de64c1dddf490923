//! The flows that make writes idempotent: upsert by `external_id`, tag, delete.
//!
//! Every flow runs under the record's write lock, taken from the caller's
//! [`LeaseLocks`] (the running job's `JobMeta::locks`, so the lock lives and dies with the
//! job's lease; see `state.rs`). A record another run holds answers
//! [`SnapshotsError::Busy`] at once, with how long the lock may still be held: the job
//! snoozes rather than holding a worker slot while it waits.
//!
//! Upsert, from the record's write state (content hash, source version, Snapshots id and
//! version; `state.rs`), read in the lock's round trip (pipelined behind its `SET NX`):
//! 1. an older source version than the last applied one → [`UpsertOutcome::Stale`];
//! 2. the same content hash as last written → [`UpsertOutcome::Unchanged`], no request;
//! 3. the state knows the record's id and version → `PATCH /<collection>/<id>` with
//!    `If-Match: <version>`, no read first. A 412 (someone else changed the record since
//!    our last write) re-reads it by id and patches once more; a 404 (deleted in Snapshots)
//!    goes on as step 4. The id without a version (a state from before versions were kept)
//!    → `GET /<collection>/<id>`, then `PATCH`;
//! 4. the state knows no id → `POST` at once, with the create-only fields
//!    ([`OnCreate::fields`], e.g. a new lead's owner) and an `Idempotency-Key` (a retried
//!    create is replayed, not repeated). A 409 names `existing_id` (the record exists: the
//!    state was lost, or another writer won the race): read it and `PATCH` it without the
//!    create-only fields, so a lost race is an update and an existing record keeps them;
//! 5. remember the hash, the source version, the id and the version Snapshots answered:
//!    fenced, only while the lock is still this run's ([`SnapshotsError::LockLost`]
//!    otherwise).
//!
//! Snapshots requests per upsert: a new record 1, a changed one 1 (3 after a foreign edit
//! since our last write), an unchanged one 0; one that exists although the state does not
//! know it (state lost, a race lost) 3.

use std::cmp::Ordering;
use std::future::Future;

use serde_json::{Map, Value};
use snapsync_queue::{LeaseLocks, LockError, LockGuard};

use super::error::{ApiError, SnapshotsError};
use super::http::SnapshotsClient;
use super::state::{self, content_hash, Fence, WriteState};
use super::types::{Collection, DeleteOutcome, Record, SourceVersion, TagOutcome, UpsertOutcome};

/// How [`SnapshotsClient::upsert_with`] creates a record Snapshots does not have yet.
pub struct OnCreate<K, F> {
    /// The create's `Idempotency-Key`, from the body as it is `POST`ed (`external_id` and
    /// the create-only fields included): the same job sending the same body must get the
    /// same key, another body another key (Snapshots refuses a key reused with another body).
    pub idempotency_key: K,
    /// Fields only a create sends, e.g. a new lead's owner from the routing rules: awaited
    /// at most once, right before the `POST`, never for an update, so an existing record
    /// keeps its own values of them. A field `record` has itself is not overridden.
    pub fields: F,
}

/// A write Snapshots answered: what it did and the record's version after it.
struct Written {
    outcome: UpsertOutcome,
    version: u64,
}

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
        let on_create = OnCreate {
            idempotency_key: |_: &Map<String, Value>| idempotency_key.to_string(),
            fields: || async { Ok(Map::new()) },
        };
        self.upsert_with(locks, collection, external_id, record, source_version, on_create).await
    }

    /// [`upsert`](Self::upsert) with fields only a create sends, and the create's
    /// `Idempotency-Key` made from its body ([`OnCreate`]). An error of `on_create.fields`
    /// comes back as it is (nothing was sent); the client's own errors become `E`.
    pub async fn upsert_with<E, K, F, Fut>(
        &self,
        locks: &LeaseLocks,
        collection: Collection,
        external_id: &str,
        record: Map<String, Value>,
        source_version: Option<SourceVersion>,
        on_create: OnCreate<K, F>,
    ) -> Result<UpsertOutcome, E>
    where
        E: From<SnapshotsError>,
        K: FnOnce(&Map<String, Value>) -> String,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Map<String, Value>, E>>,
    {
        if collection == Collection::Activities {
            let e = SnapshotsError::Invalid("activities cannot be updated in Snapshots; use create_activity".into());
            return Err(e.into());
        }
        check_external_id(external_id)?;
        self.locked_with_state(locks, collection, external_id, |me, fence, known| {
            me.upsert_locked((fence, known), collection, external_id, record, source_version, on_create)
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
        self.locked(locks, collection, external_id, |me, fence| me.tag_locked(fence, collection, external_id, tag))
            .await
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
    async fn locked<'a, T, E, F, Fut>(
        &'a self,
        locks: &LeaseLocks,
        collection: Collection,
        external_id: &str,
        f: F,
    ) -> Result<T, E>
    where
        E: From<SnapshotsError>,
        F: FnOnce(&'a SnapshotsClient, Fence) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = state::lock_key(&self.key_prefix, collection, external_id);
        let guard =
            locks.acquire(&key).await.map_err(|e| lock_error(collection, external_id, "SET NX record lock", e))?;
        self.holding(guard, collection, external_id, f).await
    }

    /// [`locked`](Self::locked), with the record's write state read in the lock's round trip
    /// (pipelined behind its `SET NX`, so read under the lock) and handed to `f`.
    async fn locked_with_state<'a, T, E, F, Fut>(
        &'a self,
        locks: &LeaseLocks,
        collection: Collection,
        external_id: &str,
        f: F,
    ) -> Result<T, E>
    where
        E: From<SnapshotsError>,
        F: FnOnce(&'a SnapshotsClient, Fence, WriteState) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = state::lock_key(&self.key_prefix, collection, external_id);
        let read = state::load_cmd(&self.key_prefix, collection, external_id);
        let (guard, fields) = locks
            .acquire_and_read::<state::StateFields>(&key, &read)
            .await
            .map_err(|e| lock_error(collection, external_id, "SET NX record lock, HMGET write state", e))?;
        let known = WriteState::from_fields(fields);
        self.holding(guard, collection, external_id, move |me, fence| f(me, fence, known)).await
    }

    /// Runs `f` under the lock `guard` holds, then releases it.
    async fn holding<'a, T, E, F, Fut>(
        &'a self,
        guard: LockGuard,
        collection: Collection,
        external_id: &str,
        f: F,
    ) -> Result<T, E>
    where
        F: FnOnce(&'a SnapshotsClient, Fence) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let fence = Fence::new(&self.key_prefix, collection, external_id, &guard);
        let key = guard.key().to_string();
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

    async fn upsert_locked<E, K, F, Fut>(
        &self,
        // The lock's fence and the write state read under the lock.
        (fence, known): (Fence, WriteState),
        collection: Collection,
        external_id: &str,
        mut record: Map<String, Value>,
        source_version: Option<SourceVersion>,
        on_create: OnCreate<K, F>,
    ) -> Result<UpsertOutcome, E>
    where
        E: From<SnapshotsError>,
        K: FnOnce(&Map<String, Value>) -> String,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Map<String, Value>, E>>,
    {
        let mut conn = self.redis.clone();
        record.insert("external_id".into(), Value::String(external_id.into()));
        let hash = content_hash(&record);
        if let (Some(new), Some(applied)) = (source_version, known.source_version) {
            if new.compare(applied) == Some(Ordering::Less) {
                return Ok(UpsertOutcome::Stale { id: known.id.unwrap_or_default() });
            }
        }
        if let (Some(last), Some(id)) = (&known.hash, &known.id) {
            if *last == hash {
                // Same content; a newer source version is still worth remembering.
                state::store(&mut conn, &fence, &hash, source_version, id, None).await?;
                return Ok(UpsertOutcome::Unchanged { id: id.clone() });
            }
        }
        let updated_known = match &known.id {
            Some(id) => self.update_known(collection, id, known.version, &record).await?,
            None => None,
        };
        let written = match updated_known {
            Some(written) => written,
            None => self.create_or_update(collection, &record, on_create).await?,
        };
        let state_version = source_version.or(known.source_version);
        state::store(&mut conn, &fence, &hash, state_version, written.outcome.id(), Some(written.version)).await?;
        Ok(written.outcome)
    }

    /// Updates the record the state remembers, by its id: with its remembered `version` a
    /// `PATCH` at once, without one a read first. `None` when Snapshots no longer has it.
    async fn update_known(
        &self,
        collection: Collection,
        id: &str,
        version: Option<u64>,
        body: &Map<String, Value>,
    ) -> Result<Option<Written>, SnapshotsError> {
        let Some(version) = version else {
            return match self.get(collection, id).await? {
                Some(existing) => self.update(collection, existing, body).await.map(Some),
                None => Ok(None),
            };
        };
        match self.patch(collection, id, version, body).await {
            Ok(r) => Ok(Some(updated(version, r))),
            Err(e) if e.status() == Some(404) => Ok(None),
            // Changed by someone else since our write: read its version, patch once more.
            Err(e) if e.status() == Some(412) => match self.get(collection, id).await? {
                Some(fresh) => {
                    let r = self.patch(collection, &fresh.id, fresh.version, body).await?;
                    Ok(Some(updated(fresh.version, r)))
                }
                None => Ok(None),
            },
            // Our external id now belongs to another record (someone moved it): update that one.
            Err(SnapshotsError::Api(e)) if e.status == 409 && e.existing_id.is_some() => {
                self.update_existing(collection, *e, body).await.map(Some)
            }
            Err(e) => Err(e),
        }
    }

    /// `POST`s the record with the create-only fields; a 409 (the external id is taken)
    /// updates the record that holds it instead, without them.
    async fn create_or_update<E, K, F, Fut>(
        &self,
        collection: Collection,
        record: &Map<String, Value>,
        on_create: OnCreate<K, F>,
    ) -> Result<Written, E>
    where
        E: From<SnapshotsError>,
        K: FnOnce(&Map<String, Value>) -> String,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Map<String, Value>, E>>,
    {
        let mut body = record.clone();
        for (field, value) in (on_create.fields)().await? {
            body.entry(field).or_insert(value);
        }
        let key = (on_create.idempotency_key)(&body);
        match self.create(collection, &body, &key).await {
            Ok(created) => Ok(Written { outcome: UpsertOutcome::Created { id: created.id }, version: created.version }),
            Err(SnapshotsError::Api(e)) if e.status == 409 => Ok(self.update_existing(collection, *e, record).await?),
            Err(e) => Err(e.into()),
        }
    }

    /// A 409 named `existing_id`, the record holding the external id: read it, patch it.
    async fn update_existing(
        &self,
        collection: Collection,
        conflict: ApiError,
        body: &Map<String, Value>,
    ) -> Result<Written, SnapshotsError> {
        let Some(id) = conflict.existing_id.clone() else {
            return Err(SnapshotsError::Api(Box::new(conflict)));
        };
        let existing = self.get(collection, &id).await?.ok_or_else(|| SnapshotsError::Response {
            op: conflict.op.clone(),
            detail: format!("409 named existing_id {id}, which does not exist"),
        })?;
        self.update(collection, existing, body).await
    }

    /// PATCHes a record just read with `If-Match`; a 412 re-reads it and tries once more.
    async fn update(
        &self,
        collection: Collection,
        existing: Record,
        body: &Map<String, Value>,
    ) -> Result<Written, SnapshotsError> {
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

    /// Tags the record; when it is the one the write state remembers, the state takes its
    /// new version (our next upsert's `If-Match`).
    async fn tag_locked(
        &self,
        fence: Fence,
        collection: Collection,
        external_id: &str,
        tag: &str,
    ) -> Result<TagOutcome, SnapshotsError> {
        let outcome = self.add_tag(collection, external_id, tag).await?;
        if let TagOutcome::Tagged { id, version } = &outcome {
            let mut conn = self.redis.clone();
            let known = state::load(&mut conn, &self.key_prefix, collection, external_id).await?;
            if known.id.as_deref() == Some(id.as_str()) {
                state::store_version(&mut conn, &fence, *version).await?;
            }
        }
        Ok(outcome)
    }

    async fn add_tag(
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
fn updated(before: u64, after: Record) -> Written {
    let version = after.version;
    let outcome = if version == before {
        UpsertOutcome::Unchanged { id: after.id }
    } else {
        UpsertOutcome::Updated { id: after.id, version }
    };
    Written { outcome, version }
}

fn check_external_id(external_id: &str) -> Result<(), SnapshotsError> {
    if external_id.trim().is_empty() {
        return Err(SnapshotsError::Invalid("external_id must not be blank".into()));
    }
    Ok(())
}

/// A lock that could not be taken: busy (the job snoozes) or Redis failing.
fn lock_error(collection: Collection, external_id: &str, op: &'static str, e: LockError) -> SnapshotsError {
    match e {
        LockError::Busy { retry_in, .. } => {
            SnapshotsError::Busy { collection: collection.path(), external_id: external_id.into(), retry_in }
        }
        LockError::Redis(source) => SnapshotsError::Redis { op, source },
    }
}
