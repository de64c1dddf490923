//! Issue 10, requirement 5: `snapsync login`, the authorization-code flow with PKCE, over
//! real processes and the sandbox's `/restapi/oauth/authorize`. The pair it stores is what
//! the workers use (no JWT configured) and refresh; a dead refresh token makes jobs wait
//! (snooze, no attempt spent) until `snapsync login` runs again. Bad input: a wrong
//! `state`, an error redirect, a refused code exchange, no redirect at all — each a clear
//! error and its exit code, and nothing secret printed.
//!
//! The callback port is found by binding 127.0.0.1:0 (`free_port`), registered with the
//! sandbox (`PUT /sandbox/oauth/redirect-uris`) and configured as `ringcentral.redirect_uri`.
//! The main test's browser is a real headless Chromium (through chromedriver, as in
//! `pipeline_dashboard`) opening the printed URL on a `localhost` redirect URI; the others
//! follow the redirect with an HTTP client, so they can see (and alter) the code and state.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::pipeline_support::browser::Browser;
use crate::pipeline_support::{bins, wait, Options, System};
use reqwest::Method;
use serde_json::{json, Value};
use snapsync_queue::{JobState, NewJob};
use snapsync_testkit::free_port;

/// A `snapsync login` process with its stdout and stderr read as they come.
struct Login {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

fn reader(mut from: impl Read + Send + 'static) -> (Arc<Mutex<String>>, std::thread::JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let into = text.clone();
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (text, handle)
}

impl Login {
    fn start(sys: &System, timeout: &str) -> Login {
        let (producer, _) = bins();
        let mut cmd = Command::new(producer);
        cmd.arg("login")
            .arg("--config")
            .arg(&sys.config_file)
            .arg("--json")
            .arg("--timeout")
            .arg(timeout)
            .env_remove("SNAPSYNC_CONFIG")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn snapsync login");
        let (stdout, out) = reader(child.stdout.take().expect("stdout"));
        let (stderr, err) = reader(child.stderr.take().expect("stderr"));
        Login { child, stdout, stderr, readers: vec![out, err] }
    }

    /// The authorize URL it printed.
    async fn url(&self) -> String {
        let stderr = self.stderr.clone();
        wait("snapsync login to print the authorize URL", || {
            let text = stderr.lock().unwrap().clone();
            async move { text.lines().map(str::trim).find(|l| l.contains("/restapi/oauth/authorize?")).map(str::to_owned) }
        })
        .await
    }

