//! Issue 9, requirement 5: Prometheus metrics, through the real processes. `snapsync serve`
//! answers `GET /metrics` on its own listener, a `snapsync-worker` started with
//! `worker.metrics_bind = "127.0.0.1:0"` on the address it logs; both are parsed with the
//! reference parser (Python's `prometheus_client`, which `.ci/run` installs), and the values
//! must move as the scheduled syncs run: queue gauges up before any worker runs, down to 0
//! after the drain; job, API and token counters up.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use snapsync::jobs::{Payload, SyncLocations, Trigger};
use snapsync_queue::NewJob;

use crate::pipeline_support::{bins, wait, Options, System, TOKEN};

/// Reads the Prometheus text on stdin with `prometheus_client`'s parser; prints every family's
/// type and every sample as JSON. Non-finite values become null (JSON has no NaN).
const PARSER: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = {"types": {}, "samples": []}
for family in text_string_to_metric_families(sys.stdin.read()):
    out["types"][family.name] = family.type
    for s in family.samples:
        value = s.value if math.isfinite(s.value) else None
        out["samples"].append([s.name, s.labels, value])
print(json.dumps(out))
"#;

/// One parsed scrape.
#[derive(Debug)]
struct Scrape {
    /// Family name (without `_total` for counters, as the parser names them) → type.
    types: HashMap<String, String>,
    samples: Vec<(String, BTreeMap<String, String>, Option<f64>)>,
}

impl Scrape {
    /// The sum of the samples named `name` whose labels include every pair of `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| v.unwrap_or(0.0))
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| n == name)
    }

    /// The values of label `label` over the samples named `name`.
    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut v: Vec<String> =
            self.samples.iter().filter(|(n, _, _)| n == name).filter_map(|(_, l, _)| l.get(label).cloned()).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Fails, with how to fix it, when python3 or `prometheus_client` is missing: CI installs
/// both (`.ci/run`), so a missing one is a broken machine, not a reason to skip.
fn require_parser() {
    let probe = Command::new("python3").arg("-c").arg("import prometheus_client.parser").output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "this test parses /metrics with Python's prometheus_client, which python3 cannot import \
             (install it: `python3 -m pip install prometheus_client`; .ci/run does): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("this test needs python3 with prometheus_client (.ci/run installs them): {e}"),
    }
}

fn parse(text: &str) -> Scrape {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(PARSER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to the parser");
    let out = child.wait_with_output().expect("the parser ends");
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the parser's JSON");
    let types = v["types"]
        .as_object()
        .expect("types")
        .iter()
        .map(|(k, t)| (k.clone(), t.as_str().unwrap_or_default().to_string()))
        .collect();
    let samples = v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| {
            let labels = s[1]
                .as_object()
                .expect("labels")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            (s[0].as_str().unwrap_or_default().to_string(), labels, s[2].as_f64())
        })
        .collect();
    Scrape { types, samples }
}

/// GETs `url` (must be 200 in the text format) and parses it; `None` while unreachable.
async fn scrape(sys: &System, url: &str) -> Option<(String, Scrape)> {
    let resp = sys.http.get(url).send().await.ok()?;
    assert_eq!(resp.status(), 200, "GET {url}");
    let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(ctype.starts_with("text/plain"), "GET {url}: content-type {ctype:?}");
    let text = resp.text().await.ok()?;
    let parsed = tokio::task::spawn_blocking({
        let text = text.clone();
        move || parse(&text)
    })
    .await
    .expect("parser task");
    Some((text, parsed))
}

