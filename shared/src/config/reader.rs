//! Types the merged tree key by key. A value of the wrong type or form becomes a
//! [`Problem`] naming the key (and the variable when it came from the environment) and the
//! default stands in, so reading goes on and every problem is found in one pass. Every key
//! looked up is remembered, so whatever is left over is an unknown key, reported by name.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use toml::{Table, Value};
use url::Url;

use super::error::Problem;
use super::layers::Layers;

pub(crate) const DURATION_FORM: &str = "a duration like \"500ms\", \"30s\", \"5m\" or \"1h\"";

pub(crate) struct Reader {
    root: Table,
    origins: HashMap<String, String>,
    known: BTreeSet<String>,
    /// Known keys that are sections (hold other keys), as opposed to values.
    sections: BTreeSet<String>,
    /// Keys that hold a value where a section was expected, already reported once.
    not_tables: HashSet<String>,
    pub problems: Vec<Problem>,
}

impl Reader {
    pub fn new(layers: Layers) -> Reader {
        Reader {
            root: layers.root,
            origins: layers.origins,
            known: BTreeSet::new(),
            sections: BTreeSet::new(),
            not_tables: HashSet::new(),
            problems: layers.problems,
        }
    }

    /// The variable that set `key`, or else one that set a key below it.
    pub fn origin(&self, key: &str) -> Option<String> {
        if let Some(var) = self.origins.get(key) {
            return Some(var.clone());
        }
        let below = format!("{key}.");
        self.origins.iter().filter(|(k, _)| k.starts_with(&below)).map(|(_, v)| v.clone()).min()
    }

    fn push(&mut self, mut problem: Problem) {
        if let Some(key) = &problem.key {
            problem.origin = problem.origin.or_else(|| self.origin(key));
        }
        self.problems.push(problem);
    }

    /// The raw value at `key` (marking it and its sections known), if present.
    pub fn lookup(&mut self, key: &str) -> Option<Value> {
        let segments: Vec<&str> = key.split('.').collect();
        for end in 1..=segments.len() {
            self.known.insert(segments[..end].join("."));
            if end < segments.len() {
                self.sections.insert(segments[..end].join("."));
            }
        }
        let mut table = &self.root;
        for (depth, segment) in segments.iter().enumerate() {
            let value = table.get(*segment)?;
            if depth + 1 == segments.len() {
                return Some(value.clone());
            }
            match value {
                Value::Table(inner) => table = inner,
                other => {
                    let section = segments[..=depth].join(".");
                    if self.not_tables.insert(section.clone()) {
                        let shown = render(other);
                        self.push(Problem::invalid(&section, &shown, &format!("a section, [{section}]")));
                    }
                    return None;
                }
            }
        }
        None
    }

    /// Reads `key` with `parse`; on a missing key the default, on a bad one a problem (the
    /// value shown unless `secret`) and the default. `parse` gets whether the value came
    /// from the environment, where every value is a string.
    pub fn field<T>(
        &mut self,
        key: &str,
        default: T,
        secret: bool,
        expected: &str,
        parse: impl FnOnce(&Value, bool) -> Option<T>,
    ) -> T {
        self.optional(key, secret, expected, parse).unwrap_or(default)
    }

    /// Like [`Reader::field`] but `None` when the key is absent or bad.
    pub fn optional<T>(
        &mut self,
        key: &str,
        secret: bool,
        expected: &str,
        parse: impl FnOnce(&Value, bool) -> Option<T>,
    ) -> Option<T> {
        let value = self.lookup(key)?;
        let from_env = self.origins.contains_key(key);
        match parse(&value, from_env) {
            Some(parsed) => Some(parsed),
            None => {
                // A section holds no secret value, and saying so explains the mistake better.
                let shown = if secret && !value.is_table() { "[redacted]".to_owned() } else { render(&value) };
                self.push(Problem::invalid(key, &shown, expected));
                None
            }
        }
    }

    pub fn string(&mut self, key: &str, default: &str) -> String {
        self.field(key, default.to_owned(), false, "a string", |v, _| v.as_str().map(str::to_owned))
    }

