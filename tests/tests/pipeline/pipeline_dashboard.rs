//! Issue 9: the dashboard in a real headless Chromium (Debian's `chromium`, driven through
//! `chromedriver` over the W3C WebDriver protocol): the login page takes the admin token, the
//! overview shows the queue's counts, and clicking "Retry" on a dead job makes it run. The
//! page is photographed for `docs/operations.md` (`target/dashboard.png`).

use crate::pipeline_support::browser::Browser;
use crate::pipeline_support::{bins, snapshots_fault, wait, Options, System, ADMIN_TOKEN};
use serde_json::json;
use snapsync_queue::JobState;

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
