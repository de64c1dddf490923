//! The `snapsync serve` binary: binds `http.bind` from the config file, subscribes against
//! the sandbox, stops cleanly on SIGTERM and SIGINT, and never logs a secret.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{payloads, queue, DEADLINE, TOKEN};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::{free_port, wait_until, wait_until_async, RedisServer};

pub(crate) struct Serve {
    child: Child,
    dir: tempfile::TempDir,
    pub(crate) base: String,
}

async fn spawn(redis: &RedisServer, sandbox: &Sandbox) -> Serve {
    spawn_url(&redis.url(), sandbox).await
}

impl Serve {
    /// What the process logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("out.log")).unwrap_or_default()
    }
}

/// Starts `snapsync serve` against the Redis at `redis_url` and waits for `/readyz` 200.
pub(crate) async fn spawn_url(redis_url: &str, sandbox: &Sandbox) -> Serve {
    spawn_with(redis_url, sandbox, &[]).await
}

/// [`spawn_url`] with more arguments to `snapsync serve`.
pub(crate) async fn spawn_with(redis_url: &str, sandbox: &Sandbox, args: &[&str]) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let creds = sandbox.credentials();
    let text = format!(
        "[redis]\nurl = \"{}\"\n[http]\nbind = \"127.0.0.1:{port}\"\n[admin]\nbind = \"127.0.0.1:0\"\n[ringcentral]\nserver_url = \"{}\"\n\
         webhook_address = \"http://127.0.0.1:{port}/webhooks/ringcentral\"\nverification_token = \"{TOKEN}\"\n\
         client_id = \"{}\"\nclient_secret = \"{}\"\njwt = \"{}\"\n\
         [schedules.locations]\nenabled = false\n[schedules.accounts]\nenabled = false\n\
         [schedules.contacts]\nenabled = false\n[schedules.calls]\nenabled = false\n\
         [schedules.messages]\nenabled = false\n\
         [schedules.subscriptions]\nevery = \"1h\"\n",
        redis_url,
        sandbox.rc_url(),
        creds.client_id,
        creds.client_secret,
        creds.jwt
    );
    let file = dir.path().join("snapsync.toml");
    std::fs::write(&file, text).unwrap();
    let log = std::fs::File::create(dir.path().join("out.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_snapsync"))
        .args(["serve", "--config"])
        .arg(&file)
        .args(args)
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .env_remove("SNAPSYNC_CONFIG")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn snapsync serve");
    let mut child = child;
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/readyz");
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || std::time::Instant::now() > deadline {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("out.log")).unwrap_or_default();
            panic!("snapsync serve not ready (exit {exited:?}); log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Serve { child, dir, base }
}

/// Signals `serve`, waits for a clean exit and returns its log.
pub(crate) fn stop(mut serve: Serve, signal: Signal) -> String {
    kill(Pid::from_raw(serve.child.id() as i32), signal).unwrap();
    let status = wait_until("snapsync serve exits", DEADLINE, || serve.child.try_wait().ok().flatten());
    let log = std::fs::read_to_string(serve.dir.path().join("out.log")).unwrap();
    assert!(status.success(), "exit {status:?} after {signal}; log:\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    log
}

#[tokio::test]
async fn serve_subscribes_enqueues_and_stops_on_sigterm_without_logging_secrets() {
    let redis = RedisServer::start();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let serve = spawn(&redis, &sandbox).await;
    // The subscription tick runs at start: a renew_subscription job is in Redis.
    let q = queue(&redis.url()).await;
    wait_until_async("subscriptions tick enqueued", DEADLINE, || {
        let q = q.clone();
        async move { (!payloads(&q, "renew_subscription").await.is_empty()).then_some(()) }
    })
    .await;
    // Once subscribed, a voicemail reaches the queue through the real process.
    let client = reqwest::Client::new();
    let rc = sandbox.rc_url();
    wait_until_async("voicemail → job via snapsync serve", DEADLINE, || {
        let (client, rc, q) = (client.clone(), rc.clone(), q.clone());
        async move {
            if payloads(&q, "voicemail_follow_up").await.is_empty() {
                // Before the subscription exists a voicemail is not delivered: leave another.
                let _ = client.post(format!("{rc}/sandbox/voicemail")).json(&serde_json::json!({})).send().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (!payloads(&q, "voicemail_follow_up").await.is_empty()).then_some(())
        }
    })
    .await;
    // A delivery with a wrong token is logged as refused, and the token is not.
    let resp = client
        .post(format!("{}/webhooks/ringcentral", serve.base))
        .header("Verification-Token", "wrong")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let log = stop(serve, Signal::SIGTERM);
    let creds = sandbox.credentials();
    for secret in [TOKEN, creds.client_secret.as_str(), creds.jwt.as_str()] {
        assert!(!log.contains(secret), "a secret is in the log:\n{log}");
    }
    assert!(log.contains("webhook subscription in place"), "{log}");
}

#[tokio::test]
async fn serve_stops_on_sigint() {
    let redis = RedisServer::start();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let serve = spawn(&redis, &sandbox).await;
    stop(serve, Signal::SIGINT);
}

#[test]
fn serve_without_redis_exits_with_a_clear_error_and_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapsync.toml");
    let (redis_port, http_port) = (free_port(), free_port());
    let text = format!(
        "[redis]\nurl = \"redis://:hunter2-secret@127.0.0.1:{redis_port}\"\n[http]\nbind = \"127.0.0.1:{http_port}\"\n"
    );
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_snapsync"))
        .args(["serve", "--config"])
        .arg(&file)
        .env_remove("SNAPSYNC_CONFIG")
        .output()
        .expect("run snapsync serve");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("cannot connect to redis (redis.url)"), "{text}");
    assert!(!text.contains("hunter2-secret"), "the password leaked: {text}");
}

