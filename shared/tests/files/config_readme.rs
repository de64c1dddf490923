//! The README's configuration table (between `<!-- config-table:start -->` and
//! `<!-- config-table:end -->`), the example file `config/snapsync.example.toml` and the typed
//! `Config` (what `snapsync config show` prints) name the same keys, and the table's defaults
//! are the example's values (a secret's shown as *secret*, and only a secret's).

use std::collections::BTreeMap;
use std::path::Path;

use snapsync::config::Config;

const START: &str = "<!-- config-table:start -->";
const END: &str = "<!-- config-table:end -->";
const SECRET: &str = "*secret*";

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Every leaf of a TOML table as `section.key` → value (an empty table is a leaf).
fn leaves(table: &toml::Table, prefix: &str, out: &mut BTreeMap<String, toml::Value>) {
    for (name, value) in table {
        let key = format!("{prefix}{name}");
        match value {
            toml::Value::Table(inner) if !inner.is_empty() => leaves(inner, &format!("{key}."), out),
            _ => {
                out.insert(key, value.clone());
            }
        }
    }
}

fn leaves_of(text: &str, what: &str) -> BTreeMap<String, toml::Value> {
    let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{what} is not TOML: {e}"));
    let mut out = BTreeMap::new();
    leaves(&table, "", &mut out);
    out
}

/// The table's rows as (key, default cell), in order; panics naming what is malformed.
fn readme_rows(readme: &str) -> Vec<(String, String)> {
    let start = readme.find(START).unwrap_or_else(|| panic!("README.md has no {START} marker"));
    let end = readme.find(END).unwrap_or_else(|| panic!("README.md has no {END} marker"));
    assert!(start < end, "{START} must come before {END}");
    let mut rows = Vec::new();
    for line in readme[start + START.len()..end].lines().map(str::trim).filter(|l| !l.is_empty()) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        if cells.first() == Some(&"key") || line.starts_with("|---") {
            continue;
        }
        assert!(cells.len() >= 3 && !cells[2].is_empty(), "a row needs key, default and meaning: {line}");
        let key = cells[0].strip_prefix('`').and_then(|k| k.strip_suffix('`'));
        let key = key.unwrap_or_else(|| panic!("the key cell should be `section.key`: {line}"));
        rows.push((key.to_string(), cells[1].to_string()));
    }
    rows
}

#[test]
fn readme_table_example_file_and_config_name_the_same_keys_with_the_same_defaults() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("read README.md");
    let rows = readme_rows(&readme);
    let example_text = std::fs::read_to_string(repo_file("config/snapsync.example.toml")).expect("read example");
    let example = leaves_of(&example_text, "config/snapsync.example.toml");
    let shown = leaves_of(&Config::default().redacted_toml(), "Config::default().redacted_toml()");

    let mut table_keys: Vec<String> = rows.iter().map(|(k, _)| k.clone()).collect();
    let count = table_keys.len();
    table_keys.sort();
    table_keys.dedup();
    assert_eq!(table_keys.len(), count, "a key appears twice in the README table");
    let example_keys: Vec<String> = example.keys().cloned().collect();
    let shown_keys: Vec<String> = shown.keys().cloned().collect();
    let missing: Vec<&String> = shown_keys.iter().filter(|k| !table_keys.contains(k)).collect();
    let extra: Vec<&String> = table_keys.iter().filter(|k| !shown_keys.contains(k)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "README table: missing keys {missing:?}, unknown keys {extra:?}");
    assert_eq!(example_keys, shown_keys, "the example file and Config name different keys");

    let redacted = toml::Value::String("[redacted]".into());
    for (key, cell) in &rows {
        if shown[key] == redacted {
            assert_eq!(cell, SECRET, "{key} is a secret: its default cell should be {SECRET}");
            continue;
        }
        assert_ne!(cell, SECRET, "{key} is not redacted by `config show`, so it is no secret");
        let literal = cell.strip_prefix('`').and_then(|c| c.strip_suffix('`'));
        let literal =
            literal.unwrap_or_else(|| panic!("{key}: the default cell should be a TOML value in backticks: {cell}"));
        let parsed: toml::Table = format!("v = {literal}")
            .parse()
            .unwrap_or_else(|e| panic!("{key}: the default {literal} is not a TOML value: {e}"));
        assert_eq!(parsed["v"], example[key], "{key}: README default {literal} differs from the example file");
    }
}

#[test]
fn a_table_missing_its_markers_or_a_key_cell_is_refused_by_name() {
    let no_marker = std::panic::catch_unwind(|| readme_rows("| key | default | meaning |"));
    let err = no_marker.expect_err("no markers");
    let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains(START), "{text}");
    let bad = format!("{START}\n| key | default | meaning |\n|---|---|---|\n| redis.url | `\"x\"` | m |\n{END}");
    let err = std::panic::catch_unwind(|| readme_rows(&bad)).expect_err("a key without backticks");
    let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("| redis.url |"), "{text}");
    let good = format!("{START}\n| key | default | meaning |\n|---|---|---|\n| `redis.url` | `\"x\"` | m |\n{END}");
    assert_eq!(readme_rows(&good), vec![("redis.url".to_string(), "`\"x\"`".to_string())]);
}
