//! The benchmark job: a no-op of kind `noop` with the peers' ~200-byte JSON payload
//! (`{"id":"job-000123","kind":"noop","user":"bench","padding":"x"*140}`).

use serde::Serialize;
use snapsync_queue::NewJob;

pub const KIND: &str = "noop";

#[derive(Serialize)]
struct Payload<'a> {
    id: String,
    kind: &'a str,
    user: &'a str,
    padding: String,
}

/// The payload of job number `i`, field for field what `bullmq_bench.cjs` sends.
pub fn payload(i: u64) -> String {
    let p = Payload { id: format!("job-{i:06}"), kind: KIND, user: "bench", padding: "x".repeat(140) };
    serde_json::to_string(&p).unwrap_or_default()
}

pub fn job(i: u64) -> NewJob {
    NewJob::new(KIND, payload(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_peers_shape() {
        // What `JSON.stringify` gives in bench/peers/bullmq_bench.cjs: 201 bytes.
        let expected = format!(r#"{{"id":"job-000123","kind":"noop","user":"bench","padding":"{}"}}"#, "x".repeat(140));
        assert_eq!(payload(123), expected);
        assert_eq!(expected.len(), 201);
    }
}
