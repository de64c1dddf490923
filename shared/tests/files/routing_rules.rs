//! Owner routing with the default rules, the Snapshots stand-in's `/owners` and a private
//! Redis: first match wins, an inactive owner falls back with the reason, round-robin
//! spreads over a team; rules files are checked with file, rule and field named.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::{json, Value};
use snapsync::errors::Classify;
use snapsync::routing::call_context::{self, CallContext};
use snapsync::routing::{Router, RoutingError, Rules, DEFAULT_RULES, FALLBACK};
use snapsync::snapshots::{Owner, SnapshotsClient};
use snapsync_queue::{ConnOptions, RedisConn};
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::RedisServer;

struct Env {
    sandbox: Sandbox,
    _redis: RedisServer,
    redis: RedisConn,
    snapshots: SnapshotsClient,
}

impl Env {
    async fn start() -> Env {
        let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
        let server = RedisServer::start();
        let redis = RedisConn::connect(&server.url(), ConnOptions::default()).await.expect("redis");
        let key = SecretString::from(sandbox.credentials().snapshots_api_key.clone());
        let snapshots = SnapshotsClient::new(&sandbox.snapshots_url(), key, redis.clone(), "r").expect("client");
        Env { sandbox, _redis: server, redis, snapshots }
    }

    fn router(&self) -> Router {
        Router::new(Rules::builtin().expect("default rules are valid"), self.redis.clone(), "r")
    }

    async fn owners(&self) -> Vec<Owner> {
        self.snapshots.list_owners().await.expect("owners")
    }
}

fn contact(company: Option<&str>, email: &str, phone: &str) -> Value {
    let mut c = json!({"id": 1, "firstName": "A", "lastName": "B", "email": email, "businessPhone": phone});
    if let Some(co) = company {
        c["company"] = json!(co);
    }
    c
}

#[tokio::test]
async fn first_matching_rule_wins() {
    let env = Env::start().await;
    let router = env.router();
    let owners = env.owners().await;
    // Acme (rule 1, own_01) also has a 212 number (east-area-codes) and a New York site.
    let acme = contact(Some("acme corp"), "x@acme.example.com", "(212) 555-0100");
    let r = router.route(&acme, Some("400000202"), &owners).await.expect("route");
    assert_eq!((r.owner.as_str(), r.rule.as_str()), ("own_01", "acme-key-account"));
    assert!(r.reason.contains("company = Acme Corp"), "{}", r.reason);
    // Hooli by email domain (a subdomain counts).
    let hooli = contact(None, "x@eu.hooli.example.io", "+16505550100");
    let r = router.route(&hooli, None, &owners).await.expect("route");
    assert_eq!((r.owner.as_str(), r.rule.as_str()), ("own_03", "hooli-key-account"));
    // Site beats area code: Austin office, 212 number → Sales West.
    let globex = contact(Some("Globex"), "x@globex.example.com", "212.555.0100");
    let r = router.route(&globex, Some("400000203"), &owners).await.expect("route");
    assert_eq!(r.rule, "austin-office");
    assert!(["own_03", "own_04"].contains(&r.owner.as_str()), "{r:?}");
    // Area code from a national-format number.
    let boston = contact(Some("Globex"), "x@globex.example.com", "(617) 555-0100");
    assert_eq!(router.route(&boston, None, &owners).await.expect("route").rule, "east-area-codes");
}

#[tokio::test]
async fn inactive_owner_falls_back_and_says_why() {
    let env = Env::start().await;
    let router = env.router();
    let owners = env.owners().await;
    let umbrella = contact(Some("Umbrella Health"), "x@umbrella-health.example.com", "+16505550100");
    let r = router.route(&umbrella, None, &owners).await.expect("route");
    assert_eq!(r.rule, FALLBACK);
    assert!(["own_01", "own_02"].contains(&r.owner.as_str()), "active Sales East only: {r:?}");
    assert!(r.reason.contains("umbrella-health") && r.reason.contains("own_06 is inactive"), "{}", r.reason);

    // Deactivate Acme's owner in Snapshots: the same lead now falls back, and only to own_02.
    let resp = reqwest::Client::new()
        .put(format!("{}/sandbox/owners/own_01", env.sandbox.snapshots_url()))
        .json(&json!({"active": false}))
        .send()
        .await
        .expect("deactivate");
    assert!(resp.status().is_success());
    let owners = env.owners().await;
    let acme = contact(Some("Acme Corp"), "x@acme.example.com", "+12125550100");
    for _ in 0..3 {
        let r = router.route(&acme, None, &owners).await.expect("route");
        assert_eq!((r.owner.as_str(), r.rule.as_str()), ("own_02", FALLBACK), "{r:?}");
        assert!(r.reason.contains("own_01 is inactive"), "{}", r.reason);
    }
    // Nobody active in the fallback team: a clear, permanent error.
    let none: Vec<Owner> = owners.into_iter().filter(|o| o.team.as_deref() != Some("Sales East")).collect();
    let err = router.route(&acme, None, &none).await.expect_err("no one to route to");
    assert!(matches!(err, RoutingError::NoActiveOwner { .. }), "{err}");
    assert!(err.to_string().contains("Sales East") && !err.classify().is_retryable());
}

