//! The mapping editor's server side, for the admin API (`/admin/mapping…`) and
//! `snapsync mapping …`: the mapping file the producer was configured with, a candidate
//! mapping from a request body, and real records read from the connected RingCentral
//! account to preview a mapping on (read only: no sync token is stored, nothing written).

use std::time::Duration;

use serde_json::{json, Value};
use snapsync::config::MappingConfig;
use snapsync::mapping::{account_source, Format, Mapping, MappingError, Resource, DEFAULT_MAPPING};
use snapsync::ringcentral::{RcError, RingCentral};

/// The most records one preview reads.
pub const PREVIEW_MAX: usize = 25;

/// The mapping file of `mapping.path`, as every worker loads it when no mapping is saved.
#[derive(Debug, Clone)]
pub struct MappingFile {
    /// The path, or "built-in default".
    pub name: String,
    pub format: Format,
    /// `None` when the file cannot be read (the workers refuse to start then).
    pub text: Option<String>,
}

impl MappingFile {
    pub fn for_config(config: &MappingConfig) -> MappingFile {
        let default = MappingConfig::default().path;
        if config.path == default && !config.path.exists() {
            return MappingFile {
                name: "built-in default".into(),
                format: Format::Toml,
                text: Some(DEFAULT_MAPPING.into()),
            };
        }
        let name = config.path.display().to_string();
        let text = std::fs::read_to_string(&config.path).ok();
        MappingFile { format: Format::from_file(&name), name, text }
    }
}

/// A candidate mapping in a request body: `{"mapping": {...}}` (the JSON document, as the
/// editor sends it; stored as pretty JSON) or `{"text": "...", "format": "toml" | "json"}`.
pub fn candidate(body: &Value) -> Result<(Format, String), &'static str> {
    const SHAPE: &str = "expected {\"mapping\": {...}} or {\"text\": \"...\", \"format\": \"toml\"|\"json\"}";
    match (body.get("mapping"), body.get("text")) {
        (Some(doc), None) if doc.is_object() => {
            Ok((Format::Json, serde_json::to_string_pretty(doc).map_err(|_| SHAPE)?))
        }
        (None, Some(Value::String(text))) => {
            let format = match body.get("format") {
                None => Format::Toml,
                Some(Value::String(f)) => Format::from_name(f).ok_or(SHAPE)?,
                Some(_) => return Err(SHAPE),
            };
            Ok((format, text.clone()))
        }
        _ => Err(SHAPE),
    }
}

/// The name a candidate goes by in its problems.
pub const CANDIDATE: &str = "submitted mapping";

/// Checks a candidate: its problems, one line each, on failure.
pub fn check(format: Format, text: &str) -> Result<Mapping, Vec<String>> {
    Mapping::parse_as(CANDIDATE, text, format).map_err(|e| e.lines())
}

/// A personal contact read for a preview, with the extension whose address book holds it.
#[derive(Debug, Clone)]
pub struct ContactSample {
    pub extension_id: String,
    pub site: Option<String>,
    pub source: Value,
}

/// Up to `n` real contacts: each user extension's address book read from its first page as a
/// full sync (whatever token a sync stored: an incremental read would show only the latest
/// changes), the token never committed. Each page waits for its Heavy permit as a sync's would.
pub async fn contact_samples(rc: &RingCentral, n: usize) -> Result<Vec<ContactSample>, (&'static str, RcError)> {
    let users = rc.extensions(&[("type", "User".to_string())]).await.map_err(|e| ("listing user extensions", e))?;
    let mut out = Vec::new();
    for ext in &users {
        if out.len() >= n {
            break;
        }
        let mut sync = rc.full_contact_sync(&ext.id).await.map_err(|e| ("address book", e))?;
        let page = snapsync_queue::with_patience(snapsync::ringcentral::limits::PAGE_PATIENCE, sync.next_page())
            .await
            .map_err(|e| ("address book", e))?;
        let Some(page) = page else { continue };
        let site = ext.site.as_ref().and_then(|s| s.id.clone());
        for contact in page.contacts.iter().filter(|c| !c.is_deleted()).take(n - out.len()) {
            out.push(ContactSample {
                extension_id: ext.id.clone(),
                site: site.clone(),
                source: serde_json::to_value(contact).unwrap_or(Value::Null),
            });
        }
    }
    Ok(out)
}

