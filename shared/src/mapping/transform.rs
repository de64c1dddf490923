//! The value transforms a mapping applies, in order, to a text value, and the template
//! and path helpers they rely on.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{geo, phone};

/// One transform step.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    Trim,
    Lowercase,
    Uppercase,
    /// E.164 with this default country (ISO alpha-2); an invalid number becomes empty.
    Phone(String),
    /// State/province name → code; unknown names are kept as they are.
    RegionCode,
    /// Country name → ISO 3166-1 alpha-2; unknown names become empty.
    CountryCode,
    /// Exact (then case-insensitive) lookup; `*` is the fallback; no match keeps the value.
    Lookup(BTreeMap<String, String>),
}

impl Transform {
    /// Applies the step; a note is pushed when a value is dropped or left unconverted.
    pub fn apply(&self, value: String, notes: &mut Vec<String>) -> String {
        match self {
            Transform::Trim => value.trim().to_string(),
            Transform::Lowercase => value.to_lowercase(),
            Transform::Uppercase => value.to_uppercase(),
            Transform::Phone(country) => {
                if value.trim().is_empty() {
                    return String::new();
                }
                phone::to_e164(&value, country).unwrap_or_else(|| {
                    notes
                        .push(format!("phone {value:?} is not a valid number (default country {country}); left empty"));
                    String::new()
                })
            }
            Transform::RegionCode => {
                let trimmed = value.trim();
                match geo::region_code(trimmed) {
                    Some(code) => code.to_string(),
                    None => {
                        if !trimmed.is_empty() {
                            notes.push(format!("region {trimmed:?} has no known code; kept as is"));
                        }
                        trimmed.to_string()
                    }
                }
            }
            Transform::CountryCode => {
                let trimmed = value.trim();
                match geo::country_code(trimmed) {
                    Some(code) => code.to_string(),
                    None => {
                        if !trimmed.is_empty() {
                            notes.push(format!("country {trimmed:?} has no known iso code; left empty"));
                        }
                        String::new()
                    }
                }
            }
            Transform::Lookup(table) => {
                if let Some(hit) = table.get(&value) {
                    return hit.clone();
                }
                let folded = value.trim().to_lowercase();
                table
                    .iter()
                    .find(|(k, _)| k.trim().to_lowercase() == folded)
                    .or_else(|| table.get_key_value("*"))
                    .map_or(value, |(_, v)| v.clone())
            }
        }
    }
}

/// The value at a dotted path (`businessAddress.city`, `to.0.name`); `None` when absent.
pub fn lookup<'a>(source: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(source, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// A scalar as text: strings as they are, numbers and booleans printed; `None` for
/// null, absent, arrays and objects.
pub fn text_at(source: &Value, path: &str) -> Option<String> {
    match lookup(source, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A parsed template: literal text and `{path}` / `{path|other.path}` placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// Alternatives: the first non-blank one is used.
    Field(Vec<String>),
}

impl Template {
    /// Parses `"{firstName} {lastName}"`; `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => inner.push(c),
                            None => return Err(format!("template {text:?} has an unclosed '{{'")),
                        }
                    }
                    let alternatives: Vec<String> = inner.split('|').map(|s| s.trim().to_string()).collect();
                    if alternatives.iter().any(String::is_empty) {
                        return Err(format!("template {text:?} has an empty placeholder"));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(alternatives));
                }
                '}' => return Err(format!("template {text:?} has a '}}' without '{{' (write '}}}}' for a brace)")),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// Every source path the template reads.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().flat_map(|p| match p {
            Part::Field(alts) => alts.iter().map(String::as_str).collect::<Vec<_>>(),
            Part::Text(_) => Vec::new(),
        })
    }

    /// Renders against `source`, collapsing runs of whitespace and trimming (so a missing
    /// middle part leaves no double space). Empty when every placeholder is empty, so a
    /// field default can take over.
    pub fn render(&self, source: &Value) -> String {
        let mut out = String::new();
        let mut any_field = false;
        let mut any_value = false;
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(alts) => {
                    any_field = true;
                    if let Some(v) = first_text(source, alts) {
                        any_value = true;
                        out.push_str(&v);
                    }
                }
            }
        }
        if any_field && !any_value {
            return String::new();
        }
        // A separator next to an empty placeholder at either end ("street, " when street2
        // is empty) is dropped.
        let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
        out.trim_matches(|c: char| c == ',' || c == ';' || c == '-' || c.is_whitespace()).to_string()
    }

    /// Renders with every placeholder required; `Err(path)` names the first empty one.
    pub fn render_strict(&self, source: &Value) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(alts) => out.push_str(&first_text(source, alts).ok_or_else(|| alts.join("|"))?),
            }
        }
        Ok(out)
    }
}