/// Jobs still to do (ready, scheduled, snoozed, running) over every kind, by the producer's gauges.
fn outstanding(s: &Scrape) -> f64 {
    ["ready", "scheduled", "snoozed", "running"].iter().map(|st| s.sum("snapsync_queue_jobs", &[("state", st)])).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_of_serve_and_worker_parse_and_move_as_jobs_run() {
    require_parser();
    let (_, worker) = bins();
    // `every = "1h"`: each schedule enqueues its latest tick once at start, then nothing more
    // for the length of the test, so the queue drains.
    let mut sys =
        System::start(Options { every: Some("1h"), workers: 0, contacts: Some(20), ..Options::default() }).await;
    let serve_metrics = format!("{}/metrics", sys.serve_url);

    // Before any worker: the scheduled syncs wait, and the gauges say so per kind.
    let before = wait("the producer's gauges to show the scheduled syncs", || async {
        let (_, s) = scrape(&sys, &serve_metrics).await?;
        (s.sum("snapsync_queue_jobs", &[("state", "ready"), ("kind", "sync_locations")]) >= 1.0).then_some(s)
    })
    .await;
    assert_eq!(before.types.get("snapsync_queue_jobs").map(String::as_str), Some("gauge"), "{:?}", before.types);
    assert!(before.has("snapsync_queue_due_jobs"), "no due-jobs gauge");
    assert_eq!(before.sum("snapsync_queue_paused", &[]), 0.0);
    // Every state of a kind is there, zeros included, so a drained state reads 0.
    assert_eq!(
        before.label_values("snapsync_queue_jobs", "state"),
        ["dead", "done", "ready", "running", "scheduled", "snoozed"]
    );
    // The subscription's validation handshake reached the webhook route (200); now a refused one.
    let refused = sys
        .http
        .post(format!("{}/webhooks/ringcentral", sys.serve_url))
        .header("verification-token", "not-the-token")
        .body("{}")
        .send()
        .await
        .expect("webhook POST");
    assert_eq!(refused.status(), 401);
    let (_, s) = scrape(&sys, &serve_metrics).await.expect("scrape");
    assert_eq!(s.types.get("snapsync_webhook_requests").map(String::as_str), Some("counter"), "{:?}", s.types);
    assert!(s.sum("snapsync_webhook_requests_total", &[("status", "200")]) >= 1.0, "handshake not counted");
    assert_eq!(s.sum("snapsync_webhook_requests_total", &[("status", "401")]), 1.0);
    // The producer logged in to RingCentral (for the subscription).
    assert!(s.sum("snapsync_token_refreshes_total", &[]) >= 1.0, "no token obtained by the producer");
    assert!(
        s.sum("snapsync_api_requests_total", &[("api", "ringcentral"), ("group", "auth"), ("status", "200")]) >= 1.0
    );

    // A worker with a metrics listener on a free port, which it logs.
    let mut cmd = sys.command(&worker, false);
    cmd.env("SNAPSYNC__WORKER__METRICS_BIND", "127.0.0.1:0");
    sys.spawn("worker-metrics", cmd);
    let addr = wait("the worker to log its metrics address", || async {
        let log = sys.procs.iter().find(|p| p.name == "worker-metrics")?.log_text();
        let at = log.find("metrics_addr=")? + "metrics_addr=".len();
        let addr: String = log[at..].chars().take_while(|c| !c.is_whitespace()).collect();
        addr.parse::<std::net::SocketAddr>().ok()
    })
    .await;
    let worker_metrics = format!("http://{addr}/metrics");

    // The drain: nothing left to do, by the producer's gauges (refreshed at scrape time).
    let drained = wait("the queue to drain (producer gauges at 0)", || async {
        let (_, s) = scrape(&sys, &serve_metrics).await?;
        let done = s.sum("snapsync_queue_jobs", &[("state", "done")]);
        (outstanding(&s) == 0.0 && done >= 3.0).then_some(s)
    })
    .await;
    assert_eq!(drained.sum("snapsync_queue_due_jobs", &[]), 0.0);
    assert_eq!(drained.sum("snapsync_queue_jobs", &[("state", "dead")]), 0.0, "a job died");
    // The budgets the jobs used, as gauges: a limit in force for RingCentral and Snapshots.
    let budgets = drained.label_values("snapsync_rate_limit_budget_limit", "budget");
    assert!(budgets.iter().any(|b| b.starts_with("ringcentral:")), "budgets {budgets:?}");
    assert!(budgets.iter().any(|b| b.starts_with("snapshots")), "budgets {budgets:?}");
    for b in &budgets {
        assert!(drained.sum("snapsync_rate_limit_budget_limit", &[("budget", b)]) >= 1.0, "{b}");
    }
    assert!(drained.sum("snapsync_rate_limit_budget_granted_total", &[]) >= 1.0);

    // The worker's counters: every job the queue shows done was processed by this worker.
    let (text, w) = scrape(&sys, &worker_metrics).await.expect("the worker's /metrics answers");
    for kind in drained.label_values("snapsync_queue_jobs", "kind") {
        let done = drained.sum("snapsync_queue_jobs", &[("state", "done"), ("kind", &kind)]);
        let processed = w.sum("snapsync_jobs_processed_total", &[("kind", &kind)]);
        assert!(processed >= done, "{kind}: {processed} processed, {done} done");
    }
    assert!(w.sum("snapsync_jobs_processed_total", &[("kind", "sync_locations")]) >= 1.0);
    assert_eq!(w.types.get("snapsync_job_duration_seconds").map(String::as_str), Some("histogram"), "{:?}", w.types);
    assert_eq!(w.types.get("snapsync_job_queue_latency_seconds").map(String::as_str), Some("histogram"));
    let runs = w.sum("snapsync_job_duration_seconds_count", &[("kind", "sync_locations")]);
    assert!(runs >= 1.0, "no sync_locations run timed");
    assert!(w.sum("snapsync_job_duration_seconds_bucket", &[("kind", "sync_locations"), ("le", "+Inf")]) == runs);
    // Queued before the worker started: every first run waited in the queue.
    assert!(w.sum("snapsync_job_queue_latency_seconds_count", &[("kind", "sync_locations")]) >= 1.0);
    assert!(w.sum("snapsync_job_queue_latency_seconds_sum", &[("kind", "sync_locations")]) > 0.0);
    // API calls by API, group and status: the syncs read RingCentral and wrote Snapshots.
    assert!(w.sum("snapsync_api_requests_total", &[("api", "ringcentral"), ("status", "200")]) >= 1.0, "{text}");
    assert!(w.sum("snapsync_api_requests_total", &[("api", "snapshots")]) >= 1.0, "{text}");
    let groups = w.label_values("snapsync_api_requests_total", "group");
    for g in &groups {
        assert!(["auth", "light", "medium", "heavy", "default"].contains(&g.as_str()), "unexpected group {g}");
    }
    // No secret in any label or value of either exposition.
    let (serve_text, _) = scrape(&sys, &serve_metrics).await.expect("scrape");
    for secret in [TOKEN, sys.config.ringcentral.client_id.as_str()] {
        assert!(!text.contains(secret) && !serve_text.contains(secret), "{secret:?} appears in /metrics");
    }

    // More work moves the counters: a second locations sync, enqueued as an operator would,
    // whose first read of RingCentral's sites gets a 500 (a failed attempt, retried) and the
    // next a 429 (the budget paused for everyone). Its Snapshots writes are no-ops by now (the
    // records are up to date), so the faults go to RingCentral.
    let before_runs = w.sum("snapsync_jobs_processed_total", &[("kind", "sync_locations")]);
    let rule = json!({"route": "GET /restapi/v1.0/account/*/sites", "statuses": [500, 429]});
    sys.rc(reqwest::Method::POST, "/sandbox/faults", Some(rule)).await;
    let payload = SyncLocations { v: 1, trigger: Trigger::Manual }.encode();
    sys.queue.enqueue(NewJob::new(SyncLocations::KIND.as_str(), payload)).await.expect("enqueue");
    let (text, w) = wait("the worker's processed_total to move", || async {
        let (text, w) = scrape(&sys, &worker_metrics).await?;
        (w.sum("snapsync_jobs_processed_total", &[("kind", "sync_locations")]) > before_runs).then_some((text, w))
    })
    .await;
    let kind = [("kind", "sync_locations")];
    assert!(w.sum("snapsync_jobs_failed_total", &kind) >= 1.0, "the 500 was not a failed attempt:\n{text}");
    assert!(w.sum("snapsync_jobs_retried_total", &kind) >= 1.0, "the failed attempt was not retried");
    assert_eq!(w.sum("snapsync_jobs_dead_total", &[]), 0.0);
    assert!(w.sum("snapsync_api_requests_total", &[("api", "ringcentral"), ("status", "500")]) >= 1.0, "{text}");
    assert!(w.sum("snapsync_api_requests_total", &[("api", "ringcentral"), ("status", "429")]) >= 1.0, "{text}");
    let paused = w.label_values("snapsync_rate_limit_pauses_total", "budget");
    assert!(paused.iter().any(|b| b.starts_with("ringcentral:")), "no RingCentral pause counted: {paused:?}");
    let settled = wait("the producer's gauges back at 0", || async {
        let (_, s) = scrape(&sys, &serve_metrics).await?;
        (outstanding(&s) == 0.0).then_some(s)
    })
    .await;
    deploy_names_are_exported(&[&settled, &w]);
    sys.stop().await;
}

/// Every metric name deploy/'s alert rules and KEDA query use is in these real scrapes, with
/// a histogram suffix only on a histogram. Except the counters this run never moves (a
/// counter appears once it has counted something, docs/metrics.md).
fn deploy_names_are_exported(scrapes: &[&Scrape]) {
    const NOT_COUNTED_HERE: [&str; 2] = ["snapsync_jobs_dead_total", "snapsync_metrics_refresh_errors_total"];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("deploy");
    for file in ["prometheus/snapsync-rules.yaml", "k8s/base/scaledobject.yaml"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let mut names: Vec<&str> = text
            .match_indices("snapsync_")
            .map(|(at, _)| {
                let rest = &text[at..];
                &rest[..rest.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(rest.len())]
            })
            .collect();
        names.sort();
        names.dedup();
        assert!(names.len() >= 2, "{file}: names {names:?}");
        for name in names {
            let sampled = scrapes.iter().any(|s| s.has(name));
            if let Some(base) = ["_bucket", "_count", "_sum"].iter().find_map(|x| name.strip_suffix(x)) {
                let kind = scrapes.iter().find_map(|s| s.types.get(base));
                assert_eq!(kind.map(String::as_str), Some("histogram"), "{file}: {name}: {base} is no histogram");
            }
            assert!(
                sampled || NOT_COUNTED_HERE.contains(&name),
                "{file}: {name} is not in the scrapes of serve and worker"
            );
        }
    }
}
