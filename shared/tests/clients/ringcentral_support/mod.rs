//! What the RingCentral client tests share: the sandbox (2 s rate-limit window), a private
//! Redis, clients built like a worker process builds them, and the sandbox's control API.
#![allow(dead_code)]

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use snapsync::ringcentral::{RcSettings, RingCentral};
use snapsync_queue::{ConnOptions, RedisConn};
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::RedisServer;

pub const PREFIX: &str = "t-rc";
pub const ADMIN_EXT: &str = "400000101";

pub struct Env {
    pub sandbox: Sandbox,
    pub redis: RedisServer,
    pub http: reqwest::Client,
}

pub async fn start() -> Env {
    start_with(SandboxConfig { window: Duration::from_secs(2), ..Default::default() }).await
}

pub async fn start_with(config: SandboxConfig) -> Env {
    let sandbox = Sandbox::start(config).await.expect("start the sandbox");
    Env { sandbox, redis: RedisServer::start(), http: reqwest::Client::new() }
}

impl Env {
    pub fn settings(&self) -> RcSettings {
        let c = self.sandbox.credentials();
        RcSettings {
            server_url: self.sandbox.rc_url(),
            client_id: c.client_id.clone(),
            client_secret: SecretString::from(c.client_secret.clone()),
            jwt: SecretString::from(c.jwt.clone()),
            auth: Default::default(),
        }
    }

    /// A fresh Redis connection: each client gets its own, as separate processes would.
    pub async fn conn(&self) -> RedisConn {
        RedisConn::connect(&self.redis.url(), ConnOptions::default()).await.expect("connect to the private redis")
    }

    pub async fn client(&self) -> RingCentral {
        RingCentral::new(self.settings(), self.conn().await, PREFIX).expect("client")
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.sandbox.rc_url()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("control call");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "control {path} answered {status}: {v}");
        v
    }

    /// `(logins, refreshes)` from `/sandbox/oauth/stats`.
    pub async fn oauth_stats(&self) -> (u64, u64) {
        let s = self.control(reqwest::Method::GET, "/sandbox/oauth/stats", None).await;
        (s["logins"].as_u64().expect("logins"), s["refreshes"].as_u64().expect("refreshes"))
    }

    pub async fn expire_tokens(&self) {
        self.control(reqwest::Method::POST, "/sandbox/oauth/expire", None).await;
    }

    pub async fn fault(&self, rule: Value) {
        self.control(reqwest::Method::POST, "/sandbox/faults", Some(rule)).await;
    }
}

/// A minimal webhook endpoint for the subscription handshake: answers every POST 200 and
/// echoes `Validation-Token`. Returns its URL; the task ends with the test's runtime.
pub async fn webhook_receiver() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind webhook receiver");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let token = head
                    .lines()
                    .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("validation-token")))
                    .map(|(_, v)| v.trim().to_owned());
                let echo = token.map(|t| format!("Validation-Token: {t}\r\n")).unwrap_or_default();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\n{echo}Content-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}/webhook")
}
