//! What one lead costs in Snapshots requests, counted at the stand-in (`/sandbox/stats`,
//! every API request by method and collection): a new lead at most two (its `POST`, and the
//! owners list routing reads, cached for a minute), a changed one at most two (a `PATCH` by
//! the id and version the write state remembers), an unchanged one none.

use std::collections::BTreeMap;

use crate::support::{find, Pipeline, ADMIN_EXT};
use serde_json::{json, Value};
use snapsync_queue::JobState;

/// Every API request the Snapshots stand-in counted so far, by `"METHOD /collection"`.
async fn requests(p: &Pipeline) -> BTreeMap<String, u64> {
    let stats = p.get(&format!("{}/sandbox/stats", p.sandbox.snapshots_url())).await;
    let counts = stats["requests"].as_object().cloned().unwrap_or_default();
    counts.into_iter().map(|(k, v)| (k, v.as_u64().unwrap_or(0))).collect()
}

/// Runs one `upsert_contact` job carrying `contact` (read at `read_at`) to its end and
/// returns the Snapshots requests it made, by route, and their sum.
async fn upsert(p: &Pipeline, contact: &Value, read_at: &str) -> (BTreeMap<String, u64>, u64) {
    let before = requests(p).await;
    let payload = json!({
        "v": 1,
        "extension_id": ADMIN_EXT,
        "contact_id": contact["id"],
        "contact": contact,
        "site_id": "400000201",
        "read_at": read_at,
    });
    let job = p.enqueue("upsert_contact", payload).await;
    let done = p.finished(&job).await;
    assert_eq!(done.summary.state, JobState::Done, "{:?}", done.summary.last_error);
    let after = requests(p).await;
    let delta: BTreeMap<String, u64> = after
        .iter()
        .map(|(k, n)| (k.clone(), n - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let total = delta.values().sum();
    (delta, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_lead_costs_at_most_two_snapshots_requests_a_changed_one_two_an_unchanged_one_none() {
    let p = Pipeline::start("calls", "tag").await;
    let mut contact = json!({
        "id": "700000001",
        "firstName": "Ida",
        "lastName": "Calls",
        "company": "Acme Corp",
        "email": "ida.calls@acme.example.com",
        "businessPhone": "(212) 555-0142",
    });

    // New: the owners list (cold cache) and the create; no lookup by external id first.
    let (new, n) = upsert(&p, &contact, "2026-03-01T10:00:00.000Z").await;
    assert!(n <= 2, "a new lead cost {n} Snapshots requests: {new:?}");
    let records = p.records().await;
    let lead = find(&records, "leads", "contact_id", "700000001");
    assert_eq!(lead.len(), 1, "one lead");
    assert_eq!(lead[0]["owner"], "own_01", "a new lead is routed (Acme Corp → own_01): {}", lead[0]);
    assert_eq!(lead[0]["last_name"], "Calls");

    // Changed at the source: one PATCH of the remembered id, with the remembered version.
    contact["lastName"] = json!("Calls-Again");
    let (changed, n) = upsert(&p, &contact, "2026-03-01T11:00:00.000Z").await;
    assert!(n <= 2, "a changed lead cost {n} Snapshots requests: {changed:?}");
    let records = p.records().await;
    let lead = find(&records, "leads", "contact_id", "700000001");
    assert_eq!(lead[0]["last_name"], "Calls-Again", "{}", lead[0]);
    assert_eq!(lead[0]["version"], 2, "{}", lead[0]);
    assert_eq!(lead[0]["owner"], "own_01", "the update keeps the owner: {}", lead[0]);

    // Read again, same content: the content hash matches, nothing is sent.
    let (unchanged, n) = upsert(&p, &contact, "2026-03-01T12:00:00.000Z").await;
    assert_eq!(n, 0, "an unchanged lead cost {n} Snapshots requests: {unchanged:?}");
    eprintln!("snapshots requests per lead: new {new:?}, changed {changed:?}, unchanged {unchanged:?}");
    p.stop().await;
}

