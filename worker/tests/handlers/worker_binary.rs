//! The `snapsync-worker` binary as a real process: it loads its config file (`--config`),
//! lets flags override it, runs real sync jobs against the sandbox from a private Redis, and
//! on SIGTERM finishes, deregisters and exits 0; a flag out of range stops it at startup,
//! before it connects, naming the key.

use std::process::{Command, Stdio};
use std::time::Duration;

use redis::AsyncCommands;
use snapsync_queue::{NewJob, Queue, QueueConfig};
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::{wait_until, wait_until_async, RedisServer};

const WAIT: Duration = Duration::from_secs(10);
/// The two runs of a kind write the same records, so one snoozes while the other holds their
/// record locks, and comes back after them: seconds on a loaded machine, never a failure.
const JOBS_WAIT: Duration = Duration::from_secs(40);

#[tokio::test]
async fn runs_jobs_and_exits_zero_on_sigterm() {
    let server = RedisServer::start();
    let queue = Queue::connect(&server.url(), QueueConfig { prefix: "bin".into(), ..QueueConfig::default() })
        .await
        .expect("connect to the private redis");
    let tag = queue.tag().to_string();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let config = server.dir().join("worker.toml");
    // The file names a Redis nobody listens on and another prefix: the flags must win.
    let text = format!(
        "[redis]\nurl = \"redis://127.0.0.1:1\"\n[queue]\nprefix = \"file\"\n[ringcentral]\nserver_url = \"{}\"\n[snapshots]\nbase_url = \"{}\"\n",
        sandbox.rc_url(),
        sandbox.snapshots_url()
    );
    std::fs::write(&config, text).expect("write the config file");
    let config = config.to_str().expect("utf-8 path").to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapsync-worker"))
        .args(["--config", &config])
        .args(["--redis-url", &server.url(), "--prefix", "bin", "--concurrency", "4", "--lease-ms", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start snapsync-worker");
    let mut conn = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    wait_until_async("the worker to register", WAIT, || {
        let mut conn = conn.clone();
        let tag = tag.clone();
        async move {
            let n: u64 = conn.zcard(format!("{tag}:workers")).await.unwrap();
            (n == 1).then_some(())
        }
    })
    .await;

    let payload = r#"{"v":1,"trigger":{"type":"manual"}}"#;
    // Two of each: the second run of a kind finds nothing changed (and the sandbox's real
    // rate limits leave room for them).
    let jobs: Vec<NewJob> =
        ["sync_locations", "sync_account", "sync_locations", "sync_account"].map(|k| NewJob::new(k, payload)).to_vec();
    queue.enqueue_batch(jobs).await.expect("enqueue");
    wait_until_async("all 4 jobs to be done", JOBS_WAIT, || {
        let mut conn = conn.clone();
        let tag = tag.clone();
        async move {
            let n: u64 = conn.zcard(format!("{tag}:done")).await.unwrap();
            (n == 4).then_some(())
        }
    })
    .await;

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("send SIGTERM");
    let status = wait_until("the worker to exit", WAIT, || child.try_wait().ok().flatten());
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let workers: u64 = conn.zcard(format!("{tag}:workers")).await.unwrap();
    assert_eq!(workers, 0, "the worker deregistered on its way out");
    let records: serde_json::Value = reqwest::get(format!("{}/sandbox/records", sandbox.snapshots_url()))
        .await
        .expect("records")
        .json()
        .await
        .expect("json");
    assert_eq!(records["locations"].as_array().map(Vec::len), Some(9), "two runs, each location once");
    assert_eq!(records["accounts"].as_array().map(Vec::len), Some(1), "two runs, one account");
}

#[test]
fn a_prefetch_flag_out_of_range_is_refused_at_startup_naming_the_key() {
    // Nothing listens on port 1: the refusal comes from validation, before connecting.
    let output = Command::new(env!("CARGO_BIN_EXE_snapsync-worker"))
        .args(["--redis-url", "redis://127.0.0.1:1", "--prefetch", "20000"])
        .env_remove("SNAPSYNC_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run snapsync-worker");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {:?}, stderr:\n{stderr}", output.status);
    assert!(
        stderr.contains("`worker.prefetch`: 20000 is out of range: expected between 1 and 10000"),
        "stderr:\n{stderr}"
    );
    assert!(!stderr.contains("connect"), "refused before connecting:\n{stderr}");
}
