//! The default mapping (`mapping/default.toml`) over the whole RingCentral fixture, read
//! over HTTP from the RingCentral stand-in, written through the Snapshots client into the
//! Snapshots stand-in: every site, emergency location, the account, every contact and a
//! voicemail — and not one 422. Also: duplicate contacts by email make one lead each.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::{json, Value};
use snapsync::mapping::{account_source, claim_lead_email, release_lead_email, EmailClaim, Mapping, Resource};
use snapsync::snapshots::SnapshotsClient;
use snapsync_queue::{ConnOptions, LeaseLocks, RedisConn};
use snapsync_sandbox::{Credentials, Sandbox, SandboxConfig};
use snapsync_testkit::RedisServer;

pub(crate) struct Rc {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Rc {
    pub(crate) async fn login(sandbox: &Sandbox) -> Rc {
        let c = Credentials::default();
        let http = reqwest::Client::new();
        let base = sandbox.rc_url();
        let resp: Value = http
            .post(format!("{base}/restapi/oauth/token"))
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", c.jwt.as_str())])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token json");
        let token = resp["access_token"].as_str().expect("access token").to_string();
        Rc { http, base, token }
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let resp = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.expect("get");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("json")
    }

    pub(crate) async fn records(&self, path: &str) -> Vec<Value> {
        self.get(path).await["records"].as_array().cloned().unwrap_or_default()
    }
}

async fn redis_conn(server: &RedisServer) -> RedisConn {
    RedisConn::connect(&server.url(), ConnOptions::default()).await.expect("redis")
}

/// The fixture's sites, emergency locations, account (composed as the worker does) and the
/// personal contacts of the four user extensions, each with the resource that maps it.
pub(crate) async fn fixture_sources(rc: &Rc) -> Vec<(Resource, Value)> {
    let acc = "/restapi/v1.0/account/~";
    let mut sources: Vec<(Resource, Value)> = Vec::new();
    for site in rc.records(&format!("{acc}/sites")).await {
        sources.push((Resource::LocationFromSite, site));
    }
    for loc in rc.records(&format!("{acc}/emergency-locations?perPage=1000")).await {
        sources.push((Resource::LocationFromEmergencyLocation, loc));
    }
    let info = rc.get(acc).await;
    let business = rc.get(&format!("{acc}/business-address")).await;
    let operator_id = info["operator"]["id"].to_string().trim_matches('"').to_string();
    let operator = rc.get(&format!("{acc}/extension/{operator_id}")).await;
    sources.push((Resource::Account, account_source(&info, &business, Some(&operator))));
    for ext in 400000101..=400000104u64 {
        for c in rc.records(&format!("{acc}/extension/{ext}/address-book/contact?perPage=1000")).await {
            sources.push((Resource::LeadFromContact, c));
        }
    }
    sources
}

