//! The in-memory records: four collections, their external-id indexes, versions, and the
//! owners fixture.
//!
//! Records keep creation order (lists and the dump follow it). Ids are the collection's
//! prefix and 16 hex digits, a bijective scramble of `(seed, kind, n)`: deterministic for a
//! given sequence of creates, never reused in one process (counters survive a reset), and
//! opaque so clients cannot lean on their order. A change bumps `version` by one and sets
//! `updated_at`; a `PATCH` that changes nothing leaves both alone.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::errors::ApiError;
use super::owners::{self, Owner};
use super::schema::Kind;
use super::validate::{self, Mode, References};

/// One record: Snapshots' bookkeeping and the written fields.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub version: i64,
    pub updated_at: String,
    pub fields: Map<String, Value>,
}

impl Record {
    /// The record as the API returns it.
    pub fn to_json(&self, kind: Kind) -> Value {
        let mut out = self.fields.clone();
        out.insert(kind.id_field().into(), Value::String(self.id.clone()));
        out.insert("version".into(), Value::from(self.version));
        out.insert("updated_at".into(), Value::String(self.updated_at.clone()));
        Value::Object(out)
    }

    fn external_id(&self) -> Option<&str> {
        self.fields.get("external_id").and_then(Value::as_str)
    }
}

#[derive(Default)]
struct Collection {
    /// By creation sequence, so iteration is creation order.
    records: BTreeMap<u64, Record>,
    by_id: HashMap<String, u64>,
    by_external: HashMap<String, u64>,
    /// Creates so far, for ids; not reset, so an id is never handed out twice.
    created: u64,
}

impl Collection {
    fn get(&self, id: &str) -> Option<&Record> {
        self.by_id.get(id).and_then(|seq| self.records.get(seq))
    }
}

/// The outcome of a `PATCH` that passed every check.
#[derive(Debug, Clone)]
pub struct Patched {
    pub record: Value,
    /// False when every sent field already had the sent value.
    pub changed: bool,
}

/// Every collection and the owners.
pub struct Store {
    seed: u64,
    collections: HashMap<Kind, Collection>,
    owners: Vec<Owner>,
}

impl Store {
    pub fn new(seed: u64) -> Store {
        let collections = Kind::ALL.into_iter().map(|k| (k, Collection::default())).collect();
        Store { seed, collections, owners: owners::fixture(seed) }
    }

    fn coll(&self, kind: Kind) -> &Collection {
        // Every kind is inserted by `new` and never removed.
        &self.collections[&kind]
    }

    fn coll_mut(&mut self, kind: Kind) -> &mut Collection {
        self.collections.entry(kind).or_default()
    }

    /// Empties every collection and restores the owners fixture.
    pub fn reset(&mut self) {
        for c in self.collections.values_mut() {
            let created = c.created;
            *c = Collection { created, ..Collection::default() };
        }
        self.owners = owners::fixture(self.seed);
    }

    pub fn owners(&self) -> &[Owner] {
        &self.owners
    }

    /// Sets an owner's `active` flag; `None` if there is no such owner.
    pub fn set_owner_active(&mut self, id: &str, active: bool) -> Option<Owner> {
        let owner = self.owners.iter_mut().find(|o| o.owner_id == id)?;
        owner.active = active;
        Some(owner.clone())
    }

    pub fn get(&self, kind: Kind, id: &str) -> Result<Value, ApiError> {
        self.coll(kind).get(id).map(|r| r.to_json(kind)).ok_or_else(|| missing(kind, id))
    }

    /// Records in creation order, optionally only the one with `external_id`.
    pub fn list(&self, kind: Kind, external_id: Option<&str>) -> Vec<Value> {
        let c = self.coll(kind);
        match external_id {
            Some(ext) => {
                c.by_external.get(ext).and_then(|seq| c.records.get(seq)).map(|r| r.to_json(kind)).into_iter().collect()
            }
            None => c.records.values().map(|r| r.to_json(kind)).collect(),
        }
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.coll(kind).records.len()
    }

    /// Validates `body` and creates the record (version 1).
    pub fn create(&mut self, kind: Kind, body: &Map<String, Value>) -> Result<Value, ApiError> {
        let fields = validate::check(kind, Mode::Create, body, self)?;
        let ext = fields.get("external_id").and_then(Value::as_str).map(str::to_string);
        if let Some(ext) = &ext {
            self.check_external_free(kind, ext, None)?;
        }
        let seed = self.seed;
        let c = self.coll_mut(kind);
        c.created += 1;
        let seq = c.created;
        let id = format!("{}{:016x}", kind.prefix(), scramble(seed, kind, seq));
        let record = Record { id: id.clone(), version: 1, updated_at: now_rfc3339(), fields };
        let json = record.to_json(kind);
        c.by_id.insert(id, seq);
        if let Some(ext) = ext {
            c.by_external.insert(ext, seq);
        }
        c.records.insert(seq, record);
        Ok(json)
    }

