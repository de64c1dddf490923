//! A webhook receiver for tests: an axum server on 127.0.0.1:0 that answers the sandbox's
//! validation handshake the way a test asks (echo, no echo, an error status, an oversized or
//! slow answer), answers notifications with a chosen status, and hands every request it got
//! to the test over channels, so tests wait on what arrived instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tokio::sync::mpsc;

/// How the receiver answers the validation handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// 200 echoing `Validation-Token`, as RingCentral requires.
    Echo,
    /// 200 without the header.
    NoEcho,
    /// This status (echoing the token anyway).
    Status(u16),
    /// 200 with the token but a 2 KB body.
    Oversized,
    /// Echoes, but only after 2 s.
    Slow,
}

/// What the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Clone)]
struct Shared {
    handshake: Arc<Mutex<Handshake>>,
    notification_status: Arc<Mutex<u16>>,
    handshakes: mpsc::UnboundedSender<HeaderMap>,
    notifications: mpsc::UnboundedSender<Received>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
    handshakes: mpsc::UnboundedReceiver<HeaderMap>,
    notifications: mpsc::UnboundedReceiver<Received>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(handshake: Handshake) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        let (htx, hrx) = mpsc::unbounded_channel();
        let (ntx, nrx) = mpsc::unbounded_channel();
        let shared = Shared {
            handshake: Arc::new(Mutex::new(handshake)),
            notification_status: Arc::new(Mutex::new(200)),
            handshakes: htx,
            notifications: ntx,
        };
        let app = Router::new().route("/hook", axum::routing::post(hook)).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url: format!("http://{addr}/hook"), shared, handshakes: hrx, notifications: nrx, server }
    }

    /// Answers later notifications with `status`.
    pub fn answer_notifications_with(&self, status: u16) {
        *self.shared.notification_status.lock().unwrap() = status;
    }

    /// The next handshake's request headers, waiting up to 5 s.
    pub async fn next_handshake(&mut self) -> HeaderMap {
        tokio::time::timeout(Duration::from_secs(5), self.handshakes.recv())
            .await
            .expect("a validation request within 5 s")
            .expect("receiver running")
    }

    /// The next notification, waiting up to 5 s.
    pub async fn next_notification(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.notifications.recv())
            .await
            .expect("a notification within 5 s")
            .expect("receiver running")
    }

    /// The next notification whose `event` ends with `suffix`, skipping others.
    pub async fn next_event(&mut self, suffix: &str) -> Received {
        loop {
            let n = self.next_notification().await;
            if n.body["event"].as_str().is_some_and(|e| e.ends_with(suffix)) {
                return n;
            }
        }
    }

    /// Notifications already received, without waiting.
    pub fn drain(&mut self) -> Vec<Received> {
        let mut out = Vec::new();
        while let Ok(n) = self.notifications.try_recv() {
            out.push(n);
        }
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn hook(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = headers.get("validation-token").cloned() else {
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let _ = shared.notifications.send(Received { headers, body });
        let status = *shared.notification_status.lock().unwrap();
        return StatusCode::from_u16(status).unwrap_or(StatusCode::OK).into_response();
    };
    let _ = shared.handshakes.send(headers);
    let mode = *shared.handshake.lock().unwrap();
    let echo = [("Validation-Token", token), ("Content-Type", "application/json".parse().unwrap())];
    match mode {
        Handshake::Echo => (echo, "").into_response(),
        Handshake::NoEcho => StatusCode::OK.into_response(),
        Handshake::Status(s) => (StatusCode::from_u16(s).unwrap(), echo, "").into_response(),
        Handshake::Oversized => (echo, "x".repeat(2048)).into_response(),
        Handshake::Slow => {
            // Simulates a slow receiver; the test waits on the sandbox's answer, not on this.
            tokio::time::sleep(Duration::from_secs(2)).await;
            (echo, "").into_response()
        }
    }
}

/// An address where nothing listens: a port bound and released at once.
pub async fn dead_address() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}/hook")
}