#[tokio::test]
async fn default_mapping_over_the_whole_fixture_is_accepted_by_snapshots() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let redis_server = RedisServer::start();
    let redis = redis_conn(&redis_server).await;
    let client = SnapshotsClient::new(
        &sandbox.snapshots_url(),
        SecretString::from(sandbox.credentials().snapshots_api_key.clone()),
        redis.clone(),
        "map",
    )
    .expect("client");
    // Outside a job: fixed-TTL locks, held one record at a time (well under 30 s each).
    let locks = LeaseLocks::standalone(redis.clone(), std::time::Duration::from_secs(30));
    let mapping = Mapping::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mapping/default.toml"))
        .expect("the default mapping file is valid");
    let rc = Rc::login(&sandbox).await;
    let acc = "/restapi/v1.0/account/~";

    let mut sources = fixture_sources(&rc).await;
    let contacts: Vec<Value> =
        sources.iter().filter(|(r, _)| *r == Resource::LeadFromContact).map(|(_, c)| c.clone()).collect();
    assert_eq!(contacts.len(), 200, "the default fixture's contacts");
    let vm = reqwest::Client::new()
        .post(format!("{}/sandbox/voicemail", sandbox.rc_url()))
        .json(&json!({"extensionId": 400000102, "from": {"phoneNumber": "+12125550123", "name": "Wei Chen"}}))
        .send()
        .await
        .expect("voicemail");
    assert!(vm.status().is_success(), "{}", vm.status());
    let vm_unknown = reqwest::Client::new()
        .post(format!("{}/sandbox/voicemail", sandbox.rc_url()))
        .json(&json!({"extensionId": 400000102, "from": {"phoneNumber": "+13125550999"}}))
        .send()
        .await
        .expect("voicemail");
    assert!(vm_unknown.status().is_success());
    let voicemails = rc.records(&format!("{acc}/extension/400000102/message-store?messageType=VoiceMail")).await;
    assert_eq!(voicemails.len(), 2);
    sources.extend(voicemails.iter().map(|v| (Resource::FollowUpFromVoicemail, v.clone())));
    assert_eq!(sources.len(), 3 + 6 + 1 + 200 + 2);

    let mut notes = Vec::new();
    let mut failures = Vec::new();
    let mut mapped_by_ext: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (resource, source) in &sources {
        let mapped = mapping.map(*resource, source).unwrap_or_else(|e| panic!("{resource:?}: {e}"));
        notes.extend(mapped.notes.clone());
        let out = if *resource == Resource::FollowUpFromVoicemail {
            client.create_activity(&mapped.external_id, mapped.record.clone(), &mapped.external_id).await.map(|_| ())
        } else {
            let key = format!("test:{}", mapped.external_id);
            client
                .upsert(&locks, mapped.collection, &mapped.external_id, mapped.record.clone(), &key, None)
                .await
                .map(|_| ())
        };
        if let Err(e) = out {
            failures.push(format!("{}: {e}", mapped.external_id));
        }
        mapped_by_ext.insert(mapped.external_id.clone(), mapped.record);
    }
    assert!(failures.is_empty(), "rejected by Snapshots:\n{}", failures.join("\n"));
    let stats: Value =
        reqwest::get(format!("{}/sandbox/stats", sandbox.snapshots_url())).await.unwrap().json().await.unwrap();
    assert_eq!(stats["responses"].get("422"), None, "no 422 at all: {stats}");
    let creates = |c: &str| stats["writes"]["by_collection"][c]["creates"].as_u64().unwrap_or(0);
    assert_eq!((creates("locations"), creates("accounts"), creates("leads"), creates("activities")), (9, 1, 200, 2));

    // What the records look like.
    let site = &mapped_by_ext["ringcentral:site:400000202"];
    assert_eq!(
        (site["name"].as_str(), site["region"].as_str(), site["country"].as_str()),
        (Some("New York Office"), Some("NY"), Some("US"))
    );
    let el = &mapped_by_ext["ringcentral:emergency-location:400000301"];
    assert_eq!(el["address"], "2000 Bridge Pkwy, Floor 1");
    assert_eq!(mapped_by_ext["ringcentral:emergency-location:400000303"]["address"], "2010 Bridge Pkwy");
    let account = &mapped_by_ext["ringcentral:account:400000001"];
    assert_eq!(account["company_name"], "Sandbox Widgets Inc.");
    assert_eq!(account["phone"], "+16505550100");
    assert_eq!(account["status"], "active");
    assert!(account["primary_contact"]["email"].as_str().is_some_and(|e| e.ends_with("@sandbox-widgets.example.com")));
    // Contact index 6 has national-format phones; they come out as E.164.
    let national = &mapped_by_ext["ringcentral:contact:500000007"];
    let raw = contacts.iter().find(|c| c["id"] == 500000007).expect("contact 7");
    assert!(raw["businessPhone"].as_str().is_some_and(|p| p.starts_with('(')), "{raw}");
    assert!(national["phone"].as_str().is_some_and(|p| p.starts_with("+1") && p.len() == 12), "{national:?}");
    // Index 3 has no email: null, not an invalid value. Index 8: mixed case, lower-cased.
    assert_eq!(mapped_by_ext["ringcentral:contact:500000004"]["email"], Value::Null);
    let mixed = raw_email(&contacts, 500000009);
    assert_ne!(mixed, mixed.to_lowercase(), "fixture has a mixed-case email here");
    assert_eq!(mapped_by_ext["ringcentral:contact:500000009"]["email"], mixed.to_lowercase());
    assert_eq!(mapped_by_ext["ringcentral:contact:500000009"]["company"], Value::Null);
    let follow_up =
        mapped_by_ext.values().find(|r| r.get("subject") == Some(&json!("Call back Wei Chen"))).expect("follow-up");
    assert_eq!(follow_up["type"], "follow_up");
    assert_eq!(follow_up["details"]["from_phone"], "+12125550123");
    assert!(
        mapped_by_ext.values().any(|r| r.get("subject") == Some(&json!("Call back +13125550999"))),
        "no name: the number"
    );
    assert!(notes.is_empty() || notes.iter().all(|n| n.starts_with("ringcentral:")), "{notes:?}");

    // Mapping the same fixture again writes nothing.
    for (resource, source) in sources.iter().filter(|(r, _)| *r != Resource::FollowUpFromVoicemail) {
        let m = mapping.map(*resource, source).expect("map");
        let out = client.upsert(&locks, m.collection, &m.external_id, m.record, "again", None).await.expect("upsert");
        assert!(!out.wrote(), "{out:?}");
    }
    let again: Value =
        reqwest::get(format!("{}/sandbox/stats", sandbox.snapshots_url())).await.unwrap().json().await.unwrap();
    assert_eq!(again["writes"], stats["writes"]);
}