#[test]
fn serve_with_an_invalid_config_exits_78_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapsync.toml");
    std::fs::write(&file, "[schedules.contacts]\ncron = \"not a cron\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_snapsync"))
        .args(["serve", "--config"])
        .arg(&file)
        .env_remove("SNAPSYNC_CONFIG")
        .output()
        .expect("run snapsync serve");
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schedules.contacts.cron"));
}

#[tokio::test]
async fn logs_are_plain_text_off_a_terminal_and_one_json_object_per_line_with_log_format_json() {
    let redis = RedisServer::start();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    // Text to a file: no colour codes (NO_COLOR is unset: the output is simply no terminal).
    let text = spawn_with(&redis.url(), &sandbox, &[]).await;
    wait_until("the serving line", DEADLINE, || text.log().contains("snapsync producer serving").then_some(()));
    assert!(!text.log().contains('\u{1b}'), "ANSI codes in a log file:\n{}", text.log());
    stop(text, Signal::SIGTERM);
    // JSON: every line one object with a level and a message.
    let json = spawn_with(&redis.url(), &sandbox, &["--log-format", "json"]).await;
    wait_until("the serving line", DEADLINE, || json.log().contains("snapsync producer serving").then_some(()));
    let log = json.log();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"]["message"].is_string(), "{line}");
    }
    assert!(!log.contains('\u{1b}'), "{log}");
    stop(json, Signal::SIGTERM);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_hostile_uuid_leaves_one_clean_log_line_and_refusals_are_logged_sampled() {
    let redis = RedisServer::start();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let serve = spawn(&redis, &sandbox).await;
    let http = reqwest::Client::new();
    // A uuid carrying CR, LF and an ANSI escape (valid JSON escapes): it must not forge a
    // log line or colour the terminal of whoever reads the log.
    let body = r#"{"uuid":"evil\r\nFORGED LINE level=ERROR\u001b[31m","event":"/restapi/v1.0/account/400000001/extension/400000101/voicemail","body":{"id":"82063400004","type":"VoiceMail"}}"#;
    let resp = http
        .post(format!("{}/webhooks/ringcentral", serve.base))
        .header("Verification-Token", TOKEN)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("webhook");
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    wait_until("the enqueued line", DEADLINE, || serve.log().contains("notification enqueued").then_some(()));
    // Fifty refused webhooks: one log line for them, not fifty.
    for _ in 0..50 {
        let r = http.post(format!("{}/webhooks/ringcentral", serve.base)).body("{}").send().await.expect("post");
        assert_eq!(r.status(), 401);
    }
    let log = stop(serve, Signal::SIGTERM);
    let enqueued: Vec<&str> = log.lines().filter(|l| l.contains("notification enqueued")).collect();
    assert_eq!(enqueued.len(), 1, "{log}");
    assert!(enqueued[0].contains(r"evil\r\nFORGED LINE level=ERROR\u{1b}[31m"), "{}", enqueued[0]);
    assert!(!log.lines().any(|l| l.starts_with("FORGED")), "a forged line:\n{log}");
    assert!(!log.contains('\u{1b}'), "an escape sequence reached the log");
    let refusals = log.lines().filter(|l| l.contains("refused")).count();
    assert_eq!(refusals, 1, "refused webhooks logged {refusals} times:\n{log}");
    assert!(log.contains("refused=1"), "the first refusal is logged with its count: {log}");
    sandbox.stop().await;
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_half_open_connections_are_dropped_and_serve_s_memory_returns_to_its_baseline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let redis = RedisServer::start();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let serve = spawn(&redis, &sandbox).await;
    let pid = serve.child.id();
    let http = reqwest::Client::new();
    // Warm up, so the baseline holds what serving allocates anyway.
    for _ in 0..20 {
        let r = http.post(format!("{}/webhooks/ringcentral", serve.base)).body("{}").send().await.expect("post");
        assert_eq!(r.status(), 401);
    }
    let baseline = rss_kib(pid);

    // 1,000 clients that send half a request head and then nothing.
    let addr = serve.base.trim_start_matches("http://").to_owned();
    let mut conns = Vec::new();
    for _ in 0..1000 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        s.write_all(b"POST /webhooks/ringcentral HTTP/1.1\r\nHost: x\r\nContent-Type: appl").await.expect("write");
        conns.push(s);
    }
    let held = rss_kib(pid);
    // serve's header timeout is 10 s: each connection is closed without a response by then.
    let reads = conns.into_iter().map(|mut s| {
        tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await;
            matches!(read, Ok(Ok(0)) | Ok(Err(_)))
        })
    });
    let mut closed = 0;
    for r in reads.collect::<Vec<_>>() {
        closed += usize::from(r.await.expect("reader"));
    }
    assert_eq!(closed, 1000, "connections serve closed within its header timeout");

    // Memory comes back to within 10 % of the baseline (polled: the trim runs as they close).
    let limit = baseline + baseline / 10;
    let after = wait_until_async("serve's memory back within 10 % of its baseline", DEADLINE, || async {
        let now = rss_kib(pid);
        (now <= limit).then_some(now)
    })
    .await;
    eprintln!("serve RSS: baseline {baseline} KiB, 1,000 connections held {held} KiB, after {after} KiB");
    // And it still serves.
    let r = http.post(format!("{}/webhooks/ringcentral", serve.base)).body("{}").send().await.expect("post");
    assert_eq!(r.status(), 401);
    stop(serve, Signal::SIGTERM);
    sandbox.stop().await;
}
