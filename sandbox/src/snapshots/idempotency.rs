//! `Idempotency-Key` memory for `POST`s.
//!
//! A key names one request: the method, the path and the body. Within the key's lifetime
//! (24 h, configurable through `PUT /sandbox/config`) a repeat of the same request gets the
//! first answer back (status and body) and creates nothing; the same key with another
//! request is refused with 422 `idempotency_key_reused`. Bodies are compared as JSON values,
//! so whitespace and key order do not make two bodies different; a body that is not JSON is
//! compared byte for byte. Only answers the resource handler gave are remembered: 5xx
//! answers, faults and rate-limit refusals never are, so a retry after them goes through.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;

/// How long a key is remembered by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What a key stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pub method: String,
    pub path: String,
    pub body: Body,
}

/// A request body, as JSON when it parses.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    Raw(Vec<u8>),
}

impl Fingerprint {
    pub fn new(method: &str, path: &str, bytes: &[u8]) -> Fingerprint {
        let body = match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => Body::Json(v),
            Err(_) => Body::Raw(bytes.to_vec()),
        };
        Fingerprint { method: method.to_string(), path: path.to_string(), body }
    }
}

/// A remembered answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// The outcome of looking a key up.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Never seen (or expired): handle the request, then [`Idempotency::remember`] it.
    New,
    /// Seen with the same request: answer this, with `Idempotent-Replayed: true`.
    Replay(Stored),
    /// Seen with a different request.
    Reused,
}

struct Entry {
    fingerprint: Fingerprint,
    answer: Stored,
    at: Instant,
}

/// Keys and their first answers.
pub struct Idempotency {
    ttl: Duration,
    entries: HashMap<String, Entry>,
}

impl Default for Idempotency {
    fn default() -> Self {
        Idempotency { ttl: DEFAULT_TTL, entries: HashMap::new() }
    }
}

impl Idempotency {
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn lookup(&mut self, key: &str, fingerprint: &Fingerprint, now: Instant) -> Lookup {
        let ttl = self.ttl;
        self.entries.retain(|_, e| now.duration_since(e.at) < ttl);
        match self.entries.get(key) {
            None => Lookup::New,
            Some(e) if &e.fingerprint == fingerprint => Lookup::Replay(e.answer.clone()),
            Some(_) => Lookup::Reused,
        }
    }

    /// Remembers the first answer to `fingerprint` under `key`; 5xx answers are not kept.
    pub fn remember(&mut self, key: &str, fingerprint: Fingerprint, answer: Stored, now: Instant) {
        if answer.status.is_server_error() {
            return;
        }
        self.entries.insert(key.to_string(), Entry { fingerprint, answer, at: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Stored {
        Stored { status: StatusCode::CREATED, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn same_request_replays_and_another_is_refused() {
        let mut idem = Idempotency::default();
        let t0 = Instant::now();
        let fp = Fingerprint::new("POST", "/leads", br#"{"name":"A","tags":[]}"#);
        assert_eq!(idem.lookup("k", &fp, t0), Lookup::New);
        idem.remember("k", fp.clone(), ok("first"), t0);
        let same_json = Fingerprint::new("POST", "/leads", br#"{ "tags": [], "name": "A" }"#);
        assert_eq!(idem.lookup("k", &same_json, t0), Lookup::Replay(ok("first")));
        let other_body = Fingerprint::new("POST", "/leads", br#"{"name":"B"}"#);
        assert_eq!(idem.lookup("k", &other_body, t0), Lookup::Reused);
        let other_path = Fingerprint::new("POST", "/accounts", br#"{"name":"A","tags":[]}"#);
        assert_eq!(idem.lookup("k", &other_path, t0), Lookup::Reused);
    }

    #[test]
    fn keys_expire_and_server_errors_are_not_kept() {
        let mut idem = Idempotency::default();
        idem.set_ttl(Duration::from_secs(5));
        let t0 = Instant::now();
        let fp = Fingerprint::new("POST", "/leads", b"not json");
        idem.remember("k", fp.clone(), ok("first"), t0);
        assert!(matches!(idem.lookup("k", &fp, t0 + Duration::from_secs(4)), Lookup::Replay(_)));
        assert_eq!(idem.lookup("k", &fp, t0 + Duration::from_secs(5)), Lookup::New);
        idem.remember("e", fp.clone(), Stored { status: StatusCode::SERVICE_UNAVAILABLE, body: vec![] }, t0);
        assert_eq!(idem.lookup("e", &fp, t0), Lookup::New);
    }
}
