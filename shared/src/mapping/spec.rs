//! Reading a mapping file into a checked [`Mapping`]: every resource, target field,
//! source path, template and transform is validated against `fields.rs`, and every
//! problem is reported at once as `<file>: resource <name>: <what is wrong>`.
//!
//! A file is TOML or JSON, by its extension (`.json` is JSON, anything else TOML; a mapping
//! saved through the admin API carries its format). Both are read into the same table
//! (JSON objects become TOML tables, in the order written) before the one validation, so
//! a JSON file and its TOML twin map the same records the same way and their mistakes get
//! the same messages. JSON has `null`, TOML has not: a `null` is refused, naming the
//! resource and field (leave the key out instead).
//!
//! File shape (TOML; in JSON the same keys, `{"lead_from_contact": {"fields": {...}}}`):
//! ```toml
//! default_country = "US"             # for the `phone` transform
//! [lead_from_contact]
//! external_id = "ringcentral:contact:{id}"
//! [lead_from_contact.fields]
//! email = { from = "email", transforms = ["trim", "lowercase"] }
//! phone = { from = ["businessPhone", "mobilePhone"], transforms = ["phone"] }
//! name  = { template = "{firstName} {lastName}", default = "Unknown contact" }
//! source = { constant = "ringcentral" }
//! company = "company"                # shorthand for { from = "company" }
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::MappingError;
use super::fields::{self, Resource, Rule, Target};
use super::phone;
use super::transform::{Template, Transform};

const TRANSFORM_NAMES: &str = "trim, lowercase, uppercase, phone, { phone = \"CA\" }, region_code, country_code, \
                               { lookup = { from = \"to\" } }";

/// A checked mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(super) file: String,
    pub(super) default_country: String,
    pub(super) resources: BTreeMap<Resource, ResourceMapping>,
}

#[derive(Debug, Clone)]
pub(super) struct ResourceMapping {
    pub external_id: Template,
    pub fields: Vec<FieldMapping>,
}

#[derive(Debug, Clone)]
pub(super) struct FieldMapping {
    /// The key as written (`email`, `primary_contact.name`).
    pub key: String,
    pub target: &'static Target,
    pub sub: Option<String>,
    pub source: Source,
    pub transforms: Vec<Transform>,
    pub default: Option<Value>,
}

#[derive(Debug, Clone)]
pub(super) enum Source {
    /// The first non-empty of these paths.
    Paths(Vec<String>),
    Template(Template),
    Constant(Value),
}

