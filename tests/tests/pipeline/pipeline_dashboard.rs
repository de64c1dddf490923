//! Issue 9: the dashboard in a real headless Chromium (Debian's `chromium`, driven through
//! `chromedriver` over the W3C WebDriver protocol): the login page takes the admin token, the
//! overview shows the queue's counts, and clicking "Retry" on a dead job makes it run. The
//! page is photographed for `docs/operations.md` (`target/dashboard.png`).

use std::process::{Child, Command, Stdio};

use crate::pipeline_support::{bins, snapshots_fault, wait, Options, System, ADMIN_TOKEN};
use serde_json::{json, Value};
use snapsync_queue::JobState;
use snapsync_testkit::free_port;

/// The W3C element reference key.
pub(crate) const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A Chromium session through chromedriver (also used by `pipeline_mapping_editor`).
pub(crate) struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Browser {
    pub(crate) async fn start() -> Browser {
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

    pub(crate) async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.expect("webdriver").json().await.expect("json");
        v["value"].clone()
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// The element matching `css`, once there is one.
    pub(crate) async fn find(&self, css: &str) -> String {
        wait(&format!("the page to show {css}"), || async {
            let v =
                self.cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
            v[ELEMENT].as_str().map(str::to_owned)
        })
        .await
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/text"), None).await.as_str().unwrap_or("").to_owned()
    }

    pub(crate) async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    pub(crate) async fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({ "text": text }))).await;
    }

    pub(crate) async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or("")).expect("png")
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_shows_the_counts_and_its_retry_button_runs_a_dead_job() {
    let _ = bins();
    let sys = System::start(Options { every: None, workers: 1, ..Options::default() }).await;
    // A locations sync that dies: Snapshots refuses every write (422 is no retry).
    snapshots_fault(&sys, json!({"route": "/**", "outage_secs": 3600.0, "error_status": 422})).await;
    let job = sys
        .queue
        .enqueue(snapsync_queue::NewJob::new("sync_locations", r#"{"v":1,"trigger":{"type":"manual"}}"#))
        .await
        .expect("enqueue")
        .id()
        .clone();
    wait("the job to die", || async {
        let d = sys.queue.get(&job).await.ok()??;
        (d.summary.state == JobState::Dead).then_some(())
    })
    .await;
    let clear =
        sys.http.delete(format!("{}/sandbox/faults", sys.sandbox.snapshots_url())).send().await.expect("faults");
    assert!(clear.status().is_success());

    let admin = sys.admin_url("serve-0").await;
    let browser = Browser::start().await;
    browser.goto(&format!("{admin}/dashboard")).await;
    // The login page first; a wrong token is refused and says so.
    browser.type_in("#token", "not-the-admin-token").await;
    browser.click("#login-form button").await;
    wait("the refusal", || async { browser.text("#login-error").await.contains("wrong bearer token").then_some(()) })
        .await;
    browser.goto(&format!("{admin}/dashboard")).await;
    let token_field = browser.find("#token").await;
    browser.cmd(reqwest::Method::POST, &format!("/element/{token_field}/clear"), Some(json!({}))).await;
    browser.type_in("#token", ADMIN_TOKEN).await;
    browser.click("#login-form button").await;

    // The overview's dead card counts the job; the dead tab lists it with a Retry button.
    wait("the dead count", || async {
        let t = browser.text("#counts [data-state=dead] b").await;
        (t.trim() == "1").then_some(())
    })
    .await;
    let row = browser.text("#job-rows").await;
    assert!(row.contains(&job.0) && row.contains("sync_locations"), "dead list: {row}");
    let png = browser.screenshot().await;
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard.png");
    std::fs::write(&shot, &png).expect("write screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");

    browser.click(&format!("button[data-retry=\"{}\"]", job.0)).await;
    let done = wait("the retried job to run", || async {
        let d = sys.queue.get(&job).await.ok()??;
        (d.summary.state == JobState::Done).then_some(d)
    })
    .await;
    // The history keeps the failed run; the retried one succeeded.
    assert!(done.history.first().is_some_and(|a| a.error.is_some()), "{:?}", done.history);
    wait("the dead count back to 0", || async {
        (browser.text("#counts [data-state=dead] b").await.trim() == "0").then_some(())
    })
    .await;
    browser.stop().await;
    sys.stop().await;
}
