//! A JSON mapping file behaves like its TOML twin (issue 10, requirement 3): the twin is
//! generated here from `mapping/default.toml` (TOML → JSON with the `toml` and `serde_json`
//! crates, not with snapsync's code), both are checked, and the fixture's real records read
//! over HTTP from the RingCentral stand-in map to the same output; the same mistakes made in
//! both give the same problems, naming file, resource and field. Also what only JSON can get
//! wrong: `null`, a syntax error, a document that is not an object.

use serde_json::{json, Value};
use snapsync::mapping::{Format, Mapping, MappingError, Resource, DEFAULT_MAPPING};
use snapsync_sandbox::{Sandbox, SandboxConfig};

use super::mapping_default::Rc;

const TOML_FILE: &str = "mapping/twin.toml";
const JSON_FILE: &str = "mapping/twin.json";

/// The JSON twin of TOML mapping text.
fn twin(toml_text: &str) -> String {
    let table: toml::Table = toml::from_str(toml_text).expect("TOML");
    serde_json::to_string_pretty(&table).expect("JSON")
}

fn problems(file: &str, text: &str) -> Vec<String> {
    match Mapping::parse(file, text) {
        Err(MappingError::Invalid { problems }) => problems,
        other => panic!("{file}: expected an invalid mapping, got {other:?}"),
    }
}

#[test]
fn the_format_comes_from_the_extension() {
    assert_eq!(Format::from_file("mapping/x.json"), Format::Json);
    assert_eq!(Format::from_file("/etc/snapsync/MAPPING.JSON"), Format::Json);
    assert_eq!(Format::from_file("mapping/default.toml"), Format::Toml);
    assert_eq!(Format::from_file("mapping/no-extension"), Format::Toml);
    // A JSON file given as TOML fails as TOML, naming the format it was read as.
    let err = Mapping::parse(TOML_FILE, &twin(DEFAULT_MAPPING)).expect_err("JSON is not TOML");
    assert!(err.to_string().starts_with("mapping/twin.toml: not valid TOML"), "{err}");
}

#[tokio::test]
async fn the_json_twin_maps_the_fixture_exactly_like_the_toml_file() {
    let toml_mapping = Mapping::parse(TOML_FILE, DEFAULT_MAPPING).expect("TOML valid");
    let json_mapping = Mapping::parse(JSON_FILE, &twin(DEFAULT_MAPPING)).expect("JSON twin valid");
    assert_eq!(json_mapping.file(), JSON_FILE);
    assert_eq!(json_mapping.default_country(), toml_mapping.default_country());

    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let rc = Rc::login(&sandbox).await;
    let acc = "/restapi/v1.0/account/~";
    let mut sources = crate::mapping_default::fixture_sources(&rc).await;
    let vm = reqwest::Client::new()
        .post(format!("{}/sandbox/voicemail", sandbox.rc_url()))
        .json(&json!({"extensionId": 400000102, "from": {"phoneNumber": "+12125550123", "name": "Wei Chen"}}))
        .send()
        .await
        .expect("voicemail");
    assert!(vm.status().is_success(), "{}", vm.status());
    for v in rc.records(&format!("{acc}/extension/400000102/message-store?messageType=VoiceMail")).await {
        sources.push((Resource::FollowUpFromVoicemail, v));
    }
    // The voicemail left a call-log record; an SMS and a fax arrive in the message store.
    for call in rc.records(&format!("{acc}/call-log")).await {
        sources.push((Resource::ActivityFromCall, call));
    }
    for kind in ["SMS", "Fax"] {
        let sent = reqwest::Client::new()
            .post(format!("{}/sandbox/messages", sandbox.rc_url()))
            .json(&json!({"type": kind, "extensionId": 400000102, "from": {"phoneNumber": "+12125550123"}, "text": "hello"}))
            .send()
            .await
            .expect("message");
        assert!(sent.status().is_success(), "{}", sent.status());
    }
    for m in rc.records(&format!("{acc}/extension/400000102/message-store?messageType=SMS&messageType=Fax")).await {
        sources.push((Resource::ActivityFromMessage, m));
    }
    for resource in Resource::ALL {
        assert!(sources.iter().any(|(r, _)| *r == resource), "the fixture has {resource:?} records");
    }
    assert!(sources.len() > 200, "{}", sources.len());
    for (resource, source) in &sources {
        let from_toml = toml_mapping.map(*resource, source);
        let from_json = json_mapping.map(*resource, source);
        match (from_toml, from_json) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{resource:?} {source}"),
            (a, b) => panic!("{resource:?}: TOML {a:?} / JSON {b:?}"),
        }
    }
    // And a record mapping fails the same way in both (an empty external id source).
    let a = toml_mapping.map(Resource::LeadFromContact, &json!({"firstName": "No id"})).expect_err("no id");
    let b = json_mapping.map(Resource::LeadFromContact, &json!({"firstName": "No id"})).expect_err("no id");
    assert_eq!(a.to_string(), b.to_string());
    sandbox.stop().await;
}

