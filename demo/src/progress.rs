//! What the demo prints: queue counts (`Queue::counts`) and how many records of each kind
//! the Snapshots stand-in holds (`GET /sandbox/records`).

use std::fmt;

use serde_json::Value;
use snapsync_queue::{Counts, Queue};

/// One look at the system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub ready: u64,
    pub scheduled: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
    pub locations: usize,
    pub accounts: usize,
    pub leads: usize,
    pub activities: usize,
}

impl Progress {
    /// Reads both; a failed read leaves that side at zero (the line says so by its numbers).
    pub async fn read(queue: &Queue, http: &reqwest::Client, snapshots_url: &str) -> Progress {
        let mut p = Progress::default();
        if let Ok(c) = queue.counts().await {
            p.set_counts(&c);
        }
        if let Ok(resp) = http.get(format!("{snapshots_url}/sandbox/records")).send().await {
            if let Ok(records) = resp.json::<Value>().await {
                let n = |k: &str| records[k].as_array().map_or(0, Vec::len);
                p.locations = n("locations");
                p.accounts = n("accounts");
                p.leads = n("leads");
                p.activities = n("activities");
            }
        }
        p
    }

    fn set_counts(&mut self, c: &Counts) {
        self.ready = c.ready();
        self.scheduled = c.totals.scheduled;
        self.running = c.totals.running;
        self.done = c.totals.done;
        self.dead = c.totals.dead;
    }

    /// Nothing waiting or running: the queue has drained.
    pub fn idle(&self) -> bool {
        self.ready == 0 && self.scheduled == 0 && self.running == 0
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "jobs ready {:>3} running {:>2} delayed {:>2} done {:>4} dead {:>2} | snapshots: locations {:>2} accounts {} leads {:>3} activities {:>2}",
            self.ready, self.running, self.scheduled, self.done, self.dead,
            self.locations, self.accounts, self.leads, self.activities
        )
    }
}

/// Leads the sandbox's contacts make under the default mapping: one per distinct email, plus
/// one per contact without one (the first contact with an email owns its lead).
pub fn expected_leads(sandbox: &snapsync_sandbox::Sandbox) -> usize {
    let dir = sandbox.rc_state().directory.lock().unwrap_or_else(|e| e.into_inner());
    let mut emails = std::collections::HashSet::new();
    let mut without = 0;
    for c in dir.books.values().flat_map(|b| b.contacts.values()).filter(|c| !c.deleted) {
        match lead_email(&c.fields) {
            Some(e) => {
                emails.insert(e);
            }
            None => without += 1,
        }
    }
    emails.len() + without
}

/// The email a contact's lead gets, as the default mapping picks it: the first of `email`,
/// `email2`, `email3` that is not blank, trimmed and lowercased.
pub fn lead_email(c: &snapsync_sandbox::ringcentral::directory::ContactFields) -> Option<String> {
    [&c.email, &c.email2, &c.email3]
        .into_iter()
        .filter_map(|e| e.as_deref().map(|e| e.trim().to_lowercase()))
        .find(|e| !e.is_empty())
}

/// Lines naming each dead job not named before: kind, id and why it died.
pub async fn new_dead_jobs(queue: &Queue, seen: &mut std::collections::HashSet<String>) -> Vec<String> {
    let Ok(page) = queue.list(snapsync_queue::JobState::Dead, None, 0, 100).await else { return Vec::new() };
    let mut lines = Vec::new();
    for job in page.jobs {
        if seen.insert(job.id.0.clone()) {
            let why = job.dead_reason.or(job.last_error).unwrap_or_else(|| "no reason recorded".into());
            let why: String = why.chars().take(300).collect();
            lines.push(format!("dead job: {} {}: {why}", job.kind, job.id.0));
        }
    }
    lines
}

/// What the Snapshots stand-in holds, by collection and external id: each record's version
/// and a label a person recognises.
#[derive(Debug, Clone, Default)]
pub struct Records {
    by_key: std::collections::BTreeMap<(String, String), (u64, String)>,
}

impl Records {
    pub async fn read(http: &reqwest::Client, snapshots_url: &str) -> Option<Records> {
        let records: Value =
            http.get(format!("{snapshots_url}/sandbox/records")).send().await.ok()?.json().await.ok()?;
        let mut by_key = std::collections::BTreeMap::new();
        for collection in ["locations", "accounts", "leads", "activities"] {
            for r in records[collection].as_array().into_iter().flatten() {
                let id = r["external_id"].as_str().or(r["id"].as_str()).unwrap_or("?").to_owned();
                let version = r["version"].as_u64().unwrap_or(0);
                by_key.insert((collection.to_owned(), id), (version, label(collection, r)));
            }
        }
        Some(Records { by_key })
    }

    /// One line per record created, changed or removed since `self`.
    pub fn changes(&self, now: &Records) -> Vec<String> {
        let mut lines = Vec::new();
        for ((collection, id), (version, label)) in &now.by_key {
            let kind = singular(collection);
            match self.by_key.get(&(collection.clone(), id.clone())) {
                None => lines.push(format!("snapshots: new {kind} {label}")),
                Some((v, old)) if v != version => {
                    let renamed = if old != label { format!(" (was {old})") } else { String::new() };
                    lines.push(format!("snapshots: {kind} {label} updated to version {version}{renamed}"));
                }
                Some(_) => {}
            }
        }
        for ((collection, id), (_, label)) in &self.by_key {
            if !now.by_key.contains_key(&(collection.clone(), id.clone())) {
                lines.push(format!("snapshots: {} {label} removed", singular(collection)));
            }
        }
        lines
    }
}

fn label(collection: &str, r: &Value) -> String {
    let s = |k: &str| r[k].as_str().unwrap_or("").trim().to_owned();
    let text = match collection {
        "leads" => {
            let name = format!("{} {}", s("first_name"), s("last_name")).trim().to_owned();
            match (name.is_empty(), s("email")) {
                (false, e) if !e.is_empty() => format!("{name} <{e}>"),
                (false, _) => name,
                (true, e) => e,
            }
        }
        "activities" => format!("{} {}", s("type"), s("subject")).trim().to_owned(),
        _ => s("name"),
    };
    let text = if text.is_empty() { s("external_id") } else { text };
    format!("\"{}\"", text.chars().filter(|c| !c.is_control()).collect::<String>())
}

/// A collection's name for one record: `leads` → `lead`, `activities` → `activity`.
fn singular(collection: &str) -> String {
    match collection.strip_suffix("ies") {
        Some(stem) => format!("{stem}y"),
        None => collection.trim_end_matches('s').to_string(),
    }
}
