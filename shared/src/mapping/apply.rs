//! Mapping one RingCentral record into a Snapshots record.
//!
//! Each field: read (path, template or constant) → transforms → `default` when empty →
//! made acceptable to Snapshots (an invalid email, phone, country, status or timestamp
//! becomes `null` with a note instead of a 422 later; over-long text is cut with a note).
//! Empty fields are sent as `null`: "not sent" on a create, "clear it" on an update, so
//! a value removed at the source is removed in Snapshots too.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::MappingError;
use super::fields::{Resource, Rule};
use super::phone;
use super::spec::{FieldMapping, Mapping, Source};
use super::transform::text_at;
use crate::snapshots::Collection;

/// A mapped record, ready for `SnapshotsClient::upsert`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub resource: Resource,
    pub collection: Collection,
    pub external_id: String,
    /// The Snapshots fields (without `external_id`; the client sets it).
    pub record: Map<String, Value>,
    /// What was dropped or left unconverted, one line each, for the job's log.
    pub notes: Vec<String>,
}

impl Mapping {
    /// Maps `source` (the RingCentral record as JSON) with this file's `resource` mapping.
    pub fn map(&self, resource: Resource, source: &Value) -> Result<Mapped, MappingError> {
        let fail = |external_id: &str, detail: String| MappingError::Record {
            resource: resource.name(),
            external_id: external_id.to_string(),
            detail,
        };
        if !source.is_object() {
            return Err(fail("(unknown)", "the source record is not a json object".into()));
        }
        let Some(spec) = self.resources.get(&resource) else {
            return Err(fail("(unknown)", format!("{} has no mapping for this resource", self.file)));
        };
        let external_id = spec
            .external_id
            .render_strict(source)
            .map_err(|path| fail("(unknown)", format!("external_id needs source field {path:?}, which is empty")))?;
        let mut notes = Vec::new();
        let mut record = Map::new();
        let mut nested: BTreeMap<&'static str, Map<String, Value>> = BTreeMap::new();
        for field in &spec.fields {
            let value = self.field_value(field, source, &mut notes);
            match &field.sub {
                None => {
                    record.insert(field.key.clone(), value);
                }
                Some(sub) => {
                    let slot = nested.entry(field.target.name).or_default();
                    if !value.is_null() {
                        slot.insert(sub.clone(), value);
                    }
                }
            }
        }
        for (top, object) in nested {
            if record.get(top).is_none_or(Value::is_null) {
                record.insert(top.into(), if object.is_empty() { Value::Null } else { Value::Object(object) });
            }
        }
        let collection = resource.collection();
        for t in super::fields::targets(collection).iter().filter(|t| t.required) {
            if record.get(t.name).is_none_or(Value::is_null) {
                return Err(fail(&external_id, format!("required field {:?} is empty after mapping", t.name)));
            }
        }
        let notes = notes.into_iter().map(|n| format!("{external_id}: {n}")).collect();
        Ok(Mapped { resource, collection, external_id, record, notes })
    }

    fn field_value(&self, field: &FieldMapping, source: &Value, notes: &mut Vec<String>) -> Value {
        let raw = match &field.source {
            Source::Constant(v) => v.clone(),
            Source::Template(t) => Value::String(t.render(source)),
            Source::Paths(paths) => first_value(source, paths),
        };
        let value = match raw {
            Value::String(mut text) => {
                for t in &field.transforms {
                    text = t.apply(text, notes);
                }
                Value::String(text)
            }
            other => other,
        };
        let value = if is_empty(&value) { field.default.clone().unwrap_or(Value::Null) } else { value };
        match (field.target.rule, field.sub.as_deref()) {
            // `details.<key>`: any JSON value.
            (Rule::Object, Some(_)) => value,
            (Rule::Contact, Some("email")) => acceptable(&field.key, Rule::Email, value, notes),
            (Rule::Contact, Some("phone")) => acceptable(&field.key, Rule::Phone, value, notes),
            (Rule::Contact, Some(_)) => acceptable(&field.key, Rule::Text, value, notes),
            (rule, _) => acceptable(&field.key, rule, value, notes),
        }
    }
}

/// The first non-empty value among `paths`; scalars as text so transforms apply.
fn first_value(source: &Value, paths: &[String]) -> Value {
    for path in paths {
        if let Some(text) = text_at(source, path) {
            if !text.trim().is_empty() {
                return Value::String(text);
            }
        } else if let Some(v) = super::transform::lookup(source, path) {
            if !is_empty(v) {
                return v.clone();
            }
        }
    }
    Value::Null
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Makes `value` acceptable for a field with `rule`, or `null` with a note.
fn acceptable(key: &str, rule: Rule, value: Value, notes: &mut Vec<String>) -> Value {
    if value.is_null() {
        return value;
    }
    let mut drop = |why: String| {
        notes.push(format!("{key}: {why}; left empty"));
        Value::Null
    };
    match (rule, value) {
        (Rule::Tags, Value::String(s)) => Value::Array(vec![Value::String(s)]),
        (Rule::Tags, Value::Array(a)) if a.iter().all(Value::is_string) => Value::Array(a),
        (Rule::Tags, v) => drop(format!("{v} is not a list of tags")),
        (Rule::Object | Rule::Contact, Value::Object(o)) => Value::Object(o),
        (Rule::Object | Rule::Contact, v) => drop(format!("{v} is not an object")),
        (_, Value::String(s)) => text(key, rule, s, notes),
        (Rule::Text | Rule::Reference | Rule::Name, Value::Number(n)) => Value::String(n.to_string()),
        (_, v) => drop(format!("{v} is not a text value")),
    }
}

fn text(key: &str, rule: Rule, s: String, notes: &mut Vec<String>) -> Value {
    let mut drop = |why: String| {
        notes.push(format!("{key}: {why}; left empty"));
        Value::Null
    };
    match rule {
        Rule::Email => {
            let at = s.matches('@').count();
            let ok = at == 1 && s.split('@').all(|part| !part.trim().is_empty());
            if ok {
                Value::String(s)
            } else {
                drop(format!("{s:?} is not an email address"))
            }
        }
        Rule::Phone if phone::is_e164(&s) => Value::String(s),
        Rule::Phone => drop(format!("{s:?} is not an E.164 phone number (add the phone transform)")),
        Rule::Country if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) => Value::String(s),
        Rule::Country => drop(format!("{s:?} is not a two-letter country code (add the country_code transform)")),
        Rule::OneOf(allowed) if allowed.contains(&s.as_str()) => Value::String(s),
        Rule::OneOf(allowed) => drop(format!("{s:?} is not one of {}", allowed.join(", "))),
        Rule::Timestamp => {
            let ok = time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).is_ok();
            if ok {
                Value::String(s)
            } else {
                drop(format!("{s:?} is not an RFC 3339 timestamp"))
            }
        }
        Rule::Name => Value::String(cut(key, s, 200, notes)),
        Rule::Text | Rule::Reference => Value::String(cut(key, s, 2000, notes)),
        Rule::Tags | Rule::Object | Rule::Contact => drop(format!("{s:?} is not the expected shape")),
    }
}

/// Cuts text to `max` characters (Snapshots counts characters).
fn cut(key: &str, s: String, max: usize, notes: &mut Vec<String>) -> String {
    if s.chars().count() <= max {
        return s;
    }
    notes.push(format!("{key}: longer than {max} characters; cut"));
    s.chars().take(max).collect()
}
