//! # Field mapping
//!
//! Turns RingCentral records into Snapshots records as a mapping file says (default:
//! `mapping/default.toml` at the repo root, also built in as [`DEFAULT_MAPPING`]). A file
//! has one table per resource — `location_from_site`, `location_from_emergency_location`,
//! `account`, `lead_from_contact`, `follow_up_from_voicemail`, `activity_from_call`,
//! `activity_from_message` (these two may be left out: they then map as the built-in
//! default does) — with an `external_id`
//! template and `fields`: Snapshots field = RingCentral path, template or constant, with
//! transforms (trim, lowercase, uppercase, phone → E.164, region_code, country_code,
//! lookup) and a default when empty. The file is checked as a whole when loaded. A file is
//! TOML or JSON (by extension, one schema, one validation: [`Format`]). A mapping saved
//! through the admin API (the dashboard's editor) lives in Redis and overrides the file in
//! every worker from its next job on ([`store`], [`LiveMapping`]).
//!
//! # Layout
//! - [`spec`]: reading and checking a file into a [`Mapping`].
//! - [`apply`]: [`Mapping::map`], one record at a time, into a [`Mapped`].
//! - [`fields`]: the known RingCentral source paths per [`Resource`] and the Snapshots
//!   target fields with the rules Snapshots enforces.
//! - [`transform`]: the transforms, templates and path lookup.
//! - [`phone`]: E.164 normalisation; [`geo`]: region and country codes.
//! - [`dedup`]: duplicate contacts by email (first synced owns the lead).
//! - [`store`]: the saved mapping and its history in Redis; [`LiveMapping`], a worker's handle.
//! - [`error`] — [`MappingError`].

pub mod apply;
pub mod dedup;
pub mod error;
pub mod fields;
pub mod geo;
pub mod phone;
pub mod spec;
pub mod store;
pub mod transform;

use serde_json::Value;

pub use apply::Mapped;
pub use dedup::{claim_lead_email, release_lead_email, EmailClaim};
pub use error::MappingError;
pub use fields::Resource;
pub use spec::{Format, Mapping};
pub use store::{LiveMapping, SavedMapping};

/// The default mapping file's text (the same as `mapping/default.toml`).
pub const DEFAULT_MAPPING: &str = include_str!("../../../mapping/default.toml");

impl Mapping {
    /// The built-in default mapping.
    pub fn builtin() -> Result<Mapping, MappingError> {
        Mapping::parse("mapping/default.toml", DEFAULT_MAPPING)
    }

    /// The mapping `[mapping] path` names, as every process loads it: the file, or the
    /// built-in default when the path is the default one and no such file exists (a binary
    /// run outside the repository). `true` with the built-in one.
    pub fn for_config(config: &crate::config::MappingConfig) -> Result<(Mapping, bool), MappingError> {
        let default = crate::config::MappingConfig::default().path;
        if config.path == default && !config.path.exists() {
            return Ok((Mapping::builtin()?, true));
        }
        Ok((Mapping::load(&config.path)?, false))
    }
}

/// The one object the `account` resource maps from: account info
/// (`GET /restapi/v1.0/account/~`) with the business-address resource's `company`,
/// `email`, `mainSiteName` and `businessAddress` added, and the operator extension
/// (`GET .../extension/{operator.id}`) under `operatorExtension`.
pub fn account_source(account_info: &Value, business_address: &Value, operator_extension: Option<&Value>) -> Value {
    let mut out = account_info.as_object().cloned().unwrap_or_default();
    for key in ["company", "email", "mainSiteName", "businessAddress"] {
        if let Some(v) = business_address.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(op) = operator_extension {
        out.insert("operatorExtension".into(), op.clone());
    }
    Value::Object(out)
}