    pub fn secret(&mut self, key: &str, default: &str) -> SecretString {
        let text = self.field(key, default.to_owned(), true, "a string", |v, _| v.as_str().map(str::to_owned));
        SecretString::from(text)
    }

    pub fn url(&mut self, key: &str, default: &str) -> Url {
        let default = Url::parse(default).unwrap_or_else(|_| unreachable!("built-in default URLs parse"));
        self.field(key, default, false, "an absolute URL like \"https://host\"", |v, _| {
            v.as_str().and_then(|s| Url::parse(s).ok())
        })
    }

    pub fn socket(&mut self, key: &str, default: SocketAddr) -> SocketAddr {
        self.field(key, default, false, "an address and port like \"127.0.0.1:8090\"", |v, _| {
            v.as_str().and_then(|s| s.parse().ok())
        })
    }

    /// An address and port, or `""` for none.
    pub fn optional_socket(&mut self, key: &str, default: Option<SocketAddr>) -> Option<SocketAddr> {
        let expected = "an address and port like \"127.0.0.1:9090\", or \"\" for none";
        self.field(key, default, false, expected, |v, _| {
            let text = v.as_str()?.trim();
            if text.is_empty() {
                Some(None)
            } else {
                text.parse().ok().map(Some)
            }
        })
    }

    pub fn duration(&mut self, key: &str, default: Duration) -> Duration {
        self.field(key, default, false, DURATION_FORM, |v, _| v.as_str().and_then(parse_duration))
    }

    pub fn boolean(&mut self, key: &str, default: bool) -> bool {
        self.field(key, default, false, "true or false", |v, from_env| match v {
            Value::Boolean(b) => Some(*b),
            Value::String(s) if from_env => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// A non-negative integer that fits `T`; range checks beyond that are `validate`'s.
    pub fn count<T: TryFrom<i64> + Copy>(&mut self, key: &str, default: T) -> T {
        self.optional_count(key).unwrap_or(default)
    }

    pub fn optional_count<T: TryFrom<i64>>(&mut self, key: &str) -> Option<T> {
        self.optional(key, false, "a whole number, 0 or more", |v, from_env| {
            let n = match v {
                Value::Integer(n) => *n,
                Value::String(s) if from_env => s.trim().parse().ok()?,
                _ => return None,
            };
            if n < 0 {
                return None;
            }
            T::try_from(n).ok()
        })
    }

    /// A problem about `key` found while building (e.g. two keys that exclude each other).
    pub fn report(&mut self, key: &str, message: String) {
        self.push(Problem::keyed(key, message));
    }

    /// Reports every key present in the tree that no lookup asked for.
    pub fn report_unknown(&mut self) {
        let mut unknown = Vec::new();
        collect_unknown(&self.root, "", &self.known, &self.sections, &mut unknown);
        for key in unknown {
            let parent = key.rsplit_once('.').map_or("", |(p, _)| p);
            let siblings: Vec<String> = self
                .known
                .iter()
                .filter(|k| k.rsplit_once('.').map_or("", |(p, _)| p) == parent)
                .map(|k| format!("`{}`", k.rsplit('.').next().unwrap_or(k)))
                .collect();
            let message = if parent.is_empty() {
                format!("unknown section: expected one of {}", siblings.join(", "))
            } else {
                format!("unknown key in [{parent}]: expected one of {}", siblings.join(", "))
            };
            self.push(Problem::keyed(&key, message));
        }
    }
}

fn collect_unknown(
    table: &Table,
    prefix: &str,
    known: &BTreeSet<String>,
    sections: &BTreeSet<String>,
    out: &mut Vec<String>,
) {
    for (name, value) in table {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        if !known.contains(&key) {
            out.push(key);
        } else if let (Value::Table(inner), true) = (value, sections.contains(&key)) {
            // Only sections are walked: a table where a value belongs was reported already.
            collect_unknown(inner, &key, known, sections, out);
        }
    }
}

/// `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"7d"`, `"1h 30m"` (humantime's grammar): how every
/// duration of the configuration is written, and the CLI's (`--older-than`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// A value as it would appear in TOML, for messages (never used for secrets).
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Table(_) => "a section".to_owned(),
        other => other.to_string(),
    }
}
