//! Reading and checking an owner-routing rules file.
//!
//! ```toml
//! default_country = "US"        # for reading area codes from national-format phones
//! [fallback]
//! team = "Sales East"           # round-robin over its active owners
//! [[rules]]
//! name = "new-york-site"
//! site = ["400000202"]          # the site of the extension that owns (or last talked to) the contact
//! team = "Sales East"           # or owner = "own_01"
//! ```
//! Conditions: `company` (case-insensitive equality), `email_domain` (the email's domain
//! or a subdomain of it), `area_code` (NANP area code of any of the contact's phones),
//! `site`; and of the call that brought the contact in (the last call with any of its
//! phones, see [`super::call_context`]): `call_site` (the site of the extension that
//! handled it), `call_extension`, `call_direction` (`Inbound`/`Outbound`, any case),
//! `call_result` (`answered`, `missed`, `voicemail`), `dialled_number` (the number the
//! caller dialled, compared in E.164). A call condition never matches a contact with no
//! call. Each takes a string or a list (any of them); several conditions in one rule
//! must all hold. The first rule that matches wins.

use serde_json::Value;

use super::error::RoutingError;
use crate::mapping::phone;
use crate::snapshots::Owner;

/// Where a rule sends a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assign {
    Owner(String),
    /// Round-robin over the team's active owners.
    Team(String),
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub company: Vec<String>,
    pub email_domain: Vec<String>,
    pub area_code: Vec<String>,
    pub site: Vec<String>,
    pub call_site: Vec<String>,
    pub call_extension: Vec<String>,
    /// Lower-case.
    pub call_direction: Vec<String>,
    pub call_result: Vec<String>,
    /// E.164.
    pub dialled_number: Vec<String>,
    pub assign: Assign,
}

impl Rule {
    /// Whether the rule has a condition on the call that brought the contact in.
    pub fn uses_call(&self) -> bool {
        !(self.call_site.is_empty()
            && self.call_extension.is_empty()
            && self.call_direction.is_empty()
            && self.call_result.is_empty()
            && self.dialled_number.is_empty())
    }
}

/// A checked rules file.
#[derive(Debug, Clone)]
pub struct Rules {
    pub file: String,
    pub default_country: String,
    pub fallback_team: String,
    pub rules: Vec<Rule>,
}

/// The contact facts rules look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub company: Option<String>,
    pub email_domain: Option<String>,
    pub area_codes: Vec<String>,
    pub site: Option<String>,
    /// The last call with any of the contact's phones (looked up only when a rule asks).
    pub call: Option<super::CallContext>,
}

/// Phone fields of a personal contact read for area codes, in this order.
const PHONE_FIELDS: &[&str] = &[
    "businessPhone",
    "businessPhone2",
    "mobilePhone",
    "homePhone",
    "homePhone2",
    "companyPhone",
    "otherPhone",
    "callbackPhone",
    "carPhone",
    "assistantPhone",
];

const RULE_KEYS: &[&str] = &[
    "name",
    "company",
    "email_domain",
    "area_code",
    "site",
    "call_site",
    "call_extension",
    "call_direction",
    "call_result",
    "dialled_number",
    "owner",
    "team",
];

/// The values `call_result` takes.
pub const CALL_RESULTS: &[&str] = &["answered", "missed", "voicemail"];

