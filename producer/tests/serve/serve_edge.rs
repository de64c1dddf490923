//! The public listener as a hostile client meets it: half-open connections closed within
//! the header timeout, a trickling body cut with 408, the wrong content type 415 and an
//! oversize body 413, each as the documented JSON.

use std::time::{Duration, Instant};

use crate::common::*;
use snapsync_producer::edge::EdgeLimits;
use snapsync_producer::Options;
use snapsync_testkit::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// This process's resident memory, in KiB (`/proc/self/status`).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

fn edge_options() -> Options {
    Options {
        subscribe: false,
        edge: EdgeLimits {
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            max_connections: 1024,
        },
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_half_open_connections_are_closed_within_the_timeout() {
    let redis = RedisServer::start();
    let producer = Producer::start(config(&redis.url(), ""), edge_options()).await;
    let addr = producer.base.trim_start_matches("http://").to_owned();
    // Warm up: a few whole requests, so the baseline includes what serving allocates anyway.
    for _ in 0..20 {
        assert_eq!(post_webhook(&producer.base, None, "{}").await.status(), 401);
    }
    let baseline = rss_kib();

    // 1,000 clients that send half a request head and then nothing.
    let mut conns = Vec::new();
    for _ in 0..1000 {
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        s.write_all(b"POST /webhooks/ringcentral HTTP/1.1\r\nHost: x\r\nContent-Type: appl").await.expect("write");
        conns.push(s);
    }
    let opened = Instant::now();
    // Each is closed by the server: the read ends (EOF, or a reset) without a response.
    let deadline = Duration::from_secs(20);
    let closed = futures_close_all(conns, deadline).await;
    assert_eq!(closed, 1000, "connections the server closed within {deadline:?}");
    let took = opened.elapsed();
    assert!(took < Duration::from_secs(10), "the 1 s header timeout took {took:?} to close them all");

    // Memory is only reported here: this process holds the clients too. The `serve` process
    // test (serve_process.rs) asserts the server's own memory returns to its baseline.
    eprintln!("RSS {} KiB after closing, baseline {baseline} KiB", rss_kib());
    // And the listener still serves.
    assert_eq!(post_webhook(&producer.base, None, "{}").await.status(), 401);
    producer.stop().await;
}

/// Reads every connection to its end; returns how many ended within `deadline`.
async fn futures_close_all(conns: Vec<TcpStream>, deadline: Duration) -> usize {
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                let read = tokio::time::timeout(deadline, s.read(&mut buf)).await;
                // Ok(Ok(0)): EOF; Ok(Err(_)): reset; a response would be bytes (not expected).
                matches!(read, Ok(Ok(0)) | Ok(Err(_)))
            })
        })
        .collect();
    let mut closed = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            closed += 1;
        }
    }
    closed
}

#[tokio::test]
async fn a_trickling_body_is_cut_with_408_and_content_type_and_size_errors_are_json() {
    let redis = RedisServer::start();
    let producer = Producer::start(config(&redis.url(), ""), edge_options()).await;
    let addr = producer.base.trim_start_matches("http://").to_owned();

    // A whole head, then 10 of the 100 promised body bytes, then nothing.
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /webhooks/ringcentral HTTP/1.1\r\nHost: x\r\nVerification-Token: {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"uuid\":\"a"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    assert!(read.is_ok(), "no answer to a stalled body");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/json") && text.contains("\"error\""), "{text}");

    // Wrong content type: 415, JSON.
    let resp = reqwest::Client::new()
        .post(format!("{}/webhooks/ringcentral", producer.base))
        .header("Verification-Token", TOKEN)
        .header("content-type", "text/plain")
        .body(r#"{"uuid":"u1","event":"/x","body":{}}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 415);
    let body: serde_json::Value = resp.json().await.expect("JSON");
    assert_eq!(body["error"], "expected Content-Type: application/json");

    // Oversize: 413, JSON.
    let huge = format!(r#"{{"uuid":"u-big","event":"/x","body":"{}"}}"#, "a".repeat(300 * 1024));
    let resp = post_webhook(&producer.base, Some(TOKEN), &huge).await;
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.expect("JSON");
    assert_eq!(body["error"], "request body too large");
    // A method the route does not take: 405, JSON.
    let resp = reqwest::Client::new().get(format!("{}/webhooks/ringcentral", producer.base)).send().await.expect("GET");
    assert_eq!(resp.status(), 405);
    assert!(resp.json::<serde_json::Value>().await.expect("JSON")["error"].is_string());
    assert_eq!(total_jobs(&queue(&redis.url()).await).await, 0);
    producer.stop().await;
}