impl Mapping {
    /// Reads and checks a mapping file.
    pub fn load(path: &std::path::Path) -> Result<Mapping, MappingError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| MappingError::Read { path: path.display().to_string(), source })?;
        Mapping::parse(&path.display().to_string(), &text)
    }

    /// Checks mapping text; `file` names it in messages, and its extension gives the format
    /// (`.json` is JSON, anything else TOML).
    pub fn parse(file: &str, text: &str) -> Result<Mapping, MappingError> {
        Mapping::parse_as(file, text, Format::from_file(file))
    }

    /// Checks mapping text written in `format`.
    pub fn parse_as(file: &str, text: &str, format: Format) -> Result<Mapping, MappingError> {
        let syntax = |message: String| MappingError::Syntax { file: file.into(), format: format.label(), message };
        let table: toml::Table = match format {
            Format::Toml => toml::from_str(text).map_err(|e| syntax(e.to_string()))?,
            Format::Json => {
                let value: Value = serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?;
                let mut nulls = Vec::new();
                let converted = json_to_toml(&value, &mut Vec::new(), &mut nulls);
                if !nulls.is_empty() {
                    let problems = nulls.iter().map(|path| null_problem(file, path)).collect();
                    return Err(MappingError::Invalid { problems });
                }
                match converted {
                    Some(toml::Value::Table(t)) => t,
                    _ => return Err(syntax("the document must be a JSON object, one key per resource".into())),
                }
            }
        };
        let mut problems = Vec::new();
        let mut default_country = "US".to_string();
        let mut resources = BTreeMap::new();
        // Read first: the phone transforms of every resource depend on it.
        if let Some(value) = table.get("default_country") {
            match value.as_str() {
                Some(c) if phone::known_country(c) => default_country = c.to_uppercase(),
                _ => problems.push(format!(
                    "{file}: default_country {value} is not a country with a known calling code (e.g. \"US\")"
                )),
            }
        }
        for (key, value) in table.iter().filter(|(k, _)| *k != "default_country") {
            let Some(resource) = Resource::from_name(key) else {
                let names: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
                problems.push(format!("{file}: unknown resource {key:?} (expected one of {})", names.join(", ")));
                continue;
            };
            let mut p = Problems { file, resource, list: &mut problems };
            if let Some(r) = resource_mapping(&mut p, value, &default_country) {
                resources.insert(resource, r);
            }
        }
        for resource in Resource::ALL {
            if table.contains_key(resource.name()) {
                continue;
            }
            // Resources added after a release (the call and message activities) may be left
            // out: a file written for that release keeps loading and they map as the built-in
            // default does.
            let builtin = resource
                .optional()
                .then(|| toml::from_str::<toml::Table>(super::DEFAULT_MAPPING).ok())
                .flatten()
                .and_then(|t| t.get(resource.name()).cloned());
            match builtin {
                Some(value) => {
                    let mut p = Problems { file, resource, list: &mut problems };
                    if let Some(r) = resource_mapping(&mut p, &value, &default_country) {
                        resources.insert(resource, r);
                    }
                }
                None => problems
                    .push(format!("{file}: resource {} is missing: every resource needs a mapping", resource.name())),
            }
        }
        if problems.is_empty() {
            Ok(Mapping { file: file.into(), default_country, resources })
        } else {
            Err(MappingError::Invalid { problems })
        }
    }

    /// Mapping text as the JSON document the admin API and the dashboard's editor work on
    /// (the JSON format's shape; TOML tables become objects). Only the syntax is checked.
    pub fn document(file: &str, text: &str, format: Format) -> Result<Value, MappingError> {
        let syntax = |message: String| MappingError::Syntax { file: file.into(), format: format.label(), message };
        match format {
            Format::Toml => {
                let table: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
                serde_json::to_value(table).map_err(|e| syntax(e.to_string()))
            }
            Format::Json => serde_json::from_str(text).map_err(|e| syntax(e.to_string())),
        }
    }

    /// The file the mapping was read from.
    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn default_country(&self) -> &str {
        &self.default_country
    }
}

/// How mapping text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Toml,
    Json,
}

impl Format {
    /// `.json` (any case) is JSON; anything else TOML.
    pub fn from_file(file: &str) -> Format {
        let json = std::path::Path::new(file)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json {
            Format::Json
        } else {
            Format::Toml
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Json => "json",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
        }
    }
}

/// JSON into the TOML value the validation reads (objects keep their order); the path of
/// every `null` is collected instead.
fn json_to_toml(value: &Value, path: &mut Vec<String>, nulls: &mut Vec<Vec<String>>) -> Option<toml::Value> {
    Some(match value {
        Value::Null => {
            nulls.push(path.clone());
            return None;
        }
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                if let Some(v) = json_to_toml(item, path, nulls) {
                    out.push(v);
                }
                path.pop();
            }
            toml::Value::Array(out)
        }
        Value::Object(map) => {
            let mut out = toml::Table::new();
            for (k, v) in map {
                path.push(k.clone());
                if let Some(v) = json_to_toml(v, path, nulls) {
                    out.insert(k.clone(), v);
                }
                path.pop();
            }
            toml::Value::Table(out)
        }
    })
}

