//! The whole system as real processes: a private redis-server, the sandbox in-process, the
//! `snapsync serve` and `snapsync-worker` binaries (built and found like `snapsync-demo`
//! does), each given one config file (plus `SNAPSYNC__*` variables where a replica differs).

#![allow(dead_code)]

pub mod browser;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use snapsync::config::Config;
use snapsync_demo::binaries::{self, PRODUCER, WORKER};
use snapsync_demo::process::Proc;
use snapsync_queue::{Queue, StateCounts};
use snapsync_sandbox::{RcLimits, Sandbox, SandboxConfig};
use snapsync_testkit::{free_port, poll_until_async, wait_until, wait_until_async, RedisServer};

pub const WAIT: Duration = Duration::from_secs(40);
pub const TOKEN: &str = "pipeline-verification-token";
pub const ADMIN_EXT: &str = "400000101";

/// Builds `snapsync` and `snapsync-worker` once per test binary and returns their paths.
/// The admin API's bearer token in the test configuration.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub fn bins() -> (PathBuf, PathBuf) {
    static BUILT: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        binaries::build().map_err(|e| e.to_string())?;
        let p = binaries::locate(PRODUCER).map_err(|e| e.to_string())?;
        let w = binaries::locate(WORKER).map_err(|e| e.to_string())?;
        Ok((p, w))
    });
    match built {
        Ok(paths) => paths.clone(),
        Err(e) => panic!("cannot build the binaries under test: {e}"),
    }
}

pub struct Options {
    /// `every` of the locations, accounts and contacts schedules; `None` = disabled.
    pub every: Option<&'static str>,
    pub producers: usize,
    pub workers: usize,
    pub deleted_action: &'static str,
    /// The body of the config's `[retry]` section.
    pub retry: &'static str,
    /// Personal contacts in the sandbox; `None` = its default company (200).
    pub contacts: Option<usize>,
    /// Redis with AOF on (`appendfsync always`), so it can be restarted without losing a write.
    pub aof: bool,
    /// RingCentral's per-group limits, for the stand-in and (as ceilings) the config.
    pub rc_limits: RcLimits,
    /// Snapshots' requests per window, for the stand-in and the config.
    pub snapshots_limit: (u32, Duration),
    /// Worker slots per process.
    pub concurrency: usize,
    /// TOML appended to the config file, right after its last section, `[sync]`: bare keys
    /// land in `[sync]`, then more sections may follow (e.g. `mode = "test"\n[test]\n…`).
    pub extra: String,
    /// `every` of the calls and messages catch-ups (`sync_calls`, `sync_messages`); `None` =
    /// both disabled.
    pub calls_every: Option<&'static str>,
}

/// The tests' usual retry policy: fast, and enough attempts that no fault here kills a job.
pub const FAST_RETRY: &str = "base = \"20ms\"\ncap = \"500ms\"\nmax_attempts = 20\n";

impl Default for Options {
    fn default() -> Self {
        Options {
            every: Some("10s"),
            producers: 1,
            workers: 2,
            deleted_action: "tag",
            retry: FAST_RETRY,
            contacts: None,
            aof: false,
            rc_limits: RcLimits::default(),
            // Far above what these tests send: only the tests of rate limiting meet it.
            snapshots_limit: (20_000, Duration::from_secs(10)),
            concurrency: 4,
            extra: String::new(),
            calls_every: None,
        }
    }
}

pub struct System {
    pub redis: RedisServer,
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    pub config_file: PathBuf,
    pub config: Config,
    /// `http://127.0.0.1:PORT` of the first `snapsync serve`.
    pub serve_url: String,
    pub procs: Vec<Proc>,
    pub queue: Queue,
    pub http: reqwest::Client,
}

