//! Calls and messages tagged by location, over real processes (`snapsync serve`,
//! `snapsync-worker`, the sandbox, Redis): an ended call, an SMS and a fax each become exactly
//! one Snapshots activity with the handling extension's location, linked to the lead of a
//! known number and kept without one for an unknown number; a call whose event was lost is
//! tagged by the call-log catch-up, and a call both delivered and caught up makes one
//! activity (an SMS and a fax likewise by the message catch-up); a contact first met on a call to a site gets the owner the rules give that site.

use reqwest::Method;
use serde_json::{json, Value};

use crate::pipeline_support::{bins, find, id_text, wait, Options, System, ADMIN_EXT};

/// `snapsync mapping check --preview N --json` against the running system: its previews.
fn preview(sys: &System, n: usize) -> Vec<Value> {
    use std::process::{Command, Stdio};
    let (producer, _) = bins();
    let mut cmd = Command::new(producer);
    cmd.args(["mapping", "check", "--preview", &n.to_string(), "--json", "--config"]).arg(&sys.config_file);
    cmd.env_remove("SNAPSYNC_CONFIG").env("NO_COLOR", "1").stdin(Stdio::null());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn snapsync");
    snapsync_testkit::wait_until("snapsync mapping check to exit", std::time::Duration::from_secs(30), || {
        child.try_wait().ok().flatten()
    });
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "mapping check: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    v["previews"].as_array().cloned().unwrap_or_default()
}

/// Sites of the fixture's extensions: 101 Headquarters, 103 New York, 104 Austin.
const HQ: &str = "400000201";
const NEW_YORK: &str = "400000202";
const AUSTIN: &str = "400000203";

/// The Snapshots id of the location of `site`, once `sync_locations` wrote it.
async fn location(sys: &System, site: &str) -> String {
    let external = format!("ringcentral:site:{site}");
    let records =
        sys.records_until("the site's location", |r| find(r, "locations", "external_id", &external).len() == 1).await;
    id_text(&find(&records, "locations", "external_id", &external)[0]["location_id"])
}

/// Waits until exactly one activity has `external_id` and returns it.
async fn activity(sys: &System, external_id: &str) -> Value {
    let records =
        sys.records_until(external_id, |r| !find(r, "activities", "external_id", external_id).is_empty()).await;
    let found = find(&records, "activities", "external_id", external_id);
    assert_eq!(found.len(), 1, "one activity per call or message: {found:?}");
    found[0].clone()
}

