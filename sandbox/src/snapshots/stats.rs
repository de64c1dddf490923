//! Request and write counters, for `GET /sandbox/stats`.
//!
//! End-to-end tests assert things like "a second sync writes nothing" with these:
//! `requests` counts every API request that arrived (whatever its answer) by method and
//! collection (`"PATCH /leads"`), `responses` counts answers by status, and `writes`
//! counts what actually changed data: creates, updates (a `PATCH` that changed at least one
//! field) and deletes, in total and per collection. `unchanged` counts `PATCH`es that
//! changed nothing and `replays` counts idempotent replays; neither is a write.
//!
//! `rate_limit` is about the per-key limiter: `limited` counts its 429 answers (429s forced
//! through `/sandbox/faults` are only in `responses`), and `max_in_window` is the most
//! requests the API key had admitted in one of its fixed windows (the limiter's count for
//! the window right after each admission, so it is exact). Requests without a valid key
//! (401 whatever the limiter says) count in neither.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::schema::Kind;

/// Writes of one collection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Writes {
    pub creates: u64,
    pub updates: u64,
    pub deletes: u64,
    /// `PATCH`es that changed nothing (not writes).
    pub unchanged: u64,
}

impl Writes {
    fn add(&mut self, other: &Writes) {
        self.creates += other.creates;
        self.updates += other.updates;
        self.deletes += other.deletes;
        self.unchanged += other.unchanged;
    }
}

/// What happened to data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Create,
    Update,
    Unchanged,
    Delete,
}

#[derive(Debug, Default)]
pub struct Stats {
    requests: BTreeMap<String, u64>,
    responses: BTreeMap<u16, u64>,
    writes: BTreeMap<Kind, Writes>,
    replays: u64,
    limited: u64,
    max_in_window: u32,
}

impl Stats {
    /// Counts an arriving API request, e.g. `("GET", "/leads/lead_1")` as `"GET /leads"`.
    pub fn request(&mut self, method: &str, path: &str) {
        let collection = path.trim_start_matches('/').split('/').next().unwrap_or("");
        *self.requests.entry(format!("{method} /{collection}")).or_default() += 1;
    }

    pub fn response(&mut self, status: u16) {
        *self.responses.entry(status).or_default() += 1;
    }

    pub fn write(&mut self, kind: Kind, what: Write) {
        let w = self.writes.entry(kind).or_default();
        match what {
            Write::Create => w.creates += 1,
            Write::Update => w.updates += 1,
            Write::Unchanged => w.unchanged += 1,
            Write::Delete => w.deletes += 1,
        }
    }

    pub fn replay(&mut self) {
        self.replays += 1;
    }

    /// The limiter admitted a request of the API key; `used` requests (this one included)
    /// are now in the key's window.
    pub fn admitted(&mut self, used: u32) {
        self.max_in_window = self.max_in_window.max(used);
    }

    /// The limiter refused a request of the API key (a 429 answer).
    pub fn limited(&mut self) {
        self.limited += 1;
    }

    /// The `GET /sandbox/stats` body; `limit` and `window` are the limiter's current ones.
    pub fn to_json(&self, limit: u32, window: Duration) -> Value {
        let mut total = Writes::default();
        let mut by_collection = serde_json::Map::new();
        for kind in Kind::ALL {
            let w = self.writes.get(&kind).copied().unwrap_or_default();
            total.add(&w);
            by_collection.insert(kind.collection().into(), json!(w));
        }
        let responses: BTreeMap<String, u64> = self.responses.iter().map(|(s, n)| (s.to_string(), *n)).collect();
        json!({
            "requests": self.requests,
            "responses": responses,
            "writes": {
                "total": total.creates + total.updates + total.deletes,
                "creates": total.creates,
                "updates": total.updates,
                "deletes": total.deletes,
                "unchanged": total.unchanged,
                "by_collection": by_collection,
            },
            "replays": self.replays,
            "rate_limit": {
                "limit": limit,
                "window_ms": window.as_millis() as u64,
                "limited": self.limited,
                "max_in_window": self.max_in_window,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_by_collection_and_writes_by_kind() {
        let mut s = Stats::default();
        s.request("GET", "/leads/lead_1");
        s.request("GET", "/leads");
        s.write(Kind::Leads, Write::Create);
        s.write(Kind::Leads, Write::Unchanged);
        s.write(Kind::Locations, Write::Delete);
        let j = s.to_json(6000, Duration::from_secs(60));
        assert_eq!(j["requests"]["GET /leads"], 2);
        assert_eq!(j["writes"]["total"], 2);
        assert_eq!(j["writes"]["unchanged"], 1);
        assert_eq!(j["writes"]["by_collection"]["leads"]["creates"], 1);
        assert_eq!(j["writes"]["by_collection"]["accounts"]["creates"], 0);
    }

    #[test]
    fn rate_limit_counts_refusals_and_the_fullest_window() {
        let mut s = Stats::default();
        for used in [1, 2, 3, 1, 2] {
            s.admitted(used);
        }
        s.limited();
        s.limited();
        let j = s.to_json(3, Duration::from_millis(1500));
        assert_eq!(j["rate_limit"], json!({"limit": 3, "window_ms": 1500, "limited": 2, "max_in_window": 3}));
    }

    #[test]
    fn the_fullest_window_matches_the_limiter_on_a_made_up_clock() {
        use super::super::rate_limit::RateLimiter;
        use std::time::Instant;
        let mut rl = RateLimiter::new(3, Duration::from_secs(1));
        let mut s = Stats::default();
        let t0 = Instant::now();
        for ms in [0, 100, 200, 300, 400, 1000, 1100, 2500, 2600, 2700, 2800] {
            let v = rl.check("k", t0 + Duration::from_millis(ms));
            if v.allowed {
                s.admitted(v.used);
            } else {
                s.limited();
            }
        }
        // Windows from 0 (0, 100, 200 admitted; 300, 400 refused), 1000 (two) and 2500 (three, then one refused).
        let j = s.to_json(rl.limit(), rl.window());
        assert_eq!(j["rate_limit"]["max_in_window"], 3);
        assert_eq!(j["rate_limit"]["limited"], 3);
    }
}