fn raw_email(contacts: &[Value], id: u64) -> String {
    let c = contacts.iter().find(|c| c["id"] == id).expect("contact");
    c["email"].as_str().expect("email").to_string()
}

#[tokio::test]
async fn duplicate_contacts_by_email_make_one_lead() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let redis_server = RedisServer::start();
    let mut redis = redis_conn(&redis_server).await;
    let rc = Rc::login(&sandbox).await;
    let mut contacts = Vec::new();
    for ext in 400000101..=400000104u64 {
        contacts.extend(
            rc.records(&format!("/restapi/v1.0/account/~/extension/{ext}/address-book/contact?perPage=1000")).await,
        );
    }
    contacts.sort_by_key(|c| c["id"].as_u64());
    let mut duplicates = Vec::new();
    for c in &contacts {
        let id = c["id"].to_string();
        match claim_lead_email(&mut redis, "dedup", c["email"].as_str(), &id).await.expect("claim") {
            EmailClaim::Owner => {}
            EmailClaim::DuplicateOf { contact_id } => duplicates.push((id, contact_id)),
        }
    }
    // Fixture: index i % 25 == 7 duplicates index i - 1 (ids 500000008 → 500000007, ...). Random
    // names can make more (same first name, last name and company): each must share the email.
    for i in [7u64, 32, 57, 82, 107, 132, 157, 182] {
        let pair = ((500000001 + i).to_string(), (500000000 + i).to_string());
        assert!(duplicates.contains(&pair), "{pair:?} not found in {duplicates:?}");
    }
    let email_of = |id: &str| {
        let c = contacts.iter().find(|c| c["id"].to_string().as_str() == id).expect("contact");
        c["email"].as_str().map(str::to_lowercase)
    };
    for (dup, owner) in &duplicates {
        assert!(email_of(dup).is_some() && email_of(dup) == email_of(owner), "{dup} vs {owner}");
        assert!(dup > owner, "the first contact synced (lowest id here) owns the lead");
    }
    let leads = contacts.len() - duplicates.len();
    assert!(leads < 200 - 7, "one lead per distinct email, {leads} leads");
    // Claims are stable (a re-run agrees), case-insensitive, and released by the owner only.
    let owner = &contacts[6];
    let email = owner["email"].as_str().expect("email");
    let again = claim_lead_email(&mut redis, "dedup", Some(&email.to_uppercase()), "500000008").await.expect("claim");
    assert_eq!(again, EmailClaim::DuplicateOf { contact_id: "500000007".into() });
    assert!(!release_lead_email(&mut redis, "dedup", email, "500000008").await.expect("release"));
    assert!(release_lead_email(&mut redis, "dedup", email, "500000007").await.expect("release"));
    let now = claim_lead_email(&mut redis, "dedup", Some(email), "500000008").await.expect("claim");
    assert_eq!(now, EmailClaim::Owner, "after the owner is deleted, the duplicate takes over");
    assert_eq!(claim_lead_email(&mut redis, "dedup", None, "1").await.expect("claim"), EmailClaim::Owner);
}
