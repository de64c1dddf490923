//! Checking mapping files: the shipped default is valid, and each kind of mistake is
//! reported with the file, the resource and the field.

use serde_json::json;
use snapsync::errors::Classify;
use snapsync::mapping::{Mapping, MappingError, Resource, DEFAULT_MAPPING};

const FILE: &str = "mapping/test.toml";

/// The default file with `from` replaced by `to` (the edit must apply).
fn edited(from: &str, to: &str) -> String {
    assert!(DEFAULT_MAPPING.contains(from), "the default mapping has {from:?}");
    DEFAULT_MAPPING.replacen(from, to, 1)
}

fn problems(text: &str) -> Vec<String> {
    match Mapping::parse(FILE, text) {
        Err(MappingError::Invalid { problems }) => problems,
        other => panic!("expected an invalid mapping, got {other:?}"),
    }
}

#[test]
fn the_default_mapping_is_valid() {
    let m = Mapping::builtin().expect("valid");
    assert_eq!(m.default_country(), "US");
}

#[test]
fn unknown_target_field_names_file_resource_and_field() {
    let p = problems(&edited("email = { from = [\"email\"", "emial = { from = [\"email\""));
    assert_eq!(
        p,
        vec![r#"mapping/test.toml: resource lead_from_contact: target field "emial" is not a Snapshots lead field"#]
    );
}

#[test]
fn unknown_source_field_names_file_resource_and_field() {
    let p = problems(&edited("city = { from = \"businessAddress.city\"", "city = { from = \"businessAddress.town\""));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        p[0],
        r#"mapping/test.toml: resource location_from_site: field "city": source field "businessAddress.town" is not a known RingCentral site (SiteInfo) field"#
    );
    // Sites have no street2 (only emergency locations do).
    let p = problems(&edited(
        "address = { from = \"businessAddress.street\"",
        "address = { from = \"businessAddress.street2\"",
    ));
    assert!(p[0].contains("location_from_site") && p[0].contains("businessAddress.street2"), "{p:?}");
    // Template placeholders are checked too.
    let p = problems(&edited(
        "name = { template = \"{firstName} {lastName}\"",
        "name = { template = \"{firstName} {lastname}\"",
    ));
    assert!(p[0].contains("lead_from_contact") && p[0].contains("\"lastname\""), "{p:?}");
}

#[test]
fn every_problem_at_once() {
    let text = edited("transforms = [\"phone\"] }\ncompany", "transforms = [\"phoen\"] }\ncompany");
    let text = text.replacen("type = { constant = \"follow_up\" }", "type = { constant = \"folow_up\" }", 1);
    let text = text.replacen("[account]\n", "[acount]\n", 1);
    let p = problems(&text);
    assert!(
        p.iter().any(|x| x.contains("resource lead_from_contact: field \"phone\": unknown transform \"phoen\"")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|x| x.contains("resource follow_up_from_voicemail: field \"type\": value \"folow_up\" is not one of")),
        "{p:?}"
    );
    assert!(p.iter().any(|x| x.contains("unknown resource \"acount\"")), "{p:?}");
    // `[account.fields]` is still there, so `account` exists but lacks its external_id.
    assert!(p.iter().any(|x| x.contains("resource account: external_id is missing")), "{p:?}");
    let err = MappingError::Invalid { problems: p };
    assert!(!err.classify().is_retryable(), "a mapping error is permanent");
}

#[test]
fn required_fields_and_shapes() {
    let p = problems(&edited("company_name = {", "company = {"));
    assert!(p
        .iter()
        .any(|x| x.contains("resource account: target field \"company\" is not a Snapshots account field")));
    assert!(
        p.iter().any(|x| x
            == "mapping/test.toml: resource account: required Snapshots account field \"company_name\" is not mapped"),
        "{p:?}"
    );
    let p =
        problems(&edited("source = { constant = \"ringcentral\" }", "source = { constant = \"x\", from = \"id\" }"));
    assert_eq!(p, vec!["mapping/test.toml: resource lead_from_contact: field \"source\": give exactly one of from, template, constant"]);
    let p = problems(&edited("external_id = \"ringcentral:site:{id}\"", "external_id = \"ringcentral:site\""));
    assert!(
        p[0].contains("resource location_from_site: external_id") && p[0].contains("names no source field"),
        "{p:?}"
    );
    let p = problems(&edited("default_country = \"US\"", "default_country = \"ZZ\""));
    assert!(p[0].starts_with("mapping/test.toml: default_country"), "{p:?}");
    let p = problems(&edited("transforms = [\"phone\"] }\ncompany", "transforms = [{ phone = \"ZZ\" }] }\ncompany"));
    assert!(p[0].contains("field \"phone\": phone country \"ZZ\""), "{p:?}");
    match Mapping::parse(FILE, "[lead_from_contact\n") {
        Err(MappingError::Syntax { file, .. }) => assert_eq!(file, FILE),
        other => panic!("{other:?}"),
    }
    let missing = Mapping::load(std::path::Path::new("/nonexistent/mapping.toml")).expect_err("no file");
    assert!(missing.to_string().contains("/nonexistent/mapping.toml"));
}

