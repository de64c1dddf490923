//! Checks a `POST`/`PATCH` body against [`schema`](super::schema) and returns the changes
//! to apply; the first problem is a 422 `validation_failed` naming its `field`.
//!
//! Order (so the reported field is deterministic): fields the collection does not have
//! (read-only ones first, then unknown ones, each alphabetically), then a missing required
//! field (create only), then each sent field in the schema's order. `null` means "not sent"
//! on a create and "back to the default" on a patch; required fields cannot be null.

use serde_json::{Map, Value};

use super::errors::ApiError;
use super::schema::{Default, Field, Kind, Rule};

/// Longest `name` / `company_name`.
pub const MAX_NAME: usize = 200;
/// Longest other string.
pub const MAX_TEXT: usize = 2000;

/// Whether the body creates a record or patches one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Patch,
}

/// What validation needs to know about other records.
pub trait References {
    /// `Some(active)` for a known owner.
    fn owner(&self, id: &str) -> Option<bool>;
    fn location_exists(&self, id: &str) -> bool;
    fn lead_exists(&self, id: &str) -> bool;
}

/// Validates `body`; returns the field values to write (defaults filled in on create).
pub fn check(
    kind: Kind,
    mode: Mode,
    body: &Map<String, Value>,
    refs: &dyn References,
) -> Result<Map<String, Value>, ApiError> {
    let read_only = kind.read_only();
    if let Some(name) = body.keys().find(|k| read_only.contains(&k.as_str())) {
        return Err(ApiError::validation(
            name.as_str(),
            format!("{name} is set by Snapshots and cannot be written; leave it out of the body"),
        ));
    }
    if let Some(name) = body.keys().find(|k| kind.field(k).is_none()) {
        let known: Vec<_> = kind.fields().iter().map(|f| f.name).collect();
        return Err(ApiError::validation(
            name.as_str(),
            format!("unknown field {name:?}; the fields of a {} are: {}", kind.noun(), known.join(", ")),
        ));
    }
    let mut out = Map::new();
    for field in kind.fields() {
        match body.get(field.name) {
            None | Some(Value::Null) if field.required && (mode == Mode::Create || body.contains_key(field.name)) => {
                return Err(ApiError::validation(field.name, format!("{} is required", field.name)));
            }
            None if mode == Mode::Patch => {}
            None | Some(Value::Null) => {
                out.insert(field.name.into(), default_of(field));
            }
            Some(value) => {
                check_value(field, value, refs)?;
                out.insert(field.name.into(), value.clone());
            }
        }
    }
    Ok(out)
}

fn default_of(field: &Field) -> Value {
    match field.default {
        Default::Null => Value::Null,
        Default::EmptyArray => Value::Array(Vec::new()),
        Default::EmptyObject => Value::Object(Map::new()),
        Default::Str(s) => Value::String(s.into()),
    }
}

fn check_value(field: &Field, value: &Value, refs: &dyn References) -> Result<(), ApiError> {
    let name = field.name;
    match field.rule {
        Rule::Tags => {
            let Value::Array(items) = value else {
                return Err(ApiError::validation(name, format!("{name} must be an array of strings")));
            };
            for item in items {
                let Value::String(s) = item else {
                    return Err(ApiError::validation(name, format!("{name} must be an array of strings")));
                };
                text(name, s, MAX_TEXT)?;
            }
            Ok(())
        }
        Rule::Object => match value {
            Value::Object(_) => Ok(()),
            _ => Err(ApiError::validation(name, format!("{name} must be a JSON object"))),
        },
        Rule::Contact => contact(name, value),
        _ => {
            let Value::String(s) = value else {
                return Err(ApiError::validation(name, format!("{name} must be a string")));
            };
            string(name, field.rule, s, refs)
        }
    }
}

fn string(name: &str, rule: Rule, s: &str, refs: &dyn References) -> Result<(), ApiError> {
    let bad = |why: String| Err(ApiError::validation(name, why));
    match rule {
        Rule::Name => {
            text(name, s, MAX_NAME)?;
            if s.trim().is_empty() {
                return bad(format!("{name} is required and must not be blank"));
            }
            Ok(())
        }
        Rule::ExternalId => {
            text(name, s, MAX_TEXT)?;
            if s.trim().is_empty() {
                return bad(format!("{name} must not be blank; leave it out instead"));
            }
            Ok(())
        }
        Rule::Email if !is_email(s) => {
            bad(format!("{name} {s:?} is not an email address (one @ with text on both sides)"))
        }
        Rule::Phone if !is_e164(s) => {
            bad(format!("{name} {s:?} is not E.164: + then 8 to 15 digits, e.g. +14155550100"))
        }
        Rule::Country if !(s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())) => {
            bad(format!("{name} {s:?} is not an ISO 3166-1 alpha-2 code (two uppercase letters, e.g. US)"))
        }
        Rule::OneOf(allowed) if !allowed.contains(&s) => {
            bad(format!("{name} {s:?} is not one of: {}", allowed.join(", ")))
        }
        Rule::Timestamp if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_err() => {
            bad(format!("{name} {s:?} is not an RFC 3339 timestamp, e.g. 2026-01-31T09:30:00Z"))
        }
        Rule::Owner => match refs.owner(s) {
            None => bad(format!("owner {s:?} is not an owner; GET /owners lists them")),
            Some(false) => bad(format!("owner {s:?} is inactive; assign the lead to an active owner")),
            Some(true) => Ok(()),
        },
        Rule::LocationRef if !refs.location_exists(s) => bad(format!("{name} {s:?} is not an existing location")),
        Rule::LeadRef if !refs.lead_exists(s) => bad(format!("{name} {s:?} is not an existing lead")),
        _ => text(name, s, MAX_TEXT),
    }
}