impl System {
    pub async fn start(opts: Options) -> System {
        let (producer, _) = bins();
        let redis = if opts.aof { RedisServer::start_with_aof() } else { RedisServer::start() };
        let sandbox = Sandbox::start(SandboxConfig {
            window: Duration::from_secs(2),
            contacts: opts.contacts,
            rc_limits: opts.rc_limits,
            snapshots_rate_limit: opts.snapshots_limit.0,
            snapshots_window: opts.snapshots_limit.1,
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let schedules = match opts.every {
            Some(every) => format!(
                "[schedules.locations]\nevery = \"{every}\"\n[schedules.accounts]\nevery = \"{every}\"\n\
                 [schedules.contacts]\nevery = \"{every}\"\n"
            ),
            None => "[schedules.locations]\nenabled = false\n[schedules.accounts]\nenabled = false\n\
                     [schedules.contacts]\nenabled = false\n"
                .to_string(),
        };
        let schedules = match opts.calls_every {
            Some(every) => {
                format!(
                    "{schedules}[schedules.calls]\nevery = \"{every}\"\n[schedules.messages]\nevery = \"{every}\"\n"
                )
            }
            None => format!("{schedules}[schedules.calls]\nenabled = false\n[schedules.messages]\nenabled = false\n"),
        };
        let text = format!(
            r#"[redis]
url = "{redis}"
[http]
bind = "127.0.0.1:{port}"
[admin]
bind = "127.0.0.1:0"
token = "{ADMIN_TOKEN}"
[ringcentral]
server_url = "{rc}"
webhook_address = "http://127.0.0.1:{port}/webhooks/ringcentral"
verification_token = "{TOKEN}"
[snapshots]
base_url = "{snap}"
{schedules}[schedules.subscriptions]
every = "1h"
[rate_limits.ringcentral]
window = "2s"
light = {light}
medium = {medium}
heavy = {heavy}
auth = {auth}
[rate_limits.snapshots]
requests = {snap_requests}
window = "{snap_window}ms"
[retry]
{retry}[worker]
concurrency = {concurrency}
prefetch = 4
lease = "2s"
shutdown_deadline = "5s"
[mapping]
path = "{root}/mapping/default.toml"
[routing]
path = "{root}/routing/default.toml"
[sync]
deleted_contact_action = "{deleted}"
{extra}"#,
            redis = redis.url(),
            rc = sandbox.rc_url(),
            snap = sandbox.snapshots_url(),
            deleted = opts.deleted_action,
            retry = opts.retry,
            light = opts.rc_limits.light,
            medium = opts.rc_limits.medium,
            heavy = opts.rc_limits.heavy,
            auth = opts.rc_limits.auth,
            snap_requests = opts.snapshots_limit.0,
            snap_window = opts.snapshots_limit.1.as_millis(),
            concurrency = opts.concurrency,
            extra = opts.extra,
        );
        let config_file = dir.path().join("snapsync.toml");
        std::fs::write(&config_file, &text).expect("write config");
        let config = Config::from_toml_str(&text, []).expect("test config is valid");
        let queue = Queue::connect(&redis.url(), config.queue_config()).await.expect("queue");
        let mut sys = System {
            redis,
            sandbox,
            dir,
            config_file,
            config,
            serve_url: format!("http://127.0.0.1:{port}"),
            procs: Vec::new(),
            queue,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client"),
        };
        for i in 0..opts.producers {
            // Replicas after the first listen elsewhere; the subscription points at the first.
            let bind = if i == 0 { port } else { free_port() };
            let mut cmd = sys.command(&producer, true);
            cmd.env("SNAPSYNC__HTTP__BIND", format!("127.0.0.1:{bind}"));
            sys.spawn(&format!("serve-{i}"), cmd);
            sys.wait_ready(bind).await;
        }
        if opts.producers > 0 {
            // Events reach snapsync only once its webhook subscription exists: a test that
            // makes one earlier would wait for a delivery that never comes.
            let subscribed = poll_until_async(WAIT, || async {
                let subs = sys.sandbox.rc_state().subscriptions.lock().unwrap_or_else(|e| e.into_inner());
                (!subs.by_id.is_empty()).then_some(())
            })
            .await;
            if subscribed.is_none() {
                panic!("snapsync serve made no webhook subscription within {WAIT:?}; logs:\n{}", sys.logs());
            }
        }
        for i in 0..opts.workers {
            sys.spawn_worker(&format!("worker-{i}"));
        }
        sys
    }

    /// Starts one more `snapsync-worker` process named `name`.
    pub fn spawn_worker(&mut self, name: &str) {
        let (_, worker) = bins();
        let cmd = self.command(&worker, false);
        self.spawn(name, cmd);
    }

    /// SIGKILLs the process named `name` (as a crash would), reaps it and forgets it; its log
    /// file stays in the test's directory.
    pub fn kill(&mut self, name: &str) {
        let i = self.procs.iter().position(|p| p.name == name).unwrap_or_else(|| panic!("no process named {name}"));
        let mut proc = self.procs.remove(i);
        proc.signal(nix::sys::signal::Signal::SIGKILL);
        wait_until(&format!("{name} to die"), Duration::from_secs(10), || proc.exited().map(|_| ()));
    }

    /// `bin [serve] --config FILE`, logging at info, no inherited `SNAPSYNC_CONFIG`.
    pub fn command(&self, bin: &PathBuf, serve: bool) -> Command {
        let mut cmd = Command::new(bin);
        if serve {
            cmd.arg("serve");
        }
        cmd.arg("--config")
            .arg(&self.config_file)
            .env_remove("SNAPSYNC_CONFIG")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        cmd
    }

    pub fn spawn(&mut self, name: &str, cmd: Command) {
        let log = self.dir.path().join(format!("{name}.log"));
        self.procs.push(Proc::spawn(name, cmd, &log).expect("spawn"));
    }

    async fn wait_ready(&mut self, port: u16) {
        let url = format!("http://127.0.0.1:{port}/readyz");
        let http = self.http.clone();
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if http.get(&url).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            let died = self.procs.iter_mut().any(|p| p.exited().is_some());
            if died || std::time::Instant::now() > deadline {
                panic!("snapsync serve on {port} not ready (died: {died}); logs:\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The admin API's base URL of producer `name` (it binds port 0: read from its log).
    pub async fn admin_url(&self, name: &str) -> String {
        let proc = self.procs.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no process {name}"));
        wait("the admin API's address in the log", || async {
            let log = proc.log_text();
            let at = log.find("admin=")? + "admin=".len();
            let addr: String = log[at..].chars().take_while(|c| !c.is_whitespace()).collect();
            (!addr.is_empty() && !addr.ends_with(":0")).then(|| format!("http://{addr}"))
        })
        .await
    }

    /// Every process's log, for failure messages.
    pub fn logs(&self) -> String {
        self.procs.iter().map(|p| format!("--- {} ---\n{}", p.name, tail(&p.log_text(), 40))).collect()
    }

    pub async fn records(&self) -> Value {
        self.get(&format!("{}/sandbox/records", self.sandbox.snapshots_url())).await
    }

    pub async fn writes_total(&self) -> u64 {
        let stats = self.get(&format!("{}/sandbox/stats", self.sandbox.snapshots_url())).await;
        stats["writes"]["total"].as_u64().unwrap_or_else(|| panic!("no writes.total in {stats}"))
    }

    pub async fn get(&self, url: &str) -> Value {
        let resp = self.http.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
        resp.json().await.expect("json")
    }

    /// A call on the RingCentral stand-in's `/sandbox/` control API; returns the body.
    pub async fn rc(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.sandbox.rc_url());
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Per-state counts of one job kind (zero when the kind never ran).
    pub async fn kind(&self, kind: &str) -> StateCounts {
        let counts = self.queue.counts().await.expect("counts");
        counts.by_kind.get(kind).copied().unwrap_or_default()
    }

    /// Waits until `cond` holds on the Snapshots records; returns them.
    pub async fn records_until(&self, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let records = self.records().await;
            if cond(&records) {
                return records;
            }
            if std::time::Instant::now() > deadline {
                let sizes: Vec<String> = ["locations", "accounts", "leads", "activities"]
                    .iter()
                    .map(|c| format!("{c} {}", count(&records, c)))
                    .collect();
                let queue = self.queue.counts().await.ok();
                panic!("timed out after {WAIT:?} waiting for {what}; Snapshots holds {sizes:?}; queue {queue:?}\nlogs:\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM to every process; each must exit 0 within 15 s.
    pub async fn stop(mut self) {
        for p in self.procs.iter_mut() {
            let status = p.terminate(Duration::from_secs(15));
            assert!(
                status.is_some_and(|s| s.success()),
                "{} exit {status:?}; log:\n{}",
                p.name,
                tail(&p.log_text(), 40)
            );
        }
        self.sandbox.stop().await;
    }
}

pub async fn wait<T, F, Fut>(what: &str, cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    wait_until_async(what, WAIT, cond).await
}

/// Leads the fixture's contacts make: one per distinct email, plus one per contact without one.
pub fn expected_leads(sys: &System) -> usize {
    snapsync_demo::progress::expected_leads(&sys.sandbox)
}

pub use snapsync_demo::progress::lead_email;

/// Adds a fault rule on the Snapshots stand-in.
pub async fn snapshots_fault(sys: &System, rule: Value) {
    let url = format!("{}/sandbox/faults", sys.sandbox.snapshots_url());
    let resp = sys.http.post(&url).json(&rule).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
    assert!(resp.status().is_success(), "POST {url} {rule}: {}", resp.status());
}

/// Records of `collection` whose `field` equals `value`.
pub fn find<'a>(records: &'a Value, collection: &str, field: &str, value: &str) -> Vec<&'a Value> {
    records[collection]
        .as_array()
        .map(|a| a.iter().filter(|r| r[field].as_str() == Some(value)).collect())
        .unwrap_or_default()
}

pub fn count(records: &Value, collection: &str) -> usize {
    records[collection].as_array().map_or(0, Vec::len)
}

/// A JSON id as text (the sandbox answers numbers for contacts, strings elsewhere).
pub fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn tags(record: &Value) -> Vec<String> {
    record["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect()
}

pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What a `snapsync` command run to its end printed, and its exit code.
pub struct CliOut {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOut {
    /// stdout as the one JSON document `--json` prints.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", self.stdout))
    }

    /// Both outputs, for messages.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The `preflight --json` check named `name`.
    pub fn check(&self, name: &str) -> Value {
        let v = self.json();
        v["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["check"] == name).cloned())
            .unwrap_or_else(|| panic!("no check {name} in {v}"))
    }
}

/// Runs `snapsync ARGS --config FILE` (with `env` set) to its end, within `deadline`.
pub fn snapsync_cli(config: &std::path::Path, args: &[&str], env: &[(&str, &str)], deadline: Duration) -> CliOut {
    use std::process::Stdio;
    let (producer, _) = bins();
    let mut cmd = Command::new(producer);
    cmd.args(args).arg("--config").arg(config);
    cmd.env_remove("SNAPSYNC_CONFIG").env("NO_COLOR", "1").stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn snapsync");
    // The outputs are a few kB, far below a pipe's buffer, so waiting before reading is safe.
    snapsync_testkit::wait_until("snapsync to exit", deadline, || child.try_wait().ok().flatten());
    let out = child.wait_with_output().expect("output");
    CliOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
