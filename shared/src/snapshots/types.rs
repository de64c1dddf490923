//! The values the Snapshots client takes and returns.

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::{Map, Value};

/// A writable Snapshots collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    Locations,
    Accounts,
    Leads,
    Activities,
}

impl Collection {
    /// The path segment, e.g. `locations`.
    pub fn path(self) -> &'static str {
        match self {
            Collection::Locations => "locations",
            Collection::Accounts => "accounts",
            Collection::Leads => "leads",
            Collection::Activities => "activities",
        }
    }

    /// The record's own id field, e.g. `location_id`.
    pub fn id_field(self) -> &'static str {
        match self {
            Collection::Locations => "location_id",
            Collection::Accounts => "account_id",
            Collection::Leads => "lead_id",
            Collection::Activities => "activity_id",
        }
    }

    pub fn from_path(path: &str) -> Option<Collection> {
        [Collection::Locations, Collection::Accounts, Collection::Leads, Collection::Activities]
            .into_iter()
            .find(|c| c.path() == path)
    }
}

impl std::fmt::Display for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path())
    }
}

/// A record as Snapshots returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `location_id`, `lead_id`, ...
    pub id: String,
    pub version: u64,
    /// Every field, the id, `version` and `updated_at` included.
    pub fields: Map<String, Value>,
}

/// One entry of `GET /owners`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Owner {
    pub owner_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    pub active: bool,
}

/// The version of a record at the source, so an older one never overwrites a newer one:
/// RingCentral's `lastModifiedTime`, or a sequence (an address-book change number).
/// Versions of different kinds do not compare; the write then goes ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceVersion {
    /// Nanoseconds since the Unix epoch.
    Timestamp(i128),
    Sequence(u64),
}

impl SourceVersion {
    /// Parses an RFC 3339 timestamp such as RingCentral's `2026-01-15T10:00:00.000Z`.
    pub fn from_timestamp(text: &str) -> Option<SourceVersion> {
        let t = time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).ok()?;
        Some(SourceVersion::Timestamp(t.unix_timestamp_nanos()))
    }

    /// How it is kept in Redis: `t:<nanos>` or `s:<n>`.
    pub fn encode(self) -> String {
        match self {
            SourceVersion::Timestamp(n) => format!("t:{n}"),
            SourceVersion::Sequence(n) => format!("s:{n}"),
        }
    }

    pub fn decode(text: &str) -> Option<SourceVersion> {
        let (kind, n) = text.split_once(':')?;
        match kind {
            "t" => n.parse().ok().map(SourceVersion::Timestamp),
            "s" => n.parse().ok().map(SourceVersion::Sequence),
            _ => None,
        }
    }

    /// `Some` only for versions of the same kind.
    pub fn compare(self, other: SourceVersion) -> Option<Ordering> {
        match (self, other) {
            (SourceVersion::Timestamp(a), SourceVersion::Timestamp(b)) => Some(a.cmp(&b)),
            (SourceVersion::Sequence(a), SourceVersion::Sequence(b)) => Some(a.cmp(&b)),
            _ => None,
        }
    }
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new record (also when Snapshots replayed our earlier create of it).
    Created { id: String },
    /// An existing record changed; `version` is its new version.
    Updated { id: String, version: u64 },
    /// Nothing to write: the mapped record equals the one last written, or Snapshots
    /// already held exactly these values.
    Unchanged { id: String },
    /// The source version is older than the one last applied: not written. `id` is the
    /// record's id when known (empty when the record was never written by us).
    Stale { id: String },
}

impl UpsertOutcome {
    pub fn id(&self) -> &str {
        match self {
            UpsertOutcome::Created { id }
            | UpsertOutcome::Updated { id, .. }
            | UpsertOutcome::Unchanged { id }
            | UpsertOutcome::Stale { id } => id,
        }
    }

    /// True when Snapshots was written.
    pub fn wrote(&self) -> bool {
        matches!(self, UpsertOutcome::Created { .. } | UpsertOutcome::Updated { .. })
    }
}

/// What `create_activity` did. Activities cannot be patched, so an existing one is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityOutcome {
    Created {
        id: String,
    },
    /// An activity with this `external_id` exists already (an earlier run made it).
    Existing {
        id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted { id: String },
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    Tagged { id: String, version: u64 },
    AlreadyTagged { id: String },
    NotFound,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_versions() {
        let a = SourceVersion::from_timestamp("2026-01-15T10:00:00.000Z").unwrap();
        let b = SourceVersion::from_timestamp("2026-01-15T10:00:00.001Z").unwrap();
        assert_eq!(a.compare(b), Some(Ordering::Less));
        assert_eq!(SourceVersion::decode(&b.encode()), Some(b));
        assert_eq!(SourceVersion::decode(&SourceVersion::Sequence(9).encode()), Some(SourceVersion::Sequence(9)));
        assert_eq!(a.compare(SourceVersion::Sequence(1)), None);
        assert_eq!(SourceVersion::from_timestamp("yesterday"), None);
        assert_eq!(SourceVersion::decode("x:1"), None);
    }
}
