//! A real browser for the tests of web pages: Debian's headless Chromium driven through
//! `chromedriver` over the W3C WebDriver protocol (`.ci/run` installs both).

use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use snapsync_testkit::free_port;

use super::wait;

/// The W3C element reference key.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session through chromedriver (the dashboard, mapping-editor and
/// login tests).
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; .ci/run installs it)");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        wait("chromedriver to answer", || async {
            let r = http.get(format!("{base}/status")).send().await.ok()?;
            let v: Value = r.json().await.ok()?;
            v["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1500"]
        } } } });
        let created: Value =
            http.post(format!("{base}/session")).json(&caps).send().await.expect("session").json().await.expect("json");
        let session =
            created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_owned();
        Browser { driver, http, base, session }
    }

    pub async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.expect("webdriver").json().await.expect("json");
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// The element matching `css`, once there is one.
    pub async fn find(&self, css: &str) -> String {
        wait(&format!("the page to show {css}"), || async {
            let v =
                self.cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
            v[ELEMENT].as_str().map(str::to_owned)
        })
        .await
    }

    pub async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/text"), None).await.as_str().unwrap_or("").to_owned()
    }

    /// Clicks the element matching `css`. An element the page replaced between finding and
    /// clicking (a list re-rendered by a reload: WebDriver's "stale element reference", which
    /// dispatches no click) is found again and clicked, until the click lands.
    pub async fn click(&self, css: &str) {
        wait(&format!("a click on {css} to land"), || async {
            let e = self.find(css).await;
            let answer = self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
            match answer.get("error").and_then(Value::as_str) {
                Some("stale element reference") => None,
                Some(other) => panic!("clicking {css}: {other}: {answer}"),
                None => Some(()),
            }
        })
        .await
    }

    pub async fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({ "text": text }))).await;
    }

    /// Opens `url` (following its redirects) and returns the text of the page's `h1`.
    pub async fn open(&self, url: &str) -> String {
        self.goto(url).await;
        self.text("h1").await
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or("")).expect("png")
    }

    pub async fn stop(mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