/// A lead with a phone whose phone index entry exists (so a call from it finds the lead).
async fn known_lead(sys: &System) -> Value {
    let records = sys
        .records_until("a lead with a phone", |r| {
            r["leads"].as_array().is_some_and(|l| l.iter().any(|x| x["phone"].as_str().is_some()))
        })
        .await;
    let lead = records["leads"].as_array().unwrap().iter().find(|x| x["phone"].as_str().is_some()).unwrap().clone();
    let key = format!("{}:lead:phone:{}", sys.config.queue.prefix, lead["phone"].as_str().unwrap());
    let client = redis::Client::open(sys.redis.url()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    wait("the lead's phone index entry", || {
        let key = key.clone();
        let mut conn = conn.clone();
        async move { redis::AsyncCommands::exists::<_, bool>(&mut conn, key).await.ok().filter(|e| *e) }
    })
    .await;
    let _ = &mut conn;
    lead
}

async fn no_dead_jobs(sys: &System) {
    for kind in ["tag_call", "tag_message", "sync_calls", "sync_messages"] {
        let counts = sys.kind(kind).await;
        assert_eq!(counts.dead, 0, "{kind}: {counts:?}\nlogs:\n{}", sys.logs());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ended_calls_sms_and_faxes_become_one_activity_each_tagged_by_location() {
    let sys = System::start(Options { contacts: Some(20), ..Options::default() }).await;
    let (hq, new_york, austin) =
        (location(&sys, HQ).await, location(&sys, NEW_YORK).await, location(&sys, AUSTIN).await);
    let lead = known_lead(&sys).await;
    let phone = lead["phone"].as_str().unwrap().to_string();

    // A known caller on a New York extension: tagged New York, linked to the lead and its owner.
    let call = sys
        .rc(
            Method::POST,
            "/sandbox/calls/end",
            Some(json!({"extensionId": "400000103", "from": {"phoneNumber": phone}, "to": {"phoneNumber": "+16505550100"},
                        "direction": "Inbound", "durationSecs": 30})),
        )
        .await;
    let a = activity(&sys, &format!("ringcentral:call:{}", call["id"].as_str().unwrap())).await;
    assert_eq!(a["type"], "call");
    assert_eq!(a["location_id"], new_york.as_str(), "{a}");
    assert_eq!(a["lead_id"], lead["lead_id"], "{a}");
    assert_eq!(a["owner"], lead["owner"], "{a}");
    assert_eq!(a["details"]["call_result"], "answered");
    assert_eq!(a["details"]["dialled_number"], "+16505550100");
    assert!(a["tags"].as_array().unwrap().contains(&json!("call")), "{a}");

    // An unknown party on an Austin extension, missed: kept, tagged Austin, no lead.
    let unknown = sys
        .rc(
            Method::POST,
            "/sandbox/calls/end",
            Some(json!({"extensionId": "400000104", "from": {"phoneNumber": "+13125550999"}, "result": "Missed"})),
        )
        .await;
    let a = activity(&sys, &format!("ringcentral:call:{}", unknown["id"].as_str().unwrap())).await;
    assert_eq!(a["location_id"], austin.as_str(), "{a}");
    assert!(a.get("lead_id").is_none_or(Value::is_null), "no lead for an unknown number: {a}");
    assert_eq!(a["details"]["call_result"], "missed");

    // An SMS from the known number to the admin extension (Headquarters) and a fax from nobody known.
    let sms = sys
        .rc(
            Method::POST,
            "/sandbox/messages",
            Some(json!({"type": "SMS", "from": {"phoneNumber": phone}, "text": "call me back"})),
        )
        .await;
    let m = activity(&sys, &format!("ringcentral:message:{}", id_text(&sms["id"]))).await;
    assert_eq!((m["type"].as_str(), m["location_id"].as_str()), (Some("message"), Some(hq.as_str())), "{m}");
    assert_eq!(m["lead_id"], lead["lead_id"], "{m}");
    assert_eq!(m["details"]["text"], "call me back");
    let fax = sys
        .rc(
            Method::POST,
            "/sandbox/messages",
            Some(json!({"type": "Fax", "extensionId": ADMIN_EXT, "from": {"phoneNumber": "+19175550123"}, "pages": 2})),
        )
        .await;
    let m = activity(&sys, &format!("ringcentral:message:{}", id_text(&fax["id"]))).await;
    assert_eq!(m["location_id"], hq.as_str(), "{m}");
    assert!(m.get("lead_id").is_none_or(Value::is_null), "{m}");
    assert_eq!(m["details"]["message_type"], "Fax");

    // Each made exactly one job and one activity; none died.
    wait("the tag jobs to finish", || async {
        let (c, m) = (sys.kind("tag_call").await, sys.kind("tag_message").await);
        (c.done == 2 && m.done == 2).then_some(())
    })
    .await;
    no_dead_jobs(&sys).await;
    let records = sys.records().await;
    let activities = records["activities"].as_array().unwrap();
    assert_eq!(activities.iter().filter(|a| a["type"] == "call").count(), 2, "{activities:?}");
    assert_eq!(activities.iter().filter(|a| a["type"] == "message").count(), 2, "{activities:?}");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_call_log_catch_up_tags_a_call_whose_event_was_lost_and_makes_no_second_activity() {
    let sys = System::start(Options { contacts: Some(20), calls_every: Some("2s"), ..Options::default() }).await;
    let new_york = location(&sys, NEW_YORK).await;
    // The first catch-up (a full sync of the last day, no calls yet) has run.
    wait("the first sync_calls", || async { (sys.kind("sync_calls").await.done >= 1).then_some(()) }).await;

    // The event is lost on the way: only the call-log sync can find this call.
    let lost = sys
        .rc(
            Method::POST,
            "/sandbox/calls/end",
            Some(json!({"extensionId": "400000103", "from": {"phoneNumber": "+14045550111"}, "durationSecs": 12, "deliver": false})),
        )
        .await;
    let a = activity(&sys, &format!("ringcentral:call:{}", lost["id"].as_str().unwrap())).await;
    assert_eq!(a["location_id"], new_york.as_str(), "{a}");

    // A delivered call is tagged by its event and found again by the catch-up: one activity.
    let delivered = sys
        .rc(
            Method::POST,
            "/sandbox/calls/end",
            Some(json!({"extensionId": "400000103", "from": {"phoneNumber": "+14045550112"}})),
        )
        .await;
    let external = format!("ringcentral:call:{}", delivered["id"].as_str().unwrap());
    activity(&sys, &external).await;
    let after = sys.kind("sync_calls").await.done;
    wait("two more catch-ups", || async { (sys.kind("sync_calls").await.done >= after + 2).then_some(()) }).await;
    wait("the tag jobs to finish", || async {
        let c = sys.kind("tag_call").await;
        (c.ready + c.running + c.scheduled + c.snoozed == 0).then_some(())
    })
    .await;
    let records = sys.records().await;
    assert_eq!(find(&records, "activities", "external_id", &external).len(), 1, "webhook + catch-up = one activity");
    // The lost call: one job (the catch-up's); the delivered one: two (event + catch-up), one activity.
    assert_eq!(sys.kind("tag_call").await.done, 3);
    no_dead_jobs(&sys).await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_message_catch_up_tags_an_sms_whose_event_was_lost_and_makes_no_second_activity() {
    let sys = System::start(Options { contacts: Some(20), calls_every: Some("2s"), ..Options::default() }).await;
    let hq = location(&sys, HQ).await;
    wait("the first sync_messages", || async { (sys.kind("sync_messages").await.done >= 1).then_some(()) }).await;

    // The event is lost on the way (as when the receiver answered 503 while Redis was down:
    // RingCentral does not redeliver): only the message sync can find this SMS.
    let lost = sys
        .rc(
            Method::POST,
            "/sandbox/messages",
            Some(json!({"type": "SMS", "from": {"phoneNumber": "+14045550121"}, "text": "lost", "deliver": false})),
        )
        .await;
    let m = activity(&sys, &format!("ringcentral:message:{}", id_text(&lost["id"]))).await;
    assert_eq!((m["type"].as_str(), m["location_id"].as_str()), (Some("message"), Some(hq.as_str())), "{m}");
    assert_eq!(m["details"]["text"], "lost");

    // A delivered fax is tagged by its event and found again by the catch-up: one activity.
    let fax = sys
        .rc(
            Method::POST,
            "/sandbox/messages",
            Some(json!({"type": "Fax", "extensionId": ADMIN_EXT, "from": {"phoneNumber": "+19175550124"}})),
        )
        .await;
    let external = format!("ringcentral:message:{}", id_text(&fax["id"]));
    activity(&sys, &external).await;
    let after = sys.kind("sync_messages").await.done;
    wait("two more catch-ups", || async { (sys.kind("sync_messages").await.done >= after + 2).then_some(()) }).await;
    wait("the tag jobs to finish", || async {
        let m = sys.kind("tag_message").await;
        (m.ready + m.running + m.scheduled + m.snoozed == 0).then_some(())
    })
    .await;
    let records = sys.records().await;
    assert_eq!(find(&records, "activities", "external_id", &external).len(), 1, "webhook + catch-up = one activity");
    // The lost SMS: one job (the catch-up's); the delivered fax: two (event + catch-up).
    assert_eq!(sys.kind("tag_message").await.done, 3);
    no_dead_jobs(&sys).await;
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contact_first_met_on_a_call_to_a_site_gets_the_owner_the_rules_give_that_site() {
    let sys = System::start(Options { contacts: Some(20), ..Options::default() }).await;
    location(&sys, AUSTIN).await;
    // A number nobody knows calls the Austin office.
    let call = sys
        .rc(
            Method::POST,
            "/sandbox/calls/end",
            Some(json!({"extensionId": "400000104", "from": {"phoneNumber": "+12125550177"}, "durationSecs": 40})),
        )
        .await;
    activity(&sys, &format!("ringcentral:call:{}", call["id"].as_str().unwrap())).await;
    // Then the admin (Headquarters) saves the caller as a contact: a 212 number would go to
    // Sales East by area code, but the call to Austin routes the lead to Sales West.
    let created = sys
        .rc(
            Method::POST,
            &format!("/sandbox/extensions/{ADMIN_EXT}/contacts"),
            Some(json!({"firstName": "Cal", "lastName": "Ler", "company": "Globex",
                        "email": "cal.ler@globex.example.com", "businessPhone": "(212) 555-0177"})),
        )
        .await;
    let id = id_text(&created["id"]);
    let records = sys.records_until("the caller's lead", |r| find(r, "leads", "contact_id", &id).len() == 1).await;
    let lead = find(&records, "leads", "contact_id", &id)[0].clone();
    assert!(["own_03", "own_04"].contains(&lead["owner"].as_str().unwrap_or("")), "Sales West: {lead}");
    let named = sys.procs.iter().any(|p| p.log_text().contains("rule=called-austin-office"));
    assert!(named, "the routing decision names the rule:\n{}", sys.logs());
    // A second contact with a 212 number that never called: east by area code.
    let quiet = sys
        .rc(
            Method::POST,
            &format!("/sandbox/extensions/{ADMIN_EXT}/contacts"),
            Some(json!({"firstName": "Qui", "lastName": "Et", "company": "Globex",
                        "email": "qui.et@globex.example.com", "businessPhone": "(212) 555-0178"})),
        )
        .await;
    let qid = id_text(&quiet["id"]);
    let records =
        sys.records_until("the quiet contact's lead", |r| find(r, "leads", "contact_id", &qid).len() == 1).await;
    let lead = find(&records, "leads", "contact_id", &qid)[0].clone();
    assert!(["own_01", "own_02"].contains(&lead["owner"].as_str().unwrap_or("")), "Sales East: {lead}");
    // The preview routes with the recorded call too, and names the rule of each contact.
    let previews = preview(&sys, 14);
    let rule_of = |contact: &str| {
        let p = previews.iter().find(|p| p["contact_id"].as_str() == Some(contact));
        p.and_then(|p| p["rule"].as_str()).map(str::to_owned)
    };
    assert_eq!(rule_of(&id).as_deref(), Some("called-austin-office"), "{previews:?}");
    assert_eq!(rule_of(&qid).as_deref(), Some("east-area-codes"), "{previews:?}");
    no_dead_jobs(&sys).await;
    sys.stop().await;
}