impl Rules {
    pub fn load(path: &std::path::Path) -> Result<Rules, RoutingError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| RoutingError::Read { path: path.display().to_string(), source })?;
        Rules::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Rules, RoutingError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| RoutingError::Syntax { file: file.into(), message: e.to_string() })?;
        let mut problems = Vec::new();
        for key in table.keys().filter(|k| !["default_country", "fallback", "rules"].contains(&k.as_str())) {
            problems.push(format!("{file}: unknown key {key:?} (expected default_country, fallback, rules)"));
        }
        let default_country = match table.get("default_country") {
            None => "US".to_string(),
            Some(toml::Value::String(c)) if phone::known_country(c) => c.to_uppercase(),
            Some(v) => {
                problems.push(format!("{file}: default_country {v} is not a country with a known calling code"));
                "US".into()
            }
        };
        let fallback_team = match table.get("fallback").and_then(toml::Value::as_table) {
            None => {
                problems.push(format!("{file}: [fallback] is missing: name the team leads go to when no rule can"));
                String::new()
            }
            Some(fb) => {
                for key in fb.keys().filter(|k| *k != "team") {
                    problems.push(format!("{file}: fallback: unknown key {key:?} (expected team)"));
                }
                match fb.get("team").and_then(toml::Value::as_str).map(str::trim) {
                    Some(team) if !team.is_empty() => team.to_string(),
                    _ => {
                        problems.push(format!("{file}: fallback: team is missing or empty"));
                        String::new()
                    }
                }
            }
        };
        let mut rules: Vec<Rule> = Vec::new();
        match table.get("rules") {
            None => {}
            Some(toml::Value::Array(list)) => {
                for (i, value) in list.iter().enumerate() {
                    if let Some(rule) = parse_rule(file, i, value, &default_country, &mut problems) {
                        if rules.iter().any(|r| r.name == rule.name) {
                            problems.push(format!("{file}: rule {:?}: the name is used twice", rule.name));
                        }
                        rules.push(rule);
                    }
                }
            }
            Some(_) => problems.push(format!("{file}: rules must be an array of tables ([[rules]])")),
        }
        if problems.is_empty() {
            Ok(Rules { file: file.into(), default_country, fallback_team, rules })
        } else {
            Err(RoutingError::Invalid { problems })
        }
    }

    /// Names rules and the fallback whose owner or team Snapshots does not know (run at
    /// startup with `/owners`; an inactive owner is not a problem here — routing falls
    /// back and says so).
    pub fn check_owners(&self, owners: &[Owner]) -> Vec<String> {
        let team_known = |t: &str| owners.iter().any(|o| o.team.as_deref() == Some(t));
        let mut problems = Vec::new();
        if !team_known(&self.fallback_team) {
            problems.push(format!("{}: fallback: team {:?} has no owner in Snapshots", self.file, self.fallback_team));
        }
        for rule in &self.rules {
            match &rule.assign {
                Assign::Owner(id) if !owners.iter().any(|o| &o.owner_id == id) => problems.push(format!(
                    "{}: rule {:?}: field \"owner\": {id:?} is not a Snapshots owner",
                    self.file, rule.name
                )),
                Assign::Team(team) if !team_known(team) => problems.push(format!(
                    "{}: rule {:?}: field \"team\": {team:?} has no owner in Snapshots",
                    self.file, rule.name
                )),
                _ => {}
            }
        }
        problems
    }

    /// The facts rules look at, from a RingCentral personal contact and the site id of the
    /// extension that owns it (or last talked to it).
    pub fn facts(&self, contact: &Value, site: Option<&str>) -> Facts {
        let text = |k: &str| contact.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let email_domain = ["email", "email2", "email3"]
            .iter()
            .filter_map(|k| text(k))
            .find_map(|e| e.rsplit_once('@').map(|(_, d)| d.trim().to_lowercase()))
            .filter(|d| !d.is_empty());
        let mut area_codes = Vec::new();
        for p in PHONE_FIELDS.iter().filter_map(|k| text(k)) {
            if let Some(code) = phone::nanp_area_code(p, &self.default_country) {
                if !area_codes.contains(&code) {
                    area_codes.push(code);
                }
            }
        }
        Facts {
            company: text("company").map(str::to_string),
            email_domain,
            area_codes,
            site: site.map(str::to_string),
            call: None,
        }
    }

    /// Whether any rule looks at the call that brought the contact in.
    pub fn uses_call(&self) -> bool {
        self.rules.iter().any(Rule::uses_call)
    }

    /// The contact's phones in E.164 (the fields rules read area codes from), for the
    /// call-context lookup.
    pub fn phones(&self, contact: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for p in PHONE_FIELDS.iter().filter_map(|k| contact.get(*k).and_then(Value::as_str)) {
            if let Some(e164) = phone::to_e164(p, &self.default_country) {
                if !out.contains(&e164) {
                    out.push(e164);
                }
            }
        }
        out
    }
}

impl Rule {
    /// True when every condition the rule has holds; `why` says which matched.
    pub fn matches(&self, f: &Facts) -> Option<String> {
        let mut why = Vec::new();
        if !self.company.is_empty() {
            let c = f.company.as_deref()?;
            let hit = self.company.iter().find(|x| x.eq_ignore_ascii_case(c.trim()))?;
            why.push(format!("company = {hit}"));
        }
        if !self.email_domain.is_empty() {
            let d = f.email_domain.as_deref()?;
            let hit = self.email_domain.iter().find(|x| d == x.as_str() || d.ends_with(&format!(".{x}")))?;
            why.push(format!("email domain = {hit}"));
        }
        if !self.area_code.is_empty() {
            let hit = self.area_code.iter().find(|x| f.area_codes.contains(x))?;
            why.push(format!("area code = {hit}"));
        }
        if !self.site.is_empty() {
            let s = f.site.as_deref()?;
            let hit = self.site.iter().find(|x| x.as_str() == s)?;
            why.push(format!("site = {hit}"));
        }
        if self.uses_call() {
            let call = f.call.as_ref()?;
            let pick = |wanted: &[String], have: Option<&str>, what: &str, why: &mut Vec<String>| -> Option<()> {
                if wanted.is_empty() {
                    return Some(());
                }
                let have = have?;
                let hit = wanted.iter().find(|x| x.eq_ignore_ascii_case(have))?;
                why.push(format!("{what} = {hit}"));
                Some(())
            };
            pick(&self.call_site, call.site.as_deref(), "call site", &mut why)?;
            pick(&self.call_extension, call.extension_id.as_deref(), "call extension", &mut why)?;
            pick(&self.call_direction, call.direction.as_deref(), "call direction", &mut why)?;
            pick(&self.call_result, call.result.as_deref(), "call result", &mut why)?;
            pick(&self.dialled_number, call.dialled_number.as_deref(), "dialled number", &mut why)?;
        }
        Some(why.join(", "))
    }
}

