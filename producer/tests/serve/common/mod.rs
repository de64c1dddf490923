//! Test harness: a producer (`snapsync_producer::run_with`) on a port-0 listener against a
//! private Redis, with helpers to read the queue back.

#![allow(dead_code)]

use std::time::Duration;

use snapsync::config::Config;
use snapsync_producer::{run_with, Options, ServeError};
use snapsync_queue::{JobState, Queue};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "test-verification-token";
pub const DEADLINE: Duration = Duration::from_secs(15);

/// A config for `redis_url` with every schedule off except those `extra` sets.
pub fn config(redis_url: &str, extra: &str) -> Config {
    config_rc(redis_url, "", extra)
}

/// [`config`] with more `[ringcentral]` lines (`rc`).
pub fn config_rc(redis_url: &str, rc: &str, extra: &str) -> Config {
    let mut text = format!("[redis]\nurl = \"{redis_url}\"\n[admin]\nbind = \"127.0.0.1:0\"\n[ringcentral]\nverification_token = \"{TOKEN}\"\n{rc}\n");
    for resource in snapsync::config::Resource::ALL.map(|r| r.as_str()) {
        let header = format!("[schedules.{resource}]\n");
        if !extra.contains(&header) {
            text.push_str(&format!("{header}enabled = false\n"));
        }
    }
    text.push_str(extra);
    match Config::from_toml_str(&text, Vec::new()) {
        Ok(c) => c,
        Err(e) => panic!("test config: {e}"),
    }
}

/// A running producer.
pub struct Producer {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Producer {
    pub async fn start(config: Config, options: Options) -> Producer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        Producer::start_on(listener, config, options).await
    }

    /// On a listener bound by the test (its address goes into `webhook_address`).
    pub async fn start_on(listener: TcpListener, config: Config, options: Options) -> Producer {
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run_with(
            config,
            listener,
            async move {
                let _ = rx.await;
            },
            options,
        ));
        let producer = Producer { base, stop: Some(tx), task: Some(task) };
        let client = reqwest::Client::new();
        let url = format!("{}/healthz", producer.base);
        snapsync_testkit::wait_until_async("producer /healthz", DEADLINE, || {
            let client = client.clone();
            let url = url.clone();
            async move { client.get(&url).send().await.ok().filter(|r| r.status() == 200).map(|_| ()) }
        })
        .await;
        producer
    }

    pub fn no_subscribe() -> Options {
        Options { subscribe: false, ..Options::default() }
    }

    /// Graceful stop; the run must end without error.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(DEADLINE, task).await.expect("producer stops in time");
            result.expect("producer task").expect("producer run ends cleanly");
        }
    }
}

pub async fn queue(redis_url: &str) -> Queue {
    Queue::connect(redis_url, config(redis_url, "").queue_config()).await.expect("queue connects")
}

/// Payloads of the ready jobs of `kind`.
pub async fn payloads(queue: &Queue, kind: &str) -> Vec<String> {
    let page = queue.list(JobState::Ready, Some(kind), 0, 1000).await.expect("list");
    let mut out = Vec::new();
    for job in page.jobs {
        if let Some(detail) = queue.get(&job.id).await.expect("get") {
            out.push(detail.payload);
        }
    }
    out
}

pub async fn total_jobs(queue: &Queue) -> u64 {
    let c = queue.counts().await.expect("counts");
    c.by_kind.values().map(|s| s.ready + s.scheduled + s.running + s.done + s.dead).sum()
}

pub async fn post_webhook(base: &str, token: Option<&str>, body: &str) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/webhooks/ringcentral"))
        .header("content-type", "application/json; charset=UTF-8")
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.header("Verification-Token", t);
    }
    req.send().await.expect("webhook request")
}
