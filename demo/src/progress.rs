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
