//! Every Redis key of a queue, named in one place. All carry the hash tag `{prefix:queue}`, so
//! a queue lives in one Redis Cluster slot, and every script gets each key it touches in KEYS:
//! the sixteen fixed keys of [`Keys::fixed`] first, in the order `lua/common.lua` names them,
//! then the call's own (unique keys, a worker's receipt).
//!
//! Names that come from callers (unique keys, ids, kinds) are checked or hashed here before
//! they become keys: a client-supplied value never makes a key of unbounded size.

use sha2::{Digest, Sha256};

/// The fixed keys, in the order the scripts expect them.
const FIXED: [&str; 16] = [
    "ready",     // list of ready ids; enqueue LPUSHes, reserve RPOPs (FIFO)
    "scheduled", // zset id → due ms (delayed jobs, retries waiting out their backoff)
    "snoozed",   // zset id → due ms (jobs waiting for something that is not a failure)
    "running",   // zset id → lease deadline ms
    "done",      // zset id → finished ms
    "dead",      // zset id → died ms
    "rec",       // hash id → "state|lease|started|attempts|max|created|worker|kind"
    "payload",   // hash id → payload (JSON text as enqueued)
    "info",      // hash id → JSON: last error, dead reason, unique key, snooze totals
    "counts",    // hash "<state>:<kind>" → jobs
    "paused",    // string, present while paused
    "wake",      // list of wake tokens idle workers block on
    "workers",   // zset worker id → last heartbeat ms
    "winfo",     // hash worker id → JSON {info, beat, inflight}
    "seq",       // counter: the last lease token handed out
    "hist",      // hash id → JSON array of failed attempts (last 20)
];

/// Index of a fixed key, by name (for the Rust side's own reads).
fn fixed_index(name: &str) -> usize {
    FIXED.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no queue key named {name:?}"))
}

/// Longest id, kind or unique key kept as it is; longer unique keys are hashed.
pub const MAX_NAME: usize = 128;

/// The keys of one queue.
#[derive(Debug, Clone)]
pub struct Keys {
    tag: String,
    fixed: Vec<String>,
}

impl Keys {
    pub fn new(prefix: &str, queue: &str) -> Keys {
        let tag = format!("{{{prefix}:{queue}}}");
        let fixed = FIXED.iter().map(|n| format!("{tag}:{n}")).collect();
        Keys { tag, fixed }
    }

    /// `{prefix:queue}`, the start of every key.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The sixteen keys every script gets first.
    pub fn fixed(&self) -> &[String] {
        &self.fixed
    }

    /// One fixed key by name (`ready`, `running`, `rec`, ...).
    pub fn get(&self, name: &str) -> &str {
        &self.fixed[fixed_index(name)]
    }

    /// The key of a unique key (dedup), and the form stored with the job. A value longer than
    /// [`MAX_NAME`] or with characters outside printable ASCII becomes `#<sha256>`, so a
    /// hostile 200 KB value costs 64 bytes, not 200 KB per key.
    pub fn unique(&self, unique: &str) -> (String, String) {
        let stored = if unique.len() > MAX_NAME || !unique.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            let digest = Sha256::digest(unique.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("#{hex}")
        } else {
            unique.to_string()
        };
        (format!("{}:unique:{stored}", self.tag), stored)
    }

    /// A worker's reserve receipt (what its last reserve leased).
    pub fn receipt(&self, worker: &str) -> String {
        format!("{}:receipt:{worker}", self.tag)
    }
}

/// Checks a queue prefix or name: it becomes part of every key's hash tag.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 64 {
        return Err("expected 1 to 64 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b)) {
        return Err("expected letters, digits and _ . : - only (it is part of every key's hash tag)");
    }
    Ok(())
}

/// Checks a job id, kind or worker id: they are stored inside `|`-separated records and as
/// hash fields, so only a safe alphabet and a bounded length are accepted.
pub fn check_token(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_NAME {
        return Err(format!("{what} {value:.64?} is not valid: expected 1 to {MAX_NAME} characters"));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b)) {
        return Err(format!("{what} {value:.64?} is not valid: expected letters, digits and _ . : - only"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_tag() {
        let k = Keys::new("snapsync", "jobs");
        assert_eq!(k.fixed().len(), 16);
        assert!(k.fixed().iter().all(|key| key.starts_with("{snapsync:jobs}:")));
        assert_eq!(k.get("running"), "{snapsync:jobs}:running");
        assert!(k.unique("webhook:abc").0.starts_with("{snapsync:jobs}:unique:"));
        assert!(k.receipt("w1").starts_with("{snapsync:jobs}:"));
    }

    #[test]
    fn long_or_odd_unique_keys_are_hashed() {
        let k = Keys::new("p", "q");
        let (key, stored) = k.unique("webhook:1234");
        assert_eq!((key.as_str(), stored.as_str()), ("{p:q}:unique:webhook:1234", "webhook:1234"));
        let huge = "x".repeat(200_000);
        let (key, stored) = k.unique(&huge);
        assert_eq!(stored.len(), 65);
        assert!(key.len() < 100, "{key}");
        assert_eq!(k.unique(&huge), (key, stored), "the same value hashes the same");
        assert!(k.unique("with space").1.starts_with('#'));
        assert!(k.unique("crlf\r\n").1.starts_with('#'));
    }

    #[test]
    fn names_and_tokens_are_checked() {
        assert!(check_name("snapsync").is_ok());
        assert!(check_name("a{b}").is_err());
        assert!(check_name("").is_err());
        assert!(check_token("job id", "0193f2a1b2c3").is_ok());
        assert!(check_token("kind", "sync|contacts").is_err());
        assert!(check_token("kind", &"k".repeat(200)).is_err());
    }
}