/// `<file>: resource <r>: field "<f>": ...` for a JSON `null` at `path`.
fn null_problem(file: &str, path: &[String]) -> String {
    const WHAT: &str = "null is not a value here (leave the key out)";
    match path {
        [resource, fields, field, rest @ ..] if fields == "fields" => {
            let at = if rest.is_empty() { String::new() } else { format!(" at {}", rest.join(".")) };
            format!("{file}: resource {resource}: field {field:?}{at}: {WHAT}")
        }
        [resource, key, ..] => format!("{file}: resource {resource}: {key}: {WHAT}"),
        [key] => format!("{file}: {key}: {WHAT}"),
        [] => format!("{file}: {WHAT}"),
    }
}

struct Problems<'a> {
    file: &'a str,
    resource: Resource,
    list: &'a mut Vec<String>,
}

impl Problems<'_> {
    fn push(&mut self, what: impl std::fmt::Display) {
        self.list.push(format!("{}: resource {}: {what}", self.file, self.resource.name()));
    }

    fn check_source(&mut self, key: &str, path: &str) {
        if !self.resource.knows_source(path) {
            self.push(format!(
                "field {key:?}: source field {path:?} is not a known RingCentral {} field",
                self.resource.source_name()
            ));
        }
    }
}

fn resource_mapping(p: &mut Problems, value: &toml::Value, default_country: &str) -> Option<ResourceMapping> {
    let Some(table) = value.as_table() else {
        p.push("must be a table with external_id and fields");
        return None;
    };
    for key in table.keys().filter(|k| *k != "external_id" && *k != "fields") {
        p.push(format!("unknown key {key:?} (expected external_id, fields)"));
    }
    let external_id = match table.get("external_id").and_then(toml::Value::as_str) {
        None => {
            p.push("external_id is missing: write a template such as \"ringcentral:site:{id}\"");
            None
        }
        Some(text) => match Template::parse(text) {
            Ok(t) if t.paths().next().is_none() => {
                p.push(format!("external_id {text:?} names no source field: every record would get the same id"));
                None
            }
            Ok(t) => {
                for path in t.paths() {
                    p.check_source("external_id", path);
                }
                Some(t)
            }
            Err(e) => {
                p.push(format!("external_id: {e}"));
                None
            }
        },
    };
    let mut fields = Vec::new();
    match table.get("fields").and_then(toml::Value::as_table) {
        None => p.push("fields is missing: a table of Snapshots field = source"),
        Some(spec) => {
            for (key, value) in spec {
                if let Some(f) = field_mapping(p, key, value, default_country) {
                    fields.push(f);
                }
            }
        }
    }
    let collection = p.resource.collection();
    for t in fields::targets(collection).iter().filter(|t| t.required) {
        if !fields.iter().any(|f| f.target.name == t.name) {
            p.push(format!("required Snapshots {} field {:?} is not mapped", fields::noun(collection), t.name));
        }
    }
    Some(ResourceMapping { external_id: external_id?, fields })
}