#[test]
fn mapping_a_record_uses_each_transform() {
    let text = r#"
default_country = "CA"
[location_from_site]
external_id = "ringcentral:site:{id}"
[location_from_site.fields]
name = { from = "name", transforms = ["trim"], default = "Unnamed" }
region = { from = "businessAddress.state", transforms = ["region_code"] }
country = { from = "businessAddress.country", transforms = ["country_code"] }
city = { from = "businessAddress.city", transforms = ["trim", "uppercase"] }
address = { from = "code", transforms = [{ lookup = { HQ = "Head office", "*" = "Branch" } }] }
tags = { constant = ["a", "b"] }
[location_from_emergency_location]
external_id = "e:{id}"
fields = { name = "name" }
[account]
external_id = "a:{id}"
[account.fields]
company_name = "company"
phone = { from = "mainNumber", transforms = ["phone"] }
email = { from = "email", transforms = ["trim", "lowercase"] }
[lead_from_contact]
external_id = "c:{id}"
fields = { name = { template = "{firstName} {lastName}", default = "Unknown" }, email = "email" }
[follow_up_from_voicemail]
external_id = "v:{id}"
fields = { type = { constant = "follow_up" } }
"#;
    let m = Mapping::parse(FILE, text).expect("valid");
    let site = json!({"id": "7", "name": "  ", "code": "NYC",
        "businessAddress": {"state": "Ontario", "country": "Canada", "city": " toronto "}});
    let out = m.map(Resource::LocationFromSite, &site).expect("map");
    assert_eq!(out.external_id, "ringcentral:site:7");
    let r = &out.record;
    assert_eq!(
        (r["name"].as_str(), r["region"].as_str(), r["country"].as_str()),
        (Some("Unnamed"), Some("ON"), Some("CA"))
    );
    assert_eq!((r["city"].as_str(), r["address"].as_str()), (Some("TORONTO"), Some("Branch")));
    assert_eq!(r["tags"], json!(["a", "b"]));

    // Default country CA; an invalid phone and email are dropped with notes, not errors.
    let acc = json!({"id": 1, "company": "X", "mainNumber": "(416) 555-0199", "email": " A@B.COM "});
    let out = m.map(Resource::Account, &acc).expect("map");
    assert_eq!((out.record["phone"].as_str(), out.record["email"].as_str()), (Some("+14165550199"), Some("a@b.com")));
    let bad = json!({"id": 1, "company": "X", "mainNumber": "12", "email": "nobody"});
    let out = m.map(Resource::Account, &bad).expect("map");
    assert_eq!((out.record["phone"].clone(), out.record["email"].clone()), (json!(null), json!(null)));
    assert_eq!(out.notes.len(), 2, "{:?}", out.notes);
    assert!(out.notes.iter().any(|n| n.starts_with("a:1: phone \"12\"")), "{:?}", out.notes);
    assert!(out.notes.iter().any(|n| n.starts_with("a:1: email: \"nobody\"")), "{:?}", out.notes);

    let lead = m.map(Resource::LeadFromContact, &json!({"id": 5, "lastName": "Solo"})).expect("map");
    assert_eq!(lead.record["name"], "Solo");
    let lead = m.map(Resource::LeadFromContact, &json!({"id": 5})).expect("map");
    assert_eq!(lead.record["name"], "Unknown", "default when empty");
    let err = m.map(Resource::LeadFromContact, &json!({"firstName": "No id"})).expect_err("no id");
    assert!(err.to_string().contains("external_id needs source field \"id\""), "{err}");
    assert!(!err.classify().is_retryable());
    let no_name = m.map(Resource::Account, &json!({"id": 2})).expect_err("company_name required");
    assert!(no_name.to_string().contains("required field \"company_name\" is empty"), "{no_name}");
}
