//! Issue 10, requirement 4 (test mode, then live), over real processes: two Snapshots
//! stand-ins, one configured as live (`[snapshots]`), one as test (`[test]`). A deployment
//! started with `sync.mode = "test"` syncs everything into the test one and writes nothing to
//! live; `snapsync mode live` (one command) switches every process without a restart, each
//! logs the switch, and the next sync writes every record to live, although the test target's
//! write state and sync tokens say they were all written already.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use snapsync_queue::NewJob;
use snapsync_sandbox::{Sandbox, SandboxConfig};

use crate::pipeline_support::{count, expected_leads, snapsync_cli, wait, Options, System};

fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = snapsync_cli(config, args, &[], Duration::from_secs(20));
    (out.code, out.stdout, out.stderr)
}

async fn records_of(sys: &System, url: &str) -> Value {
    sys.get(&format!("{url}/sandbox/records")).await
}

/// Enqueues the three syncs and waits until the queue is idle again.
async fn sync_all(sys: &System) {
    let mut ids = Vec::new();
    for kind in ["sync_locations", "sync_account", "sync_contacts"] {
        let payload = json!({"v": 1, "trigger": {"type": "manual"}}).to_string();
        ids.push(sys.queue.enqueue(NewJob::new(kind, payload)).await.expect("enqueue").id().clone());
    }
    wait("the syncs and their fan-out", || async {
        for id in &ids {
            if sys.queue.get(id).await.ok()??.summary.state != snapsync_queue::JobState::Done {
                return None;
            }
        }
        let c = sys.queue.counts().await.ok()?;
        (c.ready() == 0 && c.totals.running == 0 && c.totals.scheduled == 0).then_some(())
    })
    .await;
}

fn log_of(sys: &System, name: &str) -> String {
    sys.procs.iter().find(|p| p.name == name).map(|p| p.log_text()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_mode_writes_only_to_the_test_snapshots_until_one_command_switches_to_live() {
    // The test target: a second Snapshots stand-in (its RingCentral side is not used).
    let test_box = Sandbox::start(SandboxConfig::default()).await.expect("test sandbox starts");
    let test_url = test_box.snapshots_url();
    let extra = format!("mode = \"test\"\n[test]\nsnapshots_url = \"{test_url}\"\n");
    let sys = System::start(Options { every: None, workers: 2, extra, ..Options::default() }).await;
    let live_url = sys.sandbox.snapshots_url();
    let leads = expected_leads(&sys);

    // `snapsync mode` shows the seeded mode.
    let (code, out, err) = cli(&sys.config_file, &["mode", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["mode"], "test", "{v}");
    assert_eq!(v["snapshots_url"].as_str().map(|u| u.trim_end_matches('/')), Some(test_url.as_str()), "{v}");

    // Test mode: every job runs end to end; the test Snapshots gets every record, live none.
    sync_all(&sys).await;
    let test_records = records_of(&sys, &test_url).await;
    assert_eq!(count(&test_records, "leads"), leads, "test Snapshots leads");
    assert!(count(&test_records, "locations") > 0 && count(&test_records, "accounts") > 0, "{test_records}");
    let live = records_of(&sys, &live_url).await;
    for c in ["locations", "accounts", "leads", "activities"] {
        assert_eq!(count(&live, c), 0, "test mode wrote {c} to the live Snapshots");
    }
    let live_stats = sys.get(&format!("{live_url}/sandbox/stats")).await;
    assert_eq!(live_stats["writes"]["total"], 0, "{live_stats}");
    let worker_logs = format!("{}{}", log_of(&sys, "worker-0"), log_of(&sys, "worker-1"));
    assert!(worker_logs.contains("mode test: writes go to the test Snapshots"), "{worker_logs}");

    // One command switches to live; every process logs it without a restart.
    let (code, out, err) = cli(&sys.config_file, &["mode", "live"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("mode: live (was test)"), "{out}");
    wait("serve to log the switch", || async {
        log_of(&sys, "serve-0").contains("mode switched to live").then_some(())
    })
    .await;
    let test_writes = sys.get(&format!("{test_url}/sandbox/stats")).await["writes"]["total"].clone();

    // The next sync writes every record to live: the test target's state (hashes, email
    // claims, sync tokens) does not make live look up to date.
    sync_all(&sys).await;
    let live = records_of(&sys, &live_url).await;
    assert_eq!(count(&live, "leads"), leads, "live Snapshots leads after the switch");
    assert_eq!(count(&live, "locations"), count(&test_records, "locations"), "live locations");
    assert_eq!(count(&live, "accounts"), count(&test_records, "accounts"), "live accounts");
    let after = sys.get(&format!("{test_url}/sandbox/stats")).await["writes"]["total"].clone();
    assert_eq!(after, test_writes, "live mode wrote to the test Snapshots");
    for w in ["worker-0", "worker-1"] {
        let log = log_of(&sys, w);
        // A worker that ran no job since the switch has not read it yet; one that did logs it once.
        if log.contains("mode switched to live") {
            assert_eq!(log.matches("mode switched to live").count(), 1, "{w} logged the switch more than once");
        }
    }
    assert!(
        ["worker-0", "worker-1"].iter().any(|w| log_of(&sys, w).contains("mode switched to live")),
        "no worker logged the switch:\n{}",
        sys.logs()
    );

    // The switch is recorded with who made it.
    let (code, out, _) = cli(&sys.config_file, &["mode", "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["mode"], "live", "{v}");
    assert_eq!(v["history"][0]["from"], "test", "{v}");
    assert_eq!(v["history"][0]["to"], "live", "{v}");
    assert!(v["history"][0]["by"].as_str().is_some_and(|b| b.contains('@')), "{v}");
    // A bad mode name is refused by the argument parser.
    let (code, _, err) = cli(&sys.config_file, &["mode", "staging"]);
    assert_eq!(code, 2, "{err}");
    sys.stop().await;
    test_box.stop().await;
}