#[tokio::test]
async fn round_robin_spreads_over_the_team_across_routers() {
    let env = Env::start().await;
    let (a, b) = (env.router(), env.router());
    let owners = env.owners().await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    // No rule matches (no company rule, free-mail domain, 999 is no listed area code).
    let nobody = contact(None, "someone@gmail.example.com", "+19995550100");
    for i in 0..10 {
        let router = if i % 3 == 0 { &a } else { &b };
        let r = router.route(&nobody, None, &owners).await.expect("route");
        assert_eq!(r.rule, FALLBACK);
        assert!(r.reason.starts_with("no rule matched"), "{}", r.reason);
        *counts.entry(r.owner).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = [("own_01".to_string(), 5), ("own_02".to_string(), 5)].into();
    assert_eq!(counts, expected, "Sales East's two active owners, alternating (own_06 is inactive)");

    let mut west: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..4 {
        let r = a.route(&contact(None, "x@y.example.com", "+15125550100"), None, &owners).await.expect("route");
        assert_eq!(r.rule, "west-area-codes");
        *west.entry(r.owner).or_default() += 1;
    }
    assert_eq!(west, [("own_03".to_string(), 2), ("own_04".to_string(), 2)].into());
}

#[tokio::test]
async fn default_rules_match_the_sandbox_owners() {
    let env = Env::start().await;
    let rules = Rules::builtin().expect("valid");
    assert_eq!(rules.check_owners(&env.owners().await), Vec::<String>::new());
    let missing = rules.check_owners(&[]);
    assert!(
        missing.iter().any(|p| p.contains("rule \"acme-key-account\": field \"owner\": \"own_01\"")),
        "{missing:?}"
    );
}

fn problems(text: &str) -> Vec<String> {
    match Rules::parse("routing/test.toml", text) {
        Err(RoutingError::Invalid { problems }) => problems,
        other => panic!("expected invalid rules, got {other:?}"),
    }
}

#[test]
fn bad_rules_name_file_rule_and_field() {
    let p = problems(&DEFAULT_RULES.replacen("area_code = [\"212\"", "area_code = [\"21\"", 1));
    assert_eq!(
        p,
        vec![r#"routing/test.toml: rule "east-area-codes": field "area_code": "21" is not a 3-digit area code"#]
    );
    let p = problems(&DEFAULT_RULES.replacen("company = \"Acme Corp\"", "compnay = \"Acme Corp\"", 1));
    assert!(
        p.iter()
            .any(|x| x.starts_with(r#"routing/test.toml: rule "acme-key-account": field "compnay": unknown field"#)),
        "{p:?}"
    );
    assert!(p.iter().any(|x| x.contains("the rule has no condition")), "{p:?}");
    let p = problems(&DEFAULT_RULES.replacen("owner = \"own_01\"", "owner = \"own_01\"\nteam = \"Support\"", 1));
    assert!(p[0].contains("rule \"acme-key-account\": field \"owner\": give owner or team, not both"), "{p:?}");
    let p = problems(&DEFAULT_RULES.replacen("name = \"hooli-key-account\"", "name = \"acme-key-account\"", 1));
    assert!(p[0].contains("rule \"acme-key-account\": the name is used twice"), "{p:?}");
    let p = problems(&DEFAULT_RULES.replacen("[fallback]\nteam = \"Sales East\"", "", 1));
    assert!(p[0].contains("routing/test.toml: [fallback] is missing"), "{p:?}");
    let p = problems(&DEFAULT_RULES.replacen("email_domain = \"hooli.example.io\"", "email_domain = \"x@hooli\"", 1));
    assert!(p[0].contains("rule \"hooli-key-account\": field \"email_domain\": \"x@hooli\" is not a domain"), "{p:?}");
    assert!(matches!(Rules::parse("routing/test.toml", "[[rules]"), Err(RoutingError::Syntax { .. })));
}

/// The call context `tag_call` records for a number, as the router reads it.
fn call(id: &str, site: &str, direction: &str, result: &str, dialled: Option<&str>, at: &str) -> CallContext {
    CallContext {
        call_id: id.into(),
        site: Some(site.into()),
        extension_id: Some("400000104".into()),
        direction: Some(direction.into()),
        result: Some(result.into()),
        dialled_number: dialled.map(str::to_owned),
        at: Some(at.into()),
    }
}

#[tokio::test]
async fn call_conditions_route_by_the_last_call_with_the_contacts_number() {
    let env = Env::start().await;
    let router = env.router();
    let owners = env.owners().await;
    // A 212 number: east-area-codes without a call.
    let c = contact(Some("Globex"), "x@globex.example.com", "(212) 555-0177");
    assert_eq!(router.route(&c, Some("400000201"), &owners).await.expect("route").rule, "east-area-codes");
    // First met on a call to the Austin office: its team, whatever the contact's own site.
    let austin = call("c1", "400000203", "Inbound", "missed", None, "2026-12-01T10:00:00.000Z");
    assert!(call_context::record(&env.redis, "r", "+12125550177", &austin).await.expect("record"));
    let r = router.route(&c, Some("400000201"), &owners).await.expect("route");
    assert_eq!(r.rule, "called-austin-office", "{r:?}");
    assert!(r.reason.contains("call site = 400000203"), "{}", r.reason);
    assert!(["own_03", "own_04"].contains(&r.owner.as_str()), "Sales West: {r:?}");
    // An older call (a catch-up behind the webhook) does not replace the newer one.
    let older = call("c0", "400000202", "Inbound", "answered", None, "2026-11-30T10:00:00.000Z");
    assert!(!call_context::record(&env.redis, "r", "+12125550177", &older).await.expect("record"));
    assert_eq!(router.route(&c, None, &owners).await.expect("route").rule, "called-austin-office");
    // A newer call to New York does.
    let newer = call("c2", "400000202", "Inbound", "answered", None, "2026-12-01T11:00:00.000Z");
    assert!(call_context::record(&env.redis, "r", "+12125550177", &newer).await.expect("record"));
    assert_eq!(router.route(&c, None, &owners).await.expect("route").rule, "called-new-york-office");

    // Every call condition, all of which must hold; a campaign line by dialled number.
    let text = r#"
[fallback]
team = "Sales East"
[[rules]]
name = "campaign"
dialled_number = "(650) 555-0188"
call_direction = "inbound"
call_result = ["missed", "voicemail"]
call_extension = "400000104"
owner = "own_02"
"#;
    let rules = Rules::parse("routing/test.toml", text).expect("valid");
    let campaign = Router::new(rules, env.redis.clone(), "r");
    let p = contact(None, "p@example.com", "+14155550123");
    let line = call("c3", "400000203", "Inbound", "voicemail", Some("+16505550188"), "2026-12-01T12:00:00.000Z");
    call_context::record(&env.redis, "r", "+14155550123", &line).await.expect("record");
    let r = campaign.route(&p, None, &owners).await.expect("route");
    assert_eq!((r.owner.as_str(), r.rule.as_str()), ("own_02", "campaign"), "{r:?}");
    let answered = call("c4", "400000203", "Inbound", "answered", Some("+16505550188"), "2026-12-01T13:00:00.000Z");
    call_context::record(&env.redis, "r", "+14155550123", &answered).await.expect("record");
    let r = campaign.route(&p, None, &owners).await.expect("route");
    assert_eq!(r.rule, FALLBACK, "an answered call is not the campaign's: {r:?}");
    // A contact nobody talked to matches no call condition.
    let quiet = contact(None, "q@example.com", "+14155550999");
    assert_eq!(campaign.route(&quiet, None, &owners).await.expect("route").rule, FALLBACK);
}

#[test]
fn bad_call_conditions_are_named() {
    let rule =
        |body: &str| format!("[fallback]\nteam = \"Sales East\"\n[[rules]]\nname = \"r\"\n{body}\nteam = \"T\"\n");
    let p = problems(&rule("call_direction = \"Sideways\""));
    assert!(p[0].contains("field \"call_direction\": \"Sideways\" is not a direction"), "{p:?}");
    let p = problems(&rule("call_result = \"exploded\""));
    assert!(p[0].contains("field \"call_result\": \"exploded\" is not a call result"), "{p:?}");
    let p = problems(&rule("dialled_number = \"call me\""));
    assert!(p[0].contains("field \"dialled_number\": \"call me\" is not a phone number"), "{p:?}");
    let p = problems(&rule("call_site = 5"));
    assert!(p[0].contains("field \"call_site\": expected a string"), "{p:?}");
    let ok = Rules::parse("routing/test.toml", &rule("call_site = \"400000203\"")).expect("valid");
    assert!(ok.uses_call());
    assert!(!Rules::builtin().expect("valid").rules.iter().take(3).any(|r| r.uses_call()));
}