    /// Its exit code, stdout as JSON, and stdout + stderr as text.
    async fn finish(mut self) -> (i32, Value, String) {
        let child = &mut self.child;
        let status = wait("snapsync login to exit", || {
            let s = child.try_wait().expect("try_wait");
            async move { s }
        })
        .await;
        // The reader threads end at EOF, which comes with the exit.
        for r in self.readers.drain(..) {
            r.join().expect("a reader thread");
        }
        let stdout = self.stdout.lock().unwrap().clone();
        let all = format!("{stdout}\n{}", self.stderr.lock().unwrap());
        let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {all}"));
        (status.code().unwrap_or(-1), json, all)
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No producer, no workers yet; `ringcentral.auth = "authorization_code"` without a JWT,
/// with a fresh callback port registered at the sandbox. `public`: no client secret.
async fn system(public: bool) -> (System, String) {
    system_on("127.0.0.1", public).await
}

async fn system_on(host: &str, public: bool) -> (System, String) {
    let sys = System::start(Options { every: None, producers: 0, workers: 0, ..Options::default() }).await;
    let redirect = format!("http://{host}:{}/oauth2callback", free_port());
    sys.rc(Method::PUT, "/sandbox/oauth/redirect-uris", Some(json!({ "redirect_uris": [redirect] }))).await;
    let text = std::fs::read_to_string(&sys.config_file).expect("read config");
    let secret = if public { "client_secret = \"\"\n" } else { "" };
    let keys =
        format!("[ringcentral]\nauth = \"authorization_code\"\njwt = \"\"\n{secret}redirect_uri = \"{redirect}\"\n");
    std::fs::write(&sys.config_file, text.replacen("[ringcentral]\n", &keys, 1)).expect("write config");
    (sys, redirect)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// The sandbox's answer to the authorize URL: the redirect's Location.
async fn authorize(url: &str) -> reqwest::Url {
    let resp = no_redirects().get(url).send().await.expect("GET authorize");
    assert_eq!(resp.status(), 302, "authorize answers a redirect");
    let location = resp.headers()["location"].to_str().expect("location").to_owned();
    reqwest::Url::parse(&location).expect("location is a URL")
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Follows the redirect to the callback like a browser; returns the page's status and text.
async fn open(url: &reqwest::Url) -> (u16, String) {
    let resp = no_redirects().get(url.as_str()).send().await.expect("GET callback");
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

async fn oauth_stats(sys: &System) -> Value {
    sys.rc(Method::GET, "/sandbox/oauth/stats", None).await
}

/// The token pair every process shares, as stored in Redis.
async fn stored_pair(sys: &System) -> Option<Value> {
    let mut conn = sys.queue.conn().clone();
    let key = format!("{{{}}}:rc:token", sys.config.queue.prefix);
    let raw: Option<String> = redis::AsyncCommands::get(&mut conn, &key).await.expect("read the token pair");
    raw.map(|r| serde_json::from_str(&r).expect("the pair is JSON"))
}

/// One `snapsync login` through the sandbox's authorize endpoint; checks it stored a pair
/// and printed none of the code, the tokens or the verifier's challenge partner.
async fn login(sys: &System) -> Value {
    let login = Login::start(sys, "30s");
    let url = login.url().await;
    let redirect = authorize(&url).await;
    let code = param(&redirect, "code").expect("the redirect carries a code");
    let (status, page) = open(&redirect).await;
    assert_eq!(status, 200, "the browser's page: {page}");
    assert!(page.contains("Logged in"), "{page}");
    let (exit, report, output) = login.finish().await;
    assert_eq!(exit, 0, "snapsync login: {output}");
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["stored"]["access_expires_ms"].as_u64().is_some(), "{report}");
    let pair = stored_pair(sys).await.expect("a stored pair");
    for secret in [code.as_str(), pair["access_token"].as_str().unwrap(), pair["refresh_token"].as_str().unwrap()] {
        assert!(!output.contains(secret), "a secret was printed: {output}");
    }
    pair
}

/// Enqueues `n` sync_account jobs (each calls RingCentral) and waits until all are done.
async fn run_jobs(sys: &System, n: u64) {
    let before = sys.kind("sync_account").await.done;
    for _ in 0..n {
        let payload = json!({"v": 1, "trigger": {"type": "manual"}}).to_string();
        sys.queue.enqueue(NewJob::new("sync_account", payload)).await.expect("enqueue");
    }
    wait(&format!("{n} sync_account jobs to finish"), || async {
        let k = sys.kind("sync_account").await;
        assert_eq!(k.dead, 0, "a sync_account job died; logs:\n{}", sys.logs());
        (k.done >= before + n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_stores_a_pair_the_workers_use_and_refresh() {
    // A public app: no client secret, `client_id` in the token requests' body. The redirect
    // URI names `localhost`, which the browser may reach on 127.0.0.1 or [::1].
    let (mut sys, _) = system_on("localhost", true).await;
    let browser = Browser::start().await;
    let login = Login::start(&sys, "30s");
    let heading = browser.open(&login.url().await).await;
    assert_eq!(heading, "Logged in", "the browser's page");
    let (exit, report, output) = login.finish().await;
    browser.stop().await;
    assert_eq!(exit, 0, "snapsync login: {output}");
    assert_eq!(report["ok"], true, "{report}");
    let pair = stored_pair(&sys).await.expect("a stored pair");
    for secret in [&pair["access_token"], &pair["refresh_token"]] {
        assert!(!output.contains(secret.as_str().unwrap()), "a token was printed: {output}");
    }
    let stats = oauth_stats(&sys).await;
    assert_eq!((stats["logins"].as_u64(), stats["refreshes"].as_u64()), (Some(1), Some(0)), "{stats}");

    sys.spawn_worker("worker-0");
    sys.spawn_worker("worker-1");
    run_jobs(&sys, 6).await;
    let stats = oauth_stats(&sys).await;
    assert_eq!(stats["logins"], 1, "the workers use the stored pair, no JWT: {stats}");
    assert_eq!(stats["refreshes"], 0, "{stats}");
    assert_eq!(stored_pair(&sys).await.expect("pair")["access_token"], pair["access_token"]);

    // Every access token expires now (the sandbox's oauth controls): one refresh, no login.
    sys.rc(Method::POST, "/sandbox/oauth/expire", None).await;
    run_jobs(&sys, 6).await;
    let stats = oauth_stats(&sys).await;
    assert_eq!(stats["logins"], 1, "a refresh, not a new login: {stats}");
    assert_eq!(stats["refreshes"], 1, "exactly one refresh across the workers: {stats}");
    let refreshed = stored_pair(&sys).await.expect("pair");
    assert_ne!(refreshed["access_token"], pair["access_token"], "the stored pair is the refreshed one");
    for secret in [&pair, &refreshed].iter().flat_map(|p| [&p["access_token"], &p["refresh_token"]]) {
        assert!(!sys.logs().contains(secret.as_str().unwrap()), "a token in the logs:\n{}", sys.logs());
    }

    // preflight checks the stored pair (there is no credential to log in with) and the
    // permissions the login was granted, without a new login.
    let (producer, _) = bins();
    let out = Command::new(producer)
        .args(["preflight", "--json", "--preview", "0", "--config"])
        .arg(&sys.config_file)
        .env_remove("SNAPSYNC_CONFIG")
        .output()
        .expect("run snapsync preflight");
    let report: Value = serde_json::from_slice(&out.stdout).expect("preflight --json prints JSON");
    let check = |name: &str| {
        report["checks"].as_array().and_then(|a| a.iter().find(|c| c["check"] == name).cloned()).unwrap_or_default()
    };
    assert_eq!(check("ringcentral.login")["status"], "ok", "{report}");
    assert!(check("ringcentral.login")["detail"].as_str().unwrap_or("").contains("snapsync login"), "{report}");
    assert_eq!(check("ringcentral.scopes")["status"], "ok", "the login's permissions were recorded: {report}");
    assert_eq!(oauth_stats(&sys).await["logins"], 1, "preflight made no login of its own");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_refresh_token_makes_jobs_wait_for_the_next_login() {
    // A confidential app (Basic auth at the token endpoint).
    let (mut sys, _) = system(false).await;
    let pair = login(&sys).await;
    sys.spawn_worker("worker-0");
    run_jobs(&sys, 1).await;

    // The session ends (as a revoked or 7-days-unused refresh token would): the next job's
    // call gets 401, its refresh OAU-213, and nothing can log in without an operator.
    let revoke = sys
        .http
        .post(format!("{}/restapi/oauth/revoke", sys.sandbox.rc_url()))
        .basic_auth(&sys.config.ringcentral.client_id, Some("sandbox-client-secret"))
        .form(&[("token", pair["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), 200);
    let payload = json!({"v": 1, "trigger": {"type": "manual"}}).to_string();
    let id = sys.queue.enqueue(NewJob::new("sync_account", payload)).await.expect("enqueue").id().clone();
    let job = wait("the job to snooze for a login", || async {
        let job = sys.queue.get(&id).await.expect("get job").expect("the job exists");
        (job.summary.snoozes >= 1).then_some(job)
    })
    .await;
    let reason = job.summary.snooze_reason.clone().unwrap_or_default();
    assert!(reason.contains("run `snapsync login`"), "snooze reason: {reason}");
    assert_eq!(job.summary.attempts, 0, "waiting for a login spends no attempt: {job:?}");
    assert!(stored_pair(&sys).await.is_none(), "the dead pair is forgotten, so nobody presents it again");
    let logs = sys.logs();
    assert!(logs.contains("snapsync login"), "the worker says what to do:\n{logs}");

    // The operator logs in again: the job goes through, with the new pair, no JWT.
    let before = oauth_stats(&sys).await;
    login(&sys).await;
    wait("the waiting job to finish", || async {
        let job = sys.queue.get(&id).await.expect("get job").expect("the job exists");
        assert_ne!(job.summary.state, JobState::Dead, "{job:?}\n{}", sys.logs());
        (job.summary.state == JobState::Done).then_some(())
    })
    .await;
    let after = oauth_stats(&sys).await;
    assert_eq!(after["logins"].as_u64(), before["logins"].as_u64().map(|n| n + 1), "{before} {after}");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redirect_with_another_state_is_refused() {
    let (sys, _) = system(false).await;
    let login = Login::start(&sys, "30s");
    let mut redirect = authorize(&login.url().await).await;
    let code = param(&redirect, "code").expect("code");
    let pairs: Vec<(String, String)> = redirect
        .query_pairs()
        .map(|(k, v)| (k.to_string(), if k == "state" { "forged-state".into() } else { v.into_owned() }))
        .collect();
    redirect.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, page) = open(&redirect).await;
    assert_eq!(status, 400, "{page}");
    let (exit, report, output) = login.finish().await;
    assert_eq!(exit, 65, "{output}");
    assert_eq!(report["ok"], false);
    assert!(report["error"].as_str().unwrap().contains("state does not match"), "{report}");
    assert!(!output.contains(&code), "the code was printed: {output}");
    assert!(stored_pair(&sys).await.is_none(), "nothing stored");
    assert_eq!(oauth_stats(&sys).await["logins"], 0, "the code was not exchanged");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_error_redirect_is_reported() {
    let (sys, _) = system(false).await;
    // The simulated user clicks "Deny": the authorize endpoint redirects with the error.
    sys.rc(Method::PUT, "/sandbox/oauth/consent", Some(json!({ "approve": false }))).await;
    let login = Login::start(&sys, "30s");
    let denied = authorize(&login.url().await).await;
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"), "{denied}");
    assert!(param(&denied, "code").is_none(), "{denied}");
    let (status, page) = open(&denied).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Login failed"), "{page}");
    let (exit, report, output) = login.finish().await;
    assert_eq!(exit, 1, "{output}");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("refused the authorization (\"access_denied\")"), "{error}");
    assert!(error.contains("denied access"), "the description is shown: {error}");
    assert!(stored_pair(&sys).await.is_none());
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_error_redirect_with_control_characters_is_escaped() {
    let (sys, _) = system(false).await;
    let login = Login::start(&sys, "30s");
    let url = reqwest::Url::parse(&login.url().await).expect("url");
    // A redirect a caller crafted (this login's state, a hostile description).
    let mut redirect = reqwest::Url::parse(&param(&url, "redirect_uri").expect("redirect_uri")).expect("redirect");
    let long = "x".repeat(500);
    redirect
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", &format!("Denied\r\n\u{1b}[31m<script>{long}"))
        .append_pair("state", &param(&url, "state").expect("state"));
    let (status, page) = open(&redirect).await;
    assert_eq!(status, 400, "{page}");
    assert!(!page.contains("<script>"), "the page escapes it: {page}");
    let (exit, report, output) = login.finish().await;
    assert_eq!(exit, 1, "{output}");
    let error = report["error"].as_str().unwrap();
    assert!(!output.contains('\u{1b}') && !error.contains('\r'), "the description is escaped: {output:?}");
    assert!(!error.contains(&long), "and capped: {error}");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_code_exchange_is_reported() {
    let (sys, _) = system(true).await;
    // Codes expire before anyone can exchange them: the token endpoint answers OAU-108.
    sys.rc(Method::PUT, "/sandbox/oauth/timings", Some(json!({ "code_ttl_secs": 0.001 }))).await;
    let login = Login::start(&sys, "30s");
    let redirect = authorize(&login.url().await).await;
    let code = param(&redirect, "code").expect("code");
    let (status, page) = open(&redirect).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Login failed"), "{page}");
    let (exit, report, output) = login.finish().await;
    assert_eq!(exit, 1, "{output}");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("refused the code exchange") && error.contains("OAU-108"), "{error}");
    assert!(!output.contains(&code), "the code was printed: {output}");
    assert!(stored_pair(&sys).await.is_none());
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_redirect_times_out() {
    let (sys, redirect) = system(false).await;
    let login = Login::start(&sys, "1s");
    login.url().await;
    let (exit, report, output) = login.finish().await;
    assert_eq!(exit, 75, "{output}");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains(&format!("no redirect to {redirect} within 1s")), "{error}");
    // The callback listener is gone with the process.
    assert!(no_redirects().get(&redirect).send().await.is_err(), "nothing listens any more");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_with_the_jwt_flow_configured_is_refused() {
    let sys = System::start(Options { every: None, producers: 0, workers: 0, ..Options::default() }).await;
    let (producer, _) = bins();
    let out = Command::new(producer)
        .args(["login", "--json", "--config"])
        .arg(&sys.config_file)
        .env_remove("SNAPSYNC_CONFIG")
        .output()
        .expect("run snapsync login");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("ringcentral.auth is \"jwt\""), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!((report["ok"].as_bool(), report["code"].as_u64()), (Some(false), Some(78)), "{report}");
    assert!(!stderr.contains("/restapi/oauth/authorize"), "no URL printed: {stderr}");
    sys.stop().await;
}
