//! The pipeline harness: a private redis-server, the sandbox (RingCentral and Snapshots
//! stand-ins) in-process, and a real worker (`snapsync_queue::run`) running every job
//! through `jobs::dispatch` with clients built from a `Config`.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use snapsync::config::Config;
use snapsync_queue::{run, RedisBackend, WorkerOptions};
use snapsync_queue::{JobDetail, JobId, JobState, NewJob, Queue};
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::{wait_until_async, RedisServer};
use snapsync_worker::jobs::{dispatch, Context};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(60);
pub const ADMIN_EXT: &str = "400000101";

pub struct Pipeline {
    pub sandbox: Sandbox,
    pub queue: Queue,
    pub ctx: Arc<Context>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    worker: Option<JoinHandle<Result<(), snapsync_queue::RunError>>>,
    _redis: RedisServer,
}

impl Pipeline {
    /// `deleted_action`: `tag` or `delete`.
    pub async fn start(name: &str, deleted_action: &str) -> Pipeline {
        // A 1 s RingCentral window: the per-extension fan-out makes more Heavy calls than one
        // real minute allows. The client's budgets are configured to the stand-in's limits.
        Pipeline::start_with(name, deleted_action, SandboxConfig::default()).await
    }

    /// As [`Pipeline::start`], over a sandbox of `config` (its window is always 1 s).
    pub async fn start_with(name: &str, deleted_action: &str, config: SandboxConfig) -> Pipeline {
        let redis = RedisServer::start();
        let config = SandboxConfig { window: Duration::from_secs(1), ..config };
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let toml = format!(
            r#"
[redis]
url = "{redis}"
[ringcentral]
server_url = "{rc}"
[snapshots]
base_url = "{snap}"
[queue]
prefix = "{name}"
[rate_limits.ringcentral]
window = "1s"
[rate_limits.snapshots]
requests = 6000
window = "60s"
[retry]
base = "20ms"
cap = "500ms"
max_attempts = 8
[worker]
lease = "5s"
[mapping]
path = "{root}/mapping/default.toml"
[routing]
path = "{root}/routing/default.toml"
[sync]
deleted_contact_action = "{deleted_action}"
"#,
            redis = redis.url(),
            rc = sandbox.rc_url(),
            snap = sandbox.snapshots_url(),
        );
        let config = Config::from_toml_str(&toml, []).expect("test config is valid");
        let ctx = Arc::new(Context::from_config(&config).await.expect("context builds"));
        let queue = ctx.queue.clone();
        let options = WorkerOptions {
            concurrency: 8,
            prefetch: 8,
            shutdown_timeout: Duration::from_secs(5),
            ..WorkerOptions::default()
        };
        let backend = RedisBackend::<Value>::new(queue.clone(), options);
        let (tx, rx) = oneshot::channel::<()>();
        let handler_ctx = ctx.clone();
        let worker = tokio::spawn(run(backend, move |p, j| dispatch(handler_ctx.clone(), p, j), async move {
            let _ = rx.await;
        }));
        Pipeline {
            sandbox,
            queue,
            ctx,
            http: reqwest::Client::new(),
            stop: Some(tx),
            worker: Some(worker),
            _redis: redis,
        }
    }

    pub async fn enqueue(&self, kind: &str, payload: Value) -> JobId {
        let created = self.queue.enqueue(NewJob::new(kind, payload.to_string())).await.expect("enqueue");
        created.id().clone()
    }

    /// Waits until no job is ready, scheduled or running.
    pub async fn settle(&self) {
        wait_until_async("the queue to drain", WAIT, || async {
            let c = self.queue.counts().await.ok()?;
            (c.ready() == 0 && c.totals.scheduled == 0 && c.totals.running == 0).then_some(())
        })
        .await;
    }

    /// Waits until job `id` is done or dead.
    pub async fn finished(&self, id: &JobId) -> JobDetail {
        wait_until_async("the job to finish", WAIT, || async {
            let d = self.queue.get(id).await.ok()??;
            matches!(d.summary.state, JobState::Done | JobState::Dead).then_some(d)
        })
        .await
    }

    pub async fn dead(&self) -> Vec<String> {
        let page = self.queue.list(JobState::Dead, None, 0, 1000).await.expect("list dead");
        page.jobs.into_iter().map(|j| format!("{} {}: {:?}", j.kind, j.id, j.last_error)).collect()
    }

    pub async fn records(&self) -> Value {
        self.get(&format!("{}/sandbox/records", self.sandbox.snapshots_url())).await
    }

    pub async fn writes(&self) -> Value {
        self.get(&format!("{}/sandbox/stats", self.sandbox.snapshots_url())).await["writes"].clone()
    }

    pub async fn get(&self, url: &str) -> Value {
        let resp = self.http.get(url).send().await.expect("GET");
        assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
        resp.json().await.expect("json")
    }

    /// A `/sandbox/` control call on the RingCentral stand-in; returns the body.
    pub async fn rc(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.sandbox.rc_url());
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("control call");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Adds a fault rule on the Snapshots stand-in.
    pub async fn snapshots_fault(&self, rule: Value) {
        let url = format!("{}/sandbox/faults", self.sandbox.snapshots_url());
        let resp = self.http.post(url).json(&rule).send().await.expect("fault");
        assert!(resp.status().is_success(), "fault rule refused: {}", resp.status());
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(w) = self.worker.take() {
            w.await.expect("worker task").expect("worker stops cleanly");
        }
        self.sandbox.stop().await;
    }
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

/// Asserts no two records of `collection` share an external id.
pub fn assert_no_duplicates(records: &Value, collection: &str) {
    let mut ids: Vec<&str> =
        records[collection].as_array().into_iter().flatten().filter_map(|r| r["external_id"].as_str()).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate external ids in {collection}");
}

pub fn payload_ext(ext: &str) -> Value {
    json!({ "v": 1, "trigger": {"type": "manual"}, "extension_id": ext })
}