fn text(name: &str, s: &str, max: usize) -> Result<(), ApiError> {
    let n = s.chars().count();
    if n > max {
        return Err(ApiError::validation(name, format!("{name} is {n} characters long; at most {max} are allowed")));
    }
    Ok(())
}

/// `primary_contact`: an object with optional string `name`, `email`, `phone`; problems are
/// reported as `primary_contact.<key>`.
fn contact(name: &str, value: &Value) -> Result<(), ApiError> {
    let Value::Object(map) = value else {
        return Err(ApiError::validation(name, format!("{name} must be an object with name, email and phone")));
    };
    for (key, v) in map {
        let path = format!("{name}.{key}");
        let rule = match key.as_str() {
            "name" => Rule::Text,
            "email" => Rule::Email,
            "phone" => Rule::Phone,
            _ => {
                return Err(ApiError::validation(
                    path,
                    format!("unknown field {key:?} in {name}; it has name, email and phone"),
                ))
            }
        };
        match v {
            Value::Null => {}
            Value::String(s) => string(&path, rule, s, &NoReferences)?,
            _ => return Err(ApiError::validation(path.clone(), format!("{path} must be a string"))),
        }
    }
    Ok(())
}

struct NoReferences;

impl References for NoReferences {
    fn owner(&self, _: &str) -> Option<bool> {
        None
    }
    fn location_exists(&self, _: &str) -> bool {
        false
    }
    fn lead_exists(&self, _: &str) -> bool {
        false
    }
}

/// One `@`, with text on both sides.
pub fn is_email(s: &str) -> bool {
    matches!(s.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
}

/// `+` then 8–15 digits.
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Refs;
    impl References for Refs {
        fn owner(&self, id: &str) -> Option<bool> {
            match id {
                "own_01" => Some(true),
                "own_06" => Some(false),
                _ => None,
            }
        }
        fn location_exists(&self, id: &str) -> bool {
            id == "loc_1"
        }
        fn lead_exists(&self, id: &str) -> bool {
            id == "lead_1"
        }
    }

    fn field_of(kind: Kind, mode: Mode, body: Value) -> Option<String> {
        let Value::Object(map) = body else { panic!("test body must be an object") };
        check(kind, mode, &map, &Refs).err().map(|e| e.field.unwrap_or_default())
    }

    #[test]
    fn formats() {
        assert!(is_e164("+14155550100") && is_e164("+12345678") && !is_e164("+1234567"));
        assert!(!is_e164("14155550100") && !is_e164("+1415555010a") && !is_e164("+1234567890123456"));
        assert!(is_email("a@b") && !is_email("@b") && !is_email("a@") && !is_email("a@b@c") && !is_email("ab"));
    }

    #[test]
    fn reports_the_offending_field() {
        let lead = |extra: Value| {
            let mut b = json!({"name": "Ann"});
            b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            field_of(Kind::Leads, Mode::Create, b)
        };
        assert_eq!(lead(json!({})), None);
        assert_eq!(lead(json!({"phone": "555-0100"})).as_deref(), Some("phone"));
        assert_eq!(lead(json!({"colour": "red"})).as_deref(), Some("colour"));
        assert_eq!(lead(json!({"lead_id": "lead_9"})).as_deref(), Some("lead_id"));
        assert_eq!(lead(json!({"status": "won"})).as_deref(), Some("status"));
        assert_eq!(lead(json!({"owner": "own_06"})).as_deref(), Some("owner"));
        assert_eq!(lead(json!({"owner": "own_01", "location_id": "loc_2"})).as_deref(), Some("location_id"));
        assert_eq!(lead(json!({"tags": ["a", 1]})).as_deref(), Some("tags"));
        assert_eq!(lead(json!({"name": "x".repeat(201)})).as_deref(), Some("name"));
        assert_eq!(lead(json!({"company": "x".repeat(2001)})).as_deref(), Some("company"));
        assert_eq!(field_of(Kind::Leads, Mode::Create, json!({})).as_deref(), Some("name"));
        assert_eq!(
            field_of(Kind::Locations, Mode::Create, json!({"name": "HQ", "country": "us"})).as_deref(),
            Some("country")
        );
        let contact = json!({"company_name": "Acme", "primary_contact": {"email": "nope"}});
        assert_eq!(field_of(Kind::Accounts, Mode::Create, contact).as_deref(), Some("primary_contact.email"));
        let when = json!({"type": "call", "occurred_at": "yesterday"});
        assert_eq!(field_of(Kind::Activities, Mode::Create, when).as_deref(), Some("occurred_at"));
    }

    #[test]
    fn create_fills_defaults_and_patch_keeps_only_what_was_sent() {
        let Value::Object(body) = json!({"name": "Ann", "tags": null}) else { unreachable!() };
        let created = check(Kind::Leads, Mode::Create, &body, &Refs).unwrap();
        assert_eq!(created["status"], "new");
        assert_eq!(created["tags"], json!([]));
        assert_eq!(created["email"], Value::Null);
        let Value::Object(patch) = json!({"email": null, "status": "lost"}) else { unreachable!() };
        let changes = check(Kind::Leads, Mode::Patch, &patch, &Refs).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(field_of(Kind::Leads, Mode::Patch, json!({"name": null})).as_deref(), Some("name"));
        assert_eq!(field_of(Kind::Leads, Mode::Patch, json!({})), None);
    }
}
