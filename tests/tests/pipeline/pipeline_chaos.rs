//! Faults together, not one at a time: the whole system as processes — `snapsync serve`, three
//! `snapsync-worker`s, a private Redis with AOF, the sandbox with 2,000 contacts — while a worker
//! is SIGKILLed and replaced every few seconds, Redis is killed and restarted once, Snapshots
//! answers 5 % of requests with 500 and holds a 429 storm, its rate limit is low enough that
//! 429s are frequent, and contacts are created and changed in RingCentral meanwhile, and calls
//! end and SMS arrive (their events are lost while Redis is down: RingCentral does not
//! redeliver, the catch-ups `sync_calls` and `sync_messages` must find them). After it
//! settles, every expected lead exists once with its contact's current fields, every call and
//! SMS is one activity tagged with its location, no job is dead and nothing is left waiting or
//! running.
//!
//! The retry policy is the default one (15 attempts) on a compressed time scale; waits
//! (429s, busy records) are snoozes and must not be what kills a job.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::pipeline_support::{count, expected_leads, lead_email, snapshots_fault, tail, wait, Options, System};
use reqwest::Method;
use serde_json::{json, Value};

const CONTACTS: usize = 2_000;
/// How long the faults go on.
const CHAOS: Duration = Duration::from_secs(45);
/// A worker is SIGKILLed (and a new one started) this often.
const KILL_EVERY: Duration = Duration::from_secs(4);
/// Extensions whose address books hold the generated contacts.
const BOOKS: [&str; 4] = ["400000101", "400000102", "400000103", "400000104"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crashes_a_redis_restart_500s_and_429s_at_once_lose_no_lead_and_kill_no_job() {
    let started = Instant::now();
    let retry = "base = \"50ms\"\ncap = \"3s\"\n";
    let mut sys = System::start(Options {
        every: Some("5s"),
        calls_every: Some("5s"),
        workers: 3,
        contacts: Some(CONTACTS),
        aof: true,
        retry,
        // Snapshots' own rate limit, low: 3 workers at concurrency 4 would meet it all the
        // time; the shared budget (configured to match) keeps them within it.
        snapshots_limit: (150, Duration::from_secs(1)),
        ..Options::default()
    })
    .await;
    snapshots_fault(&sys, json!({"route": "/**", "error_rate": 0.05, "error_status": 500})).await;

    let mut next_kill = Instant::now() + KILL_EVERY;
    let (storm_at, redis_at) = (Instant::now() + Duration::from_secs(12), Instant::now() + Duration::from_secs(20));
    let (mut stormed, mut restarted) = (false, false);
    let mut killed = 0;
    let mut changes = 0;
    let mut created: Vec<String> = Vec::new();
    let mut calls: Vec<String> = Vec::new();
    let mut messages: Vec<String> = Vec::new();
    let mut generation = 3;
    let chaos_end = Instant::now() + CHAOS;
    while Instant::now() < chaos_end {
        let now = Instant::now();
        if now >= next_kill {
            // The oldest live worker dies, a new one takes its place.
            let victim = sys.procs.iter().find(|p| p.name.starts_with("worker-")).map(|p| p.name.clone());
            if let Some(victim) = victim {
                sys.kill(&victim);
                killed += 1;
            }
            sys.spawn_worker(&format!("worker-{generation}"));
            generation += 1;
            next_kill = now + KILL_EVERY;
        }
        if !stormed && now >= storm_at {
            snapshots_fault(&sys, json!({"route": "/**", "storm_secs": 5.0})).await;
            stormed = true;
        }
        if !restarted && now >= redis_at {
            sys.redis.restart();
            restarted = true;
        }
        // Changes in RingCentral while all this goes on: a new contact and a changed one, each
        // round, until the last 10 s of the chaos.
        if chaos_end.saturating_duration_since(now) > Duration::from_secs(10) {
            let book = BOOKS[changes % BOOKS.len()];
            let body = json!({
                "firstName": format!("Chaos{changes}"),
                "lastName": "Created",
                "email": format!("chaos{changes}@example.com"),
                "businessPhone": format!("+1650555{:04}", 1000 + changes),
            });
            let made = sys.rc(Method::POST, &format!("/sandbox/extensions/{book}/contacts"), Some(body)).await;
            created.push(made["id"].to_string());
            if let Some((ext, id)) = some_contact(&sys, changes) {
                let change = json!({"lastName": format!("Changed{changes}"), "company": format!("Chaos Co {changes}")});
                sys.rc(Method::PATCH, &format!("/sandbox/extensions/{ext}/contacts/{id}"), Some(change)).await;
            }
            // About one ended call a second, on the books' extensions (each on a site).
            if changes % 4 == 0 {
                let call = json!({"extensionId": book, "from": {"phoneNumber": format!("+1312555{:04}", changes)},
                                  "direction": "Inbound", "durationSecs": 20});
                let ended = sys.rc(Method::POST, "/sandbox/calls/end", Some(call)).await;
                calls.push(ended["id"].as_str().expect("call-log id").to_owned());
            }
            // And an SMS every other second, to the admin extension's mailbox.
            if changes % 8 == 2 {
                let sms = json!({"type": "SMS", "from": {"phoneNumber": format!("+1415555{:04}", changes)},
                                 "text": format!("chaos {changes}")});
                let sent = sys.rc(Method::POST, "/sandbox/messages", Some(sms)).await;
                messages.push(sent["id"].to_string().trim_matches('"').to_owned());
            }
            changes += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await; // the chaos's own cadence
    }
    assert!(stormed && restarted && killed >= 8, "stormed {stormed}, restarted {restarted}, killed {killed}");
    eprintln!(
        "chaos over after {:?}: {killed} workers killed, {changes} contacts created and changed, {} calls ended, {} SMS",
        started.elapsed(),
        calls.len(),
        messages.len()
    );

    // Settle: faults off, the system keeps running until Snapshots holds what RingCentral does.
    let clear =
        sys.http.delete(format!("{}/sandbox/faults", sys.sandbox.snapshots_url())).send().await.expect("faults");
    assert!(clear.status().is_success());
    let expected = expected_leads(&sys);
    let want = expected_fields(&sys);
    let settle_by = Instant::now() + Duration::from_secs(150);
    let records = loop {
        let records = sys.records().await;
        let wrong = mismatches(&records, &want);
        let untagged = calls.iter().filter(|id| activities_of(&records, "call", id).is_empty()).count()
            + messages.iter().filter(|id| activities_of(&records, "message", id).is_empty()).count();
        if count(&records, "leads") >= expected && wrong.is_empty() && untagged == 0 {
            break records;
        }
        if Instant::now() > settle_by {
            // The first call after the Redis restart may meet the connection it broke.
            let counts = match sys.queue.counts().await {
                Err(_) => sys.queue.counts().await,
                ok => ok,
            };
            let budgets = sys.queue.budgets().await;
            eprintln!("budgets: {budgets:?}");
            let up = sys.redis.is_up();
            let alive: Vec<(String, bool)> =
                sys.procs.iter_mut().map(|p| (p.name.clone(), p.exited().is_none())).collect();
            eprintln!("redis up: {up}; processes alive: {alive:?}");
            let dead = sys.queue.list(snapsync_queue::JobState::Dead, None, 0, 10).await.ok();
            let dead: Vec<String> = dead
                .into_iter()
                .flat_map(|p| p.jobs)
                .map(|j| format!("{} {}: {:?}", j.kind, j.id, j.last_error))
                .collect();
            panic!(
                "not settled after 150 s: {} of {expected} leads, {untagged} of {} calls and SMS without an activity; first mismatches {wrong:#?}\nqueue {counts:?}\ndead {dead:#?}\nlogs:\n{}",
                count(&records, "leads"),
                calls.len() + messages.len(),
                sys.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("converged {:?} after the start", started.elapsed());

    // Exactly one lead per expected contact, no duplicates, the right fields.
    let leads = records["leads"].as_array().expect("leads");
    assert_eq!(leads.len(), expected, "leads: {} of {expected}", leads.len());
    let ids: HashSet<&str> = leads.iter().filter_map(|l| l["external_id"].as_str()).collect();
    assert_eq!(ids.len(), leads.len(), "duplicate external ids");
    let emails: Vec<&str> = leads.iter().filter_map(|l| l["email"].as_str()).collect();
    assert_eq!(emails.iter().collect::<HashSet<_>>().len(), emails.len(), "two leads for one email");
    assert!(mismatches(&records, &want).is_empty());
    for id in &created {
        assert!(
            ids.contains(format!("ringcentral:contact:{}", id.trim_matches('"')).as_str()),
            "created contact {id} has no lead"
        );
    }

    // Each call and SMS is exactly one activity, tagged with a location, whether its event
    // came or the catch-up found it (or both).
    let sent = calls.iter().map(|id| ("call", id)).chain(messages.iter().map(|id| ("message", id)));
    for (what, id) in sent {
        let found = activities_of(&records, what, id);
        assert_eq!(found.len(), 1, "{what} {id}: {found:?}");
        assert!(found[0]["location_id"].as_str().is_some_and(|l| !l.is_empty()), "{what} {id} untagged: {}", found[0]);
    }

    // No job died, and once the scheduler stops nothing is left waiting or running.
    let serve = sys.procs.iter_mut().find(|p| p.name == "serve-0").expect("serve");
    let status = serve.terminate(Duration::from_secs(15));
    assert!(status.is_some_and(|s| s.success()), "serve exit {status:?}");
    let counts = wait("the queue to drain", || async {
        let c = sys.queue.counts().await.ok()?;
        let t = c.totals;
        (t.ready + t.scheduled + t.snoozed + t.running == 0 && c.ready() == 0).then_some(c)
    })
    .await;
    let snoozes: u64 = counts.by_kind.values().map(|c| c.snoozed).sum();
    eprintln!("queue at the end: {counts:?} ({snoozes} snoozed now)");
    if counts.totals.dead > 0 {
        let dead = sys.queue.list(snapsync_queue::JobState::Dead, None, 0, 20).await.expect("list dead");
        let why: Vec<String> = dead.jobs.iter().map(|j| format!("{} {}: {:?}", j.kind, j.id, j.last_error)).collect();
        panic!("{} dead jobs: {why:#?}\nlogs:\n{}", counts.totals.dead, sys.logs());
    }
    let stats = sys.get(&format!("{}/sandbox/stats", sys.sandbox.snapshots_url())).await;
    eprintln!("snapshots stats: {}", tail(&stats.to_string(), 5));
    sys.procs.retain(|p| p.name != "serve-0");
    sys.stop().await;
}

/// The activities of call-log record or message `id` (`what`: `call` or `message`).
fn activities_of<'r>(records: &'r Value, what: &str, id: &str) -> Vec<&'r Value> {
    let external = format!("ringcentral:{what}:{id}");
    records["activities"].as_array().into_iter().flatten().filter(|a| a["external_id"] == external.as_str()).collect()
}

/// A contact of the fixture to change in round `n` (spread over the books), as (extension, id).
fn some_contact(sys: &System, n: usize) -> Option<(String, String)> {
    let dir = sys.sandbox.rc_state().directory.lock().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<(String, String)> = dir
        .books
        .iter()
        .flat_map(|(ext, b)| {
            b.contacts.iter().filter(|(_, c)| !c.deleted).map(move |(id, _)| (ext.to_string(), id.to_string()))
        })
        .collect();
    all.sort();
    all.get((n * 37) % all.len().max(1)).cloned()
}

/// A lead's first name, last name and email.
type LeadFields = (Option<String>, Option<String>, Option<String>);

/// For every contact that has a lead of its own (the first contact with an email owns it; the
/// test does not know which of a duplicate pair that is, so duplicates by email are checked
/// only by count): contact id → (first name, last name, email) as the mapping writes them.
fn expected_fields(sys: &System) -> HashMap<String, LeadFields> {
    let dir = sys.sandbox.rc_state().directory.lock().unwrap_or_else(|e| e.into_inner());
    let mut by_email: HashMap<String, usize> = HashMap::new();
    for c in dir.books.values().flat_map(|b| b.contacts.values()).filter(|c| !c.deleted) {
        if let Some(e) = lead_email(&c.fields) {
            *by_email.entry(e).or_default() += 1;
        }
    }
    let trim = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    dir.books
        .values()
        .flat_map(|b| b.contacts.iter())
        .filter(|(_, c)| !c.deleted)
        .filter(|(_, c)| lead_email(&c.fields).is_none_or(|e| by_email[&e] == 1))
        .map(|(id, c)| (id.to_string(), (trim(&c.fields.first_name), trim(&c.fields.last_name), lead_email(&c.fields))))
        .collect()
}

/// Leads whose fields differ from their contact's current ones, and contacts with no lead.
fn mismatches(records: &Value, want: &HashMap<String, LeadFields>) -> Vec<String> {
    let leads: HashMap<String, &Value> = records["leads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some((
                l["contact_id"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| l["contact_id"].as_u64().map(|n| n.to_string()))?,
                l,
            ))
        })
        .collect();
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let mut out = Vec::new();
    for (id, (first, last, email)) in want {
        match leads.get(id) {
            None => out.push(format!("contact {id}: no lead")),
            Some(l) => {
                let got = (text(&l["first_name"]), text(&l["last_name"]), text(&l["email"]));
                if got != (first.clone(), last.clone(), email.clone()) {
                    out.push(format!("contact {id}: lead {got:?}, contact {:?}", (first, last, email)));
                }
            }
        }
        if out.len() >= 10 {
            break;
        }
    }
    out
}
