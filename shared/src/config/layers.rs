//! The raw layers: the TOML file parsed into a tree, then each `SNAPSYNC__SECTION__KEY`
//! environment variable written over it. Values stay untyped here; the reader types them
//! and remembers which variable set each key, so its messages can name the variable.

use std::collections::HashMap;

use toml::{Table, Value};

use super::error::Problem;

/// Environment variables with this prefix override the file; `__` separates path segments.
pub const ENV_PREFIX: &str = "SNAPSYNC__";

/// The merged tree, the file's own tree (which keys the file set), which environment
/// variable set each dotted key, and the problems met.
pub(crate) struct Layers {
    pub root: Table,
    pub file: Table,
    pub origins: HashMap<String, String>,
    pub problems: Vec<Problem>,
}

impl Layers {
    /// The variable that set `key`, or else one that set a key below it.
    pub fn origin(&self, key: &str) -> Option<String> {
        if let Some(var) = self.origins.get(key) {
            return Some(var.clone());
        }
        let below = format!("{key}.");
        self.origins.iter().filter(|(k, _)| k.starts_with(&below)).map(|(_, v)| v.clone()).min()
    }
}

/// Parses `text` (named `file_name` in messages) and applies `env` over it. A syntax error is
/// one problem and leaves the file layer empty, so the environment is still checked.
pub(crate) fn merge(text: &str, file_name: &str, env: impl IntoIterator<Item = (String, String)>) -> Layers {
    let mut layers = Layers { root: Table::new(), file: Table::new(), origins: HashMap::new(), problems: Vec::new() };
    match text.parse::<Table>() {
        Ok(root) => {
            layers.file = root.clone();
            layers.root = root;
        }
        Err(err) => layers.problems.push(syntax_problem(text, file_name, &err)),
    }
    let mut env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
    // Sorted so messages come out in a stable order whatever the process environment's order.
    env.sort();
    for (name, value) in env {
        apply_env(&mut layers, &name, value);
    }
    layers
}

/// The parser's message and position, but never the offending line: it may hold a secret.
fn syntax_problem(text: &str, file_name: &str, err: &toml::de::Error) -> Problem {
    let position = err.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!(" at line {line}, column {column}")
    });
    let message = err.message().trim().replace('\n', "; ");
    Problem {
        key: None,
        origin: Some(file_name.to_owned()),
        message: format!("is not valid TOML{}: {message}", position.unwrap_or_default()),
    }
}

fn apply_env(layers: &mut Layers, name: &str, value: String) {
    let rest = &name[ENV_PREFIX.len()..];
    let segments: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if segments.iter().any(String::is_empty) {
        layers.problems.push(Problem {
            key: None,
            origin: Some(name.to_owned()),
            message: "is not a valid override name: expected SNAPSYNC__SECTION__KEY \
                      (upper case, `__` between section and key), e.g. SNAPSYNC__REDIS__URL"
                .into(),
        });
        return;
    }
    let mut table = &mut layers.root;
    for (depth, segment) in segments[..segments.len() - 1].iter().enumerate() {
        let entry = table.entry(segment.clone()).or_insert_with(|| Value::Table(Table::new()));
        match entry {
            Value::Table(inner) => table = inner,
            _ => {
                let key = segments[..=depth].join(".");
                layers.problems.push(Problem {
                    key: Some(segments.join(".")),
                    origin: Some(name.to_owned()),
                    message: format!("cannot be set: `{key}` is a single value, not a section"),
                });
                return;
            }
        }
    }
    let leaf = segments[segments.len() - 1].clone();
    table.insert(leaf, Value::String(value));
    layers.origins.insert(segments.join("."), name.to_owned());
}

#[cfg(test)]
mod tests {
    use super::merge;

    #[test]
    fn syntax_error_names_file_line_and_column_but_not_the_line() {
        let layers = merge("a = 1\nb = \"hidden\n", "f.toml", Vec::new());
        let text = layers.problems[0].to_string();
        assert!(text.starts_with("f.toml is not valid TOML at line 2, column "), "{text}");
        assert!(!text.contains("hidden"), "{text}");
    }

    #[test]
    fn nested_override_creates_sections_and_records_its_variable() {
        let env = vec![("SNAPSYNC__SCHEDULES__CONTACTS__EVERY".to_owned(), "5m".to_owned())];
        let layers = merge("", "f.toml", env);
        assert!(layers.problems.is_empty());
        let every = layers.root["schedules"]["contacts"]["every"].as_str();
        assert_eq!(every, Some("5m"));
        assert_eq!(layers.origins["schedules.contacts.every"], "SNAPSYNC__SCHEDULES__CONTACTS__EVERY");
    }
}