fn field_mapping(p: &mut Problems, key: &str, value: &toml::Value, default_country: &str) -> Option<FieldMapping> {
    let collection = p.resource.collection();
    let Some((target, sub)) = fields::target(collection, key) else {
        p.push(format!("target field {key:?} is not a Snapshots {} field", fields::noun(collection)));
        return None;
    };
    let spec = match value {
        toml::Value::String(path) => {
            p.check_source(key, path);
            return Some(FieldMapping {
                key: key.into(),
                target,
                sub,
                source: Source::Paths(vec![path.clone()]),
                transforms: Vec::new(),
                default: None,
            });
        }
        toml::Value::Table(t) => t,
        _ => {
            p.push(format!("field {key:?}: expected a source path or a table with from, template or constant"));
            return None;
        }
    };
    for k in spec.keys() {
        if !["from", "template", "constant", "transforms", "default"].contains(&k.as_str()) {
            p.push(format!(
                "field {key:?}: unknown key {k:?} (expected from, template, constant, transforms, default)"
            ));
        }
    }
    let given = ["from", "template", "constant"].iter().filter(|k| spec.contains_key(**k)).count();
    if given != 1 {
        p.push(format!("field {key:?}: give exactly one of from, template, constant"));
        return None;
    }
    let source = if let Some(from) = spec.get("from") {
        let paths: Vec<String> = match from {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_str) => {
                a.iter().filter_map(toml::Value::as_str).map(str::to_string).collect()
            }
            _ => {
                p.push(format!("field {key:?}: from must be a path or a non-empty list of paths"));
                return None;
            }
        };
        for path in &paths {
            p.check_source(key, path);
        }
        Source::Paths(paths)
    } else if let Some(template) = spec.get("template") {
        let Some(text) = template.as_str() else {
            p.push(format!("field {key:?}: template must be a string"));
            return None;
        };
        match Template::parse(text) {
            Ok(t) => {
                for path in t.paths() {
                    p.check_source(key, path);
                }
                Source::Template(t)
            }
            Err(e) => {
                p.push(format!("field {key:?}: {e}"));
                return None;
            }
        }
    } else {
        let constant = json(spec.get("constant"));
        check_constant(p, key, target, &constant);
        Source::Constant(constant)
    };
    let mut transforms = Vec::new();
    match spec.get("transforms") {
        None => {}
        Some(toml::Value::Array(list)) => {
            for t in list {
                match transform(t, default_country) {
                    Ok(t) => transforms.push(t),
                    Err(e) => p.push(format!("field {key:?}: {e}")),
                }
            }
        }
        Some(_) => p.push(format!("field {key:?}: transforms must be a list")),
    }
    let default = spec.get("default").map(|d| json(Some(d)));
    if let Some(d) = &default {
        check_constant(p, key, target, d);
    }
    Some(FieldMapping { key: key.into(), target, sub, source, transforms, default })
}

fn json(value: Option<&toml::Value>) -> Value {
    value.and_then(|v| serde_json::to_value(v).ok()).unwrap_or(Value::Null)
}

/// Constants and defaults are checked where a mistake is certain to be refused.
fn check_constant(p: &mut Problems, key: &str, target: &Target, value: &Value) {
    let ok = match target.rule {
        Rule::OneOf(allowed) => value.as_str().is_some_and(|s| allowed.contains(&s)),
        Rule::Country => value.as_str().is_some_and(|s| s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())),
        Rule::Tags => value.is_string() || value.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        _ => true,
    };
    if !ok {
        let expected = match target.rule {
            Rule::OneOf(allowed) => format!("one of {}", allowed.join(", ")),
            Rule::Country => "a two-letter ISO country code such as \"US\"".into(),
            _ => "a string or a list of strings".into(),
        };
        p.push(format!("field {key:?}: value {value} is not {expected}"));
    }
}

fn transform(value: &toml::Value, default_country: &str) -> Result<Transform, String> {
    match value {
        toml::Value::String(name) => match name.as_str() {
            "trim" => Ok(Transform::Trim),
            "lowercase" => Ok(Transform::Lowercase),
            "uppercase" => Ok(Transform::Uppercase),
            "phone" => Ok(Transform::Phone(default_country.to_string())),
            "region_code" => Ok(Transform::RegionCode),
            "country_code" => Ok(Transform::CountryCode),
            other => Err(format!("unknown transform {other:?} (expected one of {TRANSFORM_NAMES})")),
        },
        toml::Value::Table(t) if t.len() == 1 => match t.iter().next() {
            Some((k, toml::Value::String(country))) if k == "phone" => {
                if phone::known_country(country) {
                    Ok(Transform::Phone(country.to_uppercase()))
                } else {
                    Err(format!("phone country {country:?} has no known calling code"))
                }
            }
            Some((k, toml::Value::Table(table))) if k == "lookup" => {
                let mut map = BTreeMap::new();
                for (from, to) in table {
                    let to = to.as_str().ok_or_else(|| format!("lookup value for {from:?} must be a string"))?;
                    map.insert(from.clone(), to.to_string());
                }
                Ok(Transform::Lookup(map))
            }
            _ => Err(format!("unknown transform {value} (expected one of {TRANSFORM_NAMES})")),
        },
        _ => Err(format!("unknown transform {value} (expected one of {TRANSFORM_NAMES})")),
    }
}