#[test]
fn the_same_mistakes_give_the_same_problems_in_both() {
    let edits: &[(&str, &str)] = &[
        // Unknown target field.
        ("email = { from = [\"email\"", "emial = { from = [\"email\""),
        // Unknown source field.
        ("city = { from = \"businessAddress.city\"", "city = { from = \"businessAddress.town\""),
        // Unknown transform.
        ("transforms = [\"phone\"] }\ncompany", "transforms = [\"phoen\"] }\ncompany"),
        // A constant Snapshots would refuse.
        ("type = { constant = \"follow_up\" }", "type = { constant = \"folow_up\" }"),
        // A misspelt resource (so account lacks its external_id, and acount is unknown).
        ("[account]\n", "[acount]\n"),
        // Two sources for one field.
        ("source = { constant = \"ringcentral\" }", "source = { constant = \"ringcentral\", from = \"id\" }"),
    ];
    let mut text = DEFAULT_MAPPING.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the default mapping has {from:?}");
        text = text.replacen(from, to, 1);
    }
    let from_toml = problems(TOML_FILE, &text);
    let from_json = problems(JSON_FILE, &twin(&text));
    assert!(from_toml.len() >= edits.len(), "{from_toml:#?}");
    let renamed: Vec<String> = from_toml.iter().map(|p| p.replace(TOML_FILE, JSON_FILE)).collect();
    let (mut a, mut b) = (renamed, from_json.clone());
    // Order aside (JSON objects and TOML tables may list keys differently), the same lines.
    a.sort();
    b.sort();
    assert_eq!(a, b);
    for p in &from_json {
        assert!(p.starts_with("mapping/twin.json: "), "names the file: {p}");
    }
    let named = |needle: &str| from_json.iter().any(|p| p.contains(needle));
    assert!(
        named(r#"resource lead_from_contact: target field "emial" is not a Snapshots lead field"#),
        "{from_json:#?}"
    );
    assert!(named(r#"resource location_from_site: field "city": source field "businessAddress.town""#));
    assert!(named(r#"resource lead_from_contact: field "phone": unknown transform "phoen""#));
    assert!(named(r#"resource follow_up_from_voicemail: field "type": value "folow_up" is not one of"#));
    assert!(named(r#"unknown resource "acount""#) && named("resource account: external_id is missing"));
    assert!(named(r#"resource lead_from_contact: field "source": give exactly one of from, template, constant"#));
}

#[test]
fn what_only_json_gets_wrong_is_named_too() {
    // null: TOML has none; refused, naming resource and field (every one at once).
    let mut doc: Value = serde_json::from_str(&twin(DEFAULT_MAPPING)).expect("twin");
    doc["lead_from_contact"]["fields"]["company"] = Value::Null;
    doc["account"]["fields"]["status"]["transforms"] = json!([null]);
    doc["location_from_site"]["external_id"] = Value::Null;
    let p = problems(JSON_FILE, &doc.to_string());
    assert_eq!(
        p,
        vec![
            r#"mapping/twin.json: resource account: field "status" at transforms.0: null is not a value here (leave the key out)"#,
            r#"mapping/twin.json: resource lead_from_contact: field "company": null is not a value here (leave the key out)"#,
            "mapping/twin.json: resource location_from_site: external_id: null is not a value here (leave the key out)",
        ]
    );
    // A syntax error names the file, the format and the place.
    let err = Mapping::parse(JSON_FILE, "{\"account\": {").expect_err("truncated");
    assert!(matches!(&err, MappingError::Syntax { file, format: "JSON", .. } if file == JSON_FILE), "{err:?}");
    assert!(err.to_string().contains("line 1"), "{err}");
    // A document that is not an object.
    let err = Mapping::parse(JSON_FILE, "[1, 2]").expect_err("an array");
    assert!(err.to_string().contains("must be a JSON object"), "{err}");
    // Given explicitly, the format wins over the name (a mapping saved through the admin API).
    Mapping::parse_as("saved mapping v1", &twin(DEFAULT_MAPPING), Format::Json).expect("valid");
}
