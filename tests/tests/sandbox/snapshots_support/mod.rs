//! A small client for the Snapshots stand-in, shared by the `snapshots_*` test files: it
//! starts the sandbox on free ports and sends requests with (or without) the API key.

#![allow(dead_code)]

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use snapsync_tests::{start_sandbox, Sandbox};

/// One answer, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }

    pub fn num_header(&self, name: &str) -> u64 {
        self.header(name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no numeric {name} header: {self:?}"))
    }
}

pub struct Snap {
    pub url: String,
    pub key: String,
    pub http: reqwest::Client,
    pub sandbox: Sandbox,
}

impl Snap {
    pub async fn start() -> Snap {
        let sandbox = start_sandbox().await;
        Snap {
            url: sandbox.snapshots_url(),
            key: sandbox.credentials().snapshots_api_key.clone(),
            http: reqwest::Client::new(),
            sandbox,
        }
    }

    /// A request with the API key.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.key)
    }

    /// A request without the API key (API routes refuse it; `/sandbox/` routes take it).
    pub fn bare(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url))
    }

    pub async fn get(&self, path: &str) -> Resp {
        send(self.req(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        send(self.req(Method::POST, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        send(self.req(Method::PATCH, path).json(&body)).await
    }

    /// `POST` that must succeed; returns the record.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let r = self.post(path, body).await;
        assert_eq!(r.status, 201, "POST {path}: {r:?}");
        r.body
    }

    pub async fn records(&self) -> Value {
        send(self.bare(Method::GET, "/sandbox/records")).await.body
    }

    pub async fn stats(&self) -> Value {
        send(self.bare(Method::GET, "/sandbox/stats")).await.body
    }

    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut rb = self.bare(method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        send(rb).await
    }
}

pub async fn send(rb: RequestBuilder) -> Resp {
    let resp = rb.send().await.expect("request to the Snapshots stand-in");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("read the response body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {bytes:?}"))
    };
    Resp { status, headers, body }
}
