//! The merged tree → a typed value, collecting every problem. serde stops at the first
//! error, so extraction runs in rounds: each failed round names one key (its path from
//! `serde_path_to_error`), the problem is kept, that key is taken out of the tree (its
//! default stands in) and the next round goes on, until the tree reads. Unknown keys come
//! out the same way, from the sections' `deny_unknown_fields`.
//!
//! serde's own wordings (unknown field, a value where a section belongs) are turned into
//! ours here; every other message is built whole by `form`.

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use toml::{Table, Value};

use super::error::Problem;
use super::form::render;

/// Marks a message about one entry of a map (`[retry.max_attempts_per_kind]`), whose key
/// serde's path cannot name: `ENTRY <key> ENTRY <message>`.
pub(crate) const ENTRY: char = '\u{1f}';

/// Reads `tree` into `T`, pushing a problem per bad or unknown key; a key with a problem
/// takes its default.
pub(crate) fn extract<T: DeserializeOwned + Default>(mut tree: Table, problems: &mut Vec<Problem>) -> T {
    // Each round removes one key, so this bound is never reached by a real tree; it only
    // keeps a bug from looping.
    for _ in 0..10_000 {
        let err = match serde_path_to_error::deserialize::<_, T>(Value::Table(tree.clone())) {
            Ok(value) => return value,
            Err(err) => err,
        };
        let mut path: Vec<String> = err
            .path()
            .iter()
            .map(|segment| match segment {
                Segment::Map { key } => key.clone(),
                Segment::Seq { index } => index.to_string(),
                Segment::Enum { variant } => variant.clone(),
                Segment::Unknown => "?".to_owned(),
            })
            .collect();
        let mut message = err.inner().message().to_owned();
        if let Some(rest) = message.strip_prefix(ENTRY) {
            if let Some((entry, rest)) = rest.split_once(ENTRY) {
                path.retain(|s| s != "?");
                path.push(entry.to_owned());
                message = rest.to_owned();
            }
        }
        let key = path.join(".");
        let message = ours(&path, &message, value_at(&tree, &path));
        problems.push(Problem::keyed(&key, message));
        if path.is_empty() || !remove(&mut tree, &path) {
            // Nothing to take out: the whole tree is refused; the defaults stand in.
            return T::default();
        }
    }
    T::default()
}

/// serde's wording → ours, for the messages `form` does not build.
fn ours(path: &[String], message: &str, value: Option<&Value>) -> String {
    if message.starts_with("unknown field `") {
        // "unknown field `x`, expected `a` or `b`" / "expected one of `a`, `b`, `c`"
        let names = message.split_once(", expected").map_or("", |(_, names)| names);
        let names: Vec<&str> = names.split('`').skip(1).step_by(2).collect();
        let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        return match &path[..path.len().saturating_sub(1)] {
            [] => format!("unknown section: expected one of {list}"),
            parent => format!("unknown key in [{}]: expected one of {list}", parent.join(".")),
        };
    }
    if message.starts_with("invalid type: ") && message.contains(", expected struct ") {
        let shown = value.map_or_else(|| "the value".to_owned(), render);
        return format!("{shown} is not valid: expected a section, [{}]", path.join("."));
    }
    message.to_owned()
}

fn value_at<'t>(tree: &'t Table, path: &[String]) -> Option<&'t Value> {
    let (last, parents) = path.split_last()?;
    let mut table = tree;
    for segment in parents {
        table = table.get(segment)?.as_table()?;
    }
    table.get(last)
}

fn remove(tree: &mut Table, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut table = tree;
    for segment in parents {
        match table.get_mut(segment).and_then(Value::as_table_mut) {
            Some(inner) => table = inner,
            None => return false,
        }
    }
    table.remove(last).is_some()
}