fn first_text(source: &Value, alternatives: &[String]) -> Option<String> {
    alternatives.iter().filter_map(|p| text_at(source, p)).map(|s| s.trim().to_string()).find(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(t: Transform, v: &str) -> (String, Vec<String>) {
        let mut notes = Vec::new();
        (t.apply(v.to_string(), &mut notes), notes)
    }

    #[test]
    fn text_transforms() {
        assert_eq!(run(Transform::Trim, "  a b  ").0, "a b");
        assert_eq!(run(Transform::Lowercase, "Mary.Smith@Example.COM").0, "mary.smith@example.com");
        assert_eq!(run(Transform::Uppercase, "us").0, "US");
    }

    #[test]
    fn phone_transform() {
        assert_eq!(run(Transform::Phone("US".into()), "(650) 555-0123").0, "+16505550123");
        assert_eq!(run(Transform::Phone("US".into()), "650.555.0123").0, "+16505550123");
        assert_eq!(run(Transform::Phone("US".into()), "+442079460958").0, "+442079460958");
        let (v, notes) = run(Transform::Phone("US".into()), "555-01");
        assert_eq!(v, "");
        assert_eq!(notes.len(), 1, "an invalid phone leaves a note, not an error");
        assert_eq!(run(Transform::Phone("US".into()), "").1.len(), 0, "empty is not worth a note");
    }

    #[test]
    fn geo_transforms() {
        assert_eq!(run(Transform::RegionCode, "California").0, "CA");
        assert_eq!(run(Transform::RegionCode, "Ontario").0, "ON");
        let (v, notes) = run(Transform::RegionCode, "Bavaria");
        assert_eq!((v.as_str(), notes.len()), ("Bavaria", 1));
        assert_eq!(run(Transform::CountryCode, "United States").0, "US");
        assert_eq!(run(Transform::CountryCode, "USA").0, "US");
        assert_eq!(run(Transform::CountryCode, "United Kingdom").0, "GB");
        let (v, notes) = run(Transform::CountryCode, "Atlantis");
        assert_eq!((v.as_str(), notes.len()), ("", 1));
    }

    #[test]
    fn lookup_table() {
        let table: BTreeMap<String, String> =
            [("Confirmed", "active"), ("Disabled", "inactive")].map(|(a, b)| (a.to_string(), b.to_string())).into();
        assert_eq!(run(Transform::Lookup(table.clone()), "Confirmed").0, "active");
        assert_eq!(run(Transform::Lookup(table.clone()), "disabled").0, "inactive");
        assert_eq!(run(Transform::Lookup(table.clone()), "Unconfirmed").0, "Unconfirmed");
        let mut with_fallback = table;
        with_fallback.insert("*".into(), "other".into());
        assert_eq!(run(Transform::Lookup(with_fallback), "Unconfirmed").0, "other");
    }

    #[test]
    fn templates() {
        let src = json!({"firstName": "Mary", "lastName": " Smith ", "from": {"phoneNumber": "+16505550100"}, "id": 7});
        assert_eq!(Template::parse("{firstName} {lastName}").unwrap().render(&src), "Mary Smith");
        assert_eq!(Template::parse("{firstName} {middleName} {lastName}").unwrap().render(&src), "Mary Smith");
        assert_eq!(Template::parse("Call {from.name|from.phoneNumber}").unwrap().render(&src), "Call +16505550100");
        assert_eq!(Template::parse("Hi {nickName}").unwrap().render(&src), "", "all placeholders empty");
        assert_eq!(
            Template::parse("ringcentral:contact:{id}").unwrap().render_strict(&src).unwrap(),
            "ringcentral:contact:7"
        );
        assert_eq!(Template::parse("x:{nope}").unwrap().render_strict(&src), Err("nope".to_string()));
        assert_eq!(Template::parse("{{literal}}").unwrap().render(&src), "{literal}");
        assert_eq!(Template::parse("{firstName}, {street2}").unwrap().render(&src), "Mary", "dangling separator");
        assert!(Template::parse("{open").is_err());
        assert!(Template::parse("{}").is_err());
        assert!(Template::parse("a}b").is_err());
        let t = Template::parse("{a|b.c} {d}").unwrap();
        assert_eq!(t.paths().collect::<Vec<_>>(), vec!["a", "b.c", "d"]);
    }
}