    /// Applies the sent fields of `body` to record `id`. Checks, in order: the record
    /// exists (404), `If-Match` (412), the body (422), the external id is free (409).
    pub fn patch(
        &mut self,
        kind: Kind,
        id: &str,
        if_match: Option<i64>,
        body: &Map<String, Value>,
    ) -> Result<Patched, ApiError> {
        let current = self.coll(kind).get(id).ok_or_else(|| missing(kind, id))?;
        if let Some(v) = if_match {
            if v != current.version {
                return Err(ApiError::version_mismatch(v, current.version));
            }
        }
        let changes = validate::check(kind, Mode::Patch, body, self)?;
        let mut fields = current.fields.clone();
        fields.extend(changes);
        if fields == current.fields {
            return Ok(Patched { record: current.to_json(kind), changed: false });
        }
        let old_ext = current.external_id().map(str::to_string);
        let new_ext = fields.get("external_id").and_then(Value::as_str).map(str::to_string);
        if let Some(ext) = new_ext.as_deref().filter(|e| Some(*e) != old_ext.as_deref()) {
            self.check_external_free(kind, ext, Some(id))?;
        }
        let c = self.coll_mut(kind);
        let Some(&seq) = c.by_id.get(id) else { return Err(missing(kind, id)) };
        if old_ext != new_ext {
            if let Some(old) = &old_ext {
                c.by_external.remove(old);
            }
            if let Some(new) = new_ext {
                c.by_external.insert(new, seq);
            }
        }
        let Some(record) = c.records.get_mut(&seq) else { return Err(missing(kind, id)) };
        record.fields = fields;
        record.version += 1;
        record.updated_at = now_rfc3339();
        Ok(Patched { record: record.to_json(kind), changed: true })
    }

    /// Deletes record `id` (404 if unknown, 412 on a stale `If-Match`); its external id is
    /// free again afterwards.
    pub fn delete(&mut self, kind: Kind, id: &str, if_match: Option<i64>) -> Result<(), ApiError> {
        let c = self.coll_mut(kind);
        let Some(&seq) = c.by_id.get(id) else { return Err(missing(kind, id)) };
        let Some(record) = c.records.get(&seq) else { return Err(missing(kind, id)) };
        if let Some(v) = if_match.filter(|v| *v != record.version) {
            return Err(ApiError::version_mismatch(v, record.version));
        }
        if let Some(ext) = record.external_id().map(str::to_string) {
            c.by_external.remove(&ext);
        }
        c.by_id.remove(id);
        c.records.remove(&seq);
        Ok(())
    }

    /// Every collection, for `GET /sandbox/records`.
    pub fn dump(&self) -> Value {
        let mut out = Map::new();
        for kind in Kind::ALL {
            out.insert(kind.collection().into(), Value::Array(self.list(kind, None)));
        }
        out.insert("owners".into(), serde_json::to_value(&self.owners).unwrap_or(Value::Null));
        Value::Object(out)
    }

    fn check_external_free(&self, kind: Kind, ext: &str, except: Option<&str>) -> Result<(), ApiError> {
        let c = self.coll(kind);
        match c.by_external.get(ext).and_then(|seq| c.records.get(seq)) {
            Some(holder) if Some(holder.id.as_str()) != except => Err(ApiError::conflict(ext, &holder.id)),
            _ => Ok(()),
        }
    }
}

impl References for Store {
    fn owner(&self, id: &str) -> Option<bool> {
        self.owners.iter().find(|o| o.owner_id == id).map(|o| o.active)
    }

    fn location_exists(&self, id: &str) -> bool {
        self.coll(Kind::Locations).get(id).is_some()
    }

    fn lead_exists(&self, id: &str) -> bool {
        self.coll(Kind::Leads).get(id).is_some()
    }
}

fn missing(kind: Kind, id: &str) -> ApiError {
    ApiError::not_found(format!("no {} with id {id:?}; GET /{} lists them", kind.noun(), kind.collection()))
}

/// Now, RFC 3339 in UTC with millisecond precision.
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_millisecond(now.millisecond()).unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// A bijection of `n` (for fixed seed and kind), so ids never collide.
fn scramble(seed: u64, kind: Kind, n: u64) -> u64 {
    let mut z = n ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((kind as u64 + 1) << 56);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("test body must be an object"),
        }
    }

    #[test]
    fn versions_external_ids_and_noop_patches() {
        let mut s = Store::new(1);
        let a = s.create(Kind::Locations, &obj(json!({"name": "HQ", "external_id": "ringcentral:site:1"}))).unwrap();
        let id = a["location_id"].as_str().unwrap().to_string();
        assert!(id.starts_with("loc_") && id.len() == 20);
        assert_eq!(a["version"], 1);
        let dup = s.create(Kind::Locations, &obj(json!({"name": "HQ2", "external_id": "ringcentral:site:1"})));
        assert_eq!(dup.unwrap_err().existing_id.as_deref(), Some(id.as_str()));
        let same = s.patch(Kind::Locations, &id, Some(1), &obj(json!({"name": "HQ"}))).unwrap();
        assert!(!same.changed);
        assert_eq!(same.record["version"], 1);
        let moved = s.patch(Kind::Locations, &id, None, &obj(json!({"city": "Oslo"}))).unwrap();
        assert_eq!((moved.changed, moved.record["version"].as_i64()), (true, Some(2)));
        assert_eq!(moved.record["name"], "HQ");
        assert_eq!(s.patch(Kind::Locations, &id, Some(1), &obj(json!({}))).unwrap_err().code, "version_mismatch");
        s.delete(Kind::Locations, &id, Some(2)).unwrap();
        assert!(s.create(Kind::Locations, &obj(json!({"name": "HQ", "external_id": "ringcentral:site:1"}))).is_ok());
    }

    #[test]
    fn ids_are_deterministic_and_not_reused_after_reset() {
        let mut a = Store::new(7);
        let mut b = Store::new(7);
        let body = obj(json!({"name": "x"}));
        let first = a.create(Kind::Leads, &body).unwrap()["lead_id"].clone();
        assert_eq!(first, b.create(Kind::Leads, &body).unwrap()["lead_id"]);
        a.reset();
        assert_eq!(a.count(Kind::Leads), 0);
        assert_ne!(first, a.create(Kind::Leads, &body).unwrap()["lead_id"]);
    }
}