fn to_json(record: &impl serde::Serialize) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

/// Up to `n` real source records of `resource`, as the workers read them: contacts from the
/// address books, sites, emergency locations, the account (info + business address + operator
/// extension, one record), voicemails, SMS and faxes from the user extensions' message stores
/// and calls from the account's call log (the last 30 days).
pub async fn samples(rc: &RingCentral, resource: Resource, n: usize) -> Result<Vec<Value>, (&'static str, RcError)> {
    Ok(match resource {
        Resource::LeadFromContact => contact_samples(rc, n).await?.into_iter().map(|s| s.source).collect(),
        Resource::LocationFromSite => rc.sites().await.map_err(|e| ("sites", e))?.iter().take(n).map(to_json).collect(),
        Resource::LocationFromEmergencyLocation => rc
            .emergency_locations(&[])
            .await
            .map_err(|e| ("emergency locations", e))?
            .iter()
            .take(n)
            .map(to_json)
            .collect(),
        Resource::Account => {
            let info = rc.account_info().await.map_err(|e| ("account info", e))?;
            let address = rc.business_address().await.map_err(|e| ("business address", e))?;
            let operator = match info.operator.as_ref().and_then(|o| o.id.as_deref()) {
                Some(id) => Some(rc.extension(id).await.map_err(|e| ("operator extension", e))?),
                None => None,
            };
            vec![account_source(&to_json(&info), &to_json(&address), operator.as_ref().map(to_json).as_ref())]
        }
        Resource::FollowUpFromVoicemail => message_samples(rc, &["VoiceMail"], n).await?,
        Resource::ActivityFromMessage => message_samples(rc, &["SMS", "Fax"], n).await?,
        Resource::ActivityFromCall => {
            // One page of the account's call log: the raw records (tag_call adds `otherParty`,
            // `siteId` and the like, which a preview shows as missing).
            let since = chrono::Utc::now() - chrono::Duration::days(30);
            let query =
                [("dateFrom", since.format("%Y-%m-%dT%H:%M:%SZ").to_string()), ("perPage", n.max(1).to_string())];
            let page: Value =
                rc.get_json("/restapi/v1.0/account/~/call-log", &query).await.map_err(|e| ("call log", e))?.value;
            page.get("records").and_then(Value::as_array).cloned().unwrap_or_default().into_iter().take(n).collect()
        }
    })
}

/// Up to `n` messages of `types` from the user extensions' message stores (the last 30 days).
async fn message_samples(rc: &RingCentral, types: &[&str], n: usize) -> Result<Vec<Value>, (&'static str, RcError)> {
    let users = rc.extensions(&[("type", "User".to_string())]).await.map_err(|e| ("user extensions", e))?;
    let since = chrono::Utc::now() - chrono::Duration::days(30);
    let mut query: Vec<(&str, String)> = types.iter().map(|t| ("messageType", t.to_string())).collect();
    query.push(("dateFrom", since.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    query.push(("perPage", n.max(1).to_string()));
    let mut out = Vec::new();
    for ext in &users {
        if out.len() >= n {
            break;
        }
        if !ext.id.chars().all(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let path = format!("/restapi/v1.0/account/~/extension/{}/message-store", ext.id);
        let page: Value = rc.get_json(&path, &query).await.map_err(|e| ("message store", e))?.value;
        let records = page.get("records").and_then(Value::as_array).cloned().unwrap_or_default();
        out.extend(records.into_iter().take(n - out.len()));
    }
    Ok(out)
}

/// A preview: each sample mapped (external id, record, notes) or its error.
pub fn preview(mapping: &Mapping, resource: Resource, samples: &[Value]) -> Value {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for source in samples {
        match mapping.map(resource, source) {
            Ok(m) => records.push(json!({ "external_id": m.external_id, "record": m.record, "notes": m.notes })),
            Err(e) => errors.push(e.to_string()),
        }
    }
    json!({ "resource": resource.name(), "read": samples.len(), "records": records, "errors": errors })
}

/// How long a preview may read RingCentral before it gives up (the admin listener answers
/// 408 after 10 s).
pub const PREVIEW_PATIENCE: Duration = Duration::from_secs(8);

/// Why a mapping could not be parsed into the editor's document.
pub fn document(name: &str, format: Format, text: &str) -> Result<Value, MappingError> {
    Mapping::document(name, text, format)
}