fn parse_rule(
    file: &str,
    index: usize,
    value: &toml::Value,
    country: &str,
    problems: &mut Vec<String>,
) -> Option<Rule> {
    let Some(t) = value.as_table() else {
        problems.push(format!("{file}: rule #{}: must be a table", index + 1));
        return None;
    };
    let name = match t.get("name").and_then(toml::Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            problems.push(format!("{file}: rule #{}: field \"name\" is missing or empty", index + 1));
            format!("#{}", index + 1)
        }
    };
    let before = problems.len();
    let mut problem = |field: &str, what: String| {
        problems.push(format!("{file}: rule {name:?}: field {field:?}: {what}"));
    };
    for key in t.keys().filter(|k| !RULE_KEYS.contains(&k.as_str())) {
        problem(key, format!("unknown field (expected one of {})", RULE_KEYS[1..].join(", ")));
    }
    let mut list = |field: &str, check: &dyn Fn(&str) -> Option<String>| -> Vec<String> {
        let values: Vec<String> = match t.get(field) {
            None => return Vec::new(),
            Some(toml::Value::String(s)) => vec![s.trim().to_string()],
            Some(toml::Value::Array(a)) if !a.is_empty() && a.iter().all(toml::Value::is_str) => {
                a.iter().filter_map(toml::Value::as_str).map(|s| s.trim().to_string()).collect()
            }
            Some(_) => {
                problem(field, "expected a string or a non-empty list of strings".into());
                return Vec::new();
            }
        };
        for v in &values {
            if v.is_empty() {
                problem(field, "empty value".into());
            } else if let Some(why) = check(v) {
                problem(field, format!("{v:?} {why}"));
            }
        }
        values
    };
    let company = list("company", &|_| None);
    let email_domain: Vec<String> = list("email_domain", &|d| {
        (d.contains('@') || !d.contains('.')).then(|| "is not a domain such as \"acme.example.com\"".to_string())
    })
    .into_iter()
    .map(|d| d.to_lowercase())
    .collect();
    let area_code = list("area_code", &|c| {
        (c.len() != 3 || !c.bytes().all(|b| b.is_ascii_digit())).then(|| "is not a 3-digit area code".to_string())
    });
    let site = list("site", &|_| None);
    let call_site = list("call_site", &|_| None);
    let call_extension = list("call_extension", &|_| None);
    let call_direction: Vec<String> = list("call_direction", &|d| {
        (!["inbound", "outbound"].contains(&d.to_ascii_lowercase().as_str()))
            .then(|| "is not a direction (Inbound or Outbound)".to_string())
    })
    .into_iter()
    .map(|d| d.to_ascii_lowercase())
    .collect();
    let call_result: Vec<String> = list("call_result", &|r| {
        (!CALL_RESULTS.contains(&r.to_ascii_lowercase().as_str()))
            .then(|| format!("is not a call result (one of {})", CALL_RESULTS.join(", ")))
    })
    .into_iter()
    .map(|r| r.to_ascii_lowercase())
    .collect();
    let dialled_raw = list("dialled_number", &|n| {
        phone::to_e164(n, country).is_none().then(|| "is not a phone number (E.164, e.g. \"+16505550100\")".to_string())
    });
    let dialled_number: Vec<String> = dialled_raw.iter().filter_map(|n| phone::to_e164(n, country)).collect();
    let conditions = [&company, &email_domain, &area_code, &site, &call_site, &call_extension];
    if conditions.iter().all(|c| c.is_empty())
        && call_direction.is_empty()
        && call_result.is_empty()
        && dialled_number.is_empty()
    {
        problem(
            "company",
            "the rule has no condition (company, email_domain, area_code, site, call_site, call_extension, \
             call_direction, call_result or dialled_number)"
                .into(),
        );
    }
    let owner = t.get("owner").map(|v| v.as_str().map(str::trim).unwrap_or_default().to_string());
    let team = t.get("team").map(|v| v.as_str().map(str::trim).unwrap_or_default().to_string());
    let assign = match (owner, team) {
        (Some(o), None) if !o.is_empty() => Some(Assign::Owner(o)),
        (None, Some(t)) if !t.is_empty() => Some(Assign::Team(t)),
        (Some(_), Some(_)) => {
            problem("owner", "give owner or team, not both".into());
            None
        }
        (None, None) => {
            problem("owner", "missing: name an owner id (\"own_01\") or a team".into());
            None
        }
        (Some(_), None) => {
            problem("owner", "must be a non-empty owner id".into());
            None
        }
        (None, Some(_)) => {
            problem("team", "must be a non-empty team name".into());
            None
        }
    };
    if problems.len() > before {
        return None;
    }
    Some(Rule {
        name,
        company,
        email_domain,
        area_code,
        site,
        call_site,
        call_extension,
        call_direction,
        call_result,
        dialled_number,
        assign: assign?,
    })
}
