//! Support shared by the RingCentral subscription, delivery and telephony tests: a logged-in
//! client for the stand-in and its `/sandbox/` routes, and a real webhook receiver.

// Each test file uses its own part of this module.
#![allow(dead_code)]

pub mod webhook_receiver;

use reqwest::Method;
use serde_json::{json, Value};
use snapsync_tests::{rc_token, Sandbox};

/// A filter on the caller's voicemail.
pub const VOICEMAIL: &str = "/restapi/v1.0/account/~/extension/~/voicemail";
/// The admin extension's events, with the fixture's real ids.
pub const ADMIN_EVENT_PREFIX: &str = "/restapi/v1.0/account/400000001/extension/400000101";

/// The logged-in admin talking to the stand-in.
pub struct RcClient {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl RcClient {
    pub async fn new(sandbox: &Sandbox) -> RcClient {
        RcClient { http: reqwest::Client::new(), base: sandbox.rc_url(), token: rc_token(sandbox).await }
    }

    /// An API call with the bearer token; the body is `Null` when it is not JSON.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request to the sandbox");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("response body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None).await
    }

    /// `POST /restapi/v1.0/subscription`.
    pub async fn create(&self, body: Value) -> (u16, Value) {
        self.send(Method::POST, "/restapi/v1.0/subscription", Some(body)).await
    }

    /// A `/sandbox/` control call (no token needed).
    pub async fn control(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let resp = self.http.request(method, format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Leaves a voicemail through `POST /sandbox/voicemail`; returns the message.
    pub async fn voicemail(&self, body: Value) -> Value {
        let (status, message) = self.control(Method::POST, "/sandbox/voicemail", body).await;
        assert_eq!(status, 200, "{message}");
        message
    }

    /// `GET /sandbox/deliveries`.
    pub async fn deliveries(&self) -> Vec<Value> {
        let resp = self.http.get(format!("{}/sandbox/deliveries", self.base)).send().await.unwrap();
        resp.json::<Vec<Value>>().await.unwrap()
    }
}

/// A create body for a WebHook to `address` with verification token `s3cret`.
pub fn webhook(address: &str, filters: &[&str]) -> Value {
    json!({
        "eventFilters": filters,
        "deliveryMode": { "transportType": "WebHook", "address": address, "verificationToken": "s3cret" },
    })
}

/// `errors[0].errorCode` of an error body.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["errorCode"].as_str().unwrap_or("")
}

/// The `id`s of a list's records, in order.
pub fn ids(list: &Value) -> Vec<Value> {
    list["records"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect()
}
