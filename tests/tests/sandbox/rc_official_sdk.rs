//! RingCentral's own client libraries, pointed at the stand-in as their server URL, log in with
//! a JWT, page through extensions and personal contacts, create, read, renew and delete a webhook
//! subscription, refresh, and log out (`flow`); recover from a server-side token expiry
//! (`expiry`); and meet a 429 (`rate_limit`). They parse and check what they receive (content
//! types, token fields, status codes, `Retry-After`), so this is the test that the stand-in
//! speaks RingCentral. `tests/sdk/README.md` describes the scripts.
//!
//! Each test installs its SDK once under the target dir (`tests/sdk/toolchains.rs`), starts the
//! sandbox and a webhook receiver on free ports, runs the SDK script from `tests/sdk/`, and
//! checks the one JSON line it prints against the sandbox's own listings.

#[path = "../../sdk/toolchains.rs"]
mod toolchains;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use snapsync_tests::{rc_token, start_sandbox_with, Sandbox};

/// What the webhook receiver saw.
#[derive(Default)]
struct Received {
    validations: usize,
    notifications: usize,
}

/// The webhook receiver: echoes `Validation-Token` (200, empty JSON-typed body) the way
/// RingCentral's sample servers do, and counts what arrives.
async fn hook(State(seen): State<Arc<Mutex<Received>>>, headers: HeaderMap) -> Response {
    let mut resp = Response::new(Body::empty());
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    match headers.get("validation-token") {
        Some(token) => {
            seen.validations += 1;
            resp.headers_mut().insert("validation-token", token.clone());
        }
        None => seen.notifications += 1,
    }
    resp
}

/// Starts the webhook receiver on a free port; returns its address and what it has received.
async fn start_receiver() -> (String, Arc<Mutex<Received>>) {
    let seen = Arc::new(Mutex::new(Received::default()));
    let app = Router::new().route("/hook", post(hook)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the webhook receiver");
    let addr = listener.local_addr().expect("receiver address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), seen)
}

/// The ids of every record of a list endpoint, read by following `navigation.nextPage.uri`
/// with a plain HTTP client: the reference the SDKs' counts are checked against.
async fn list_ids(sandbox: &Sandbox, token: &str, path: &str, per_page: usize) -> Vec<u64> {
    let client = reqwest::Client::new();
    let mut url = format!("{}{path}?perPage={per_page}", sandbox.rc_url());
    let mut ids = Vec::new();
    for _ in 0..100 {
        let resp = client.get(&url).bearer_auth(token).send().await.expect("reference listing");
        assert_eq!(resp.status(), 200, "reference GET {url}");
        let body: Value = resp.json().await.expect("reference listing is JSON");
        let records = body["records"].as_array().expect("records[] in list response");
        ids.extend(records.iter().map(|r| r["id"].as_u64().expect("numeric record id")));
        match body["navigation"]["nextPage"]["uri"].as_str() {
            Some(next) => url = next.to_string(),
            None => return ids,
        }
    }
    panic!("{path}: navigation.nextPage never ends");
}

/// Runs an SDK script (`program args...`) with a deadline; returns its JSON report, panicking
/// with the SDK's error and the whole output when it failed.
async fn run_script(program: &Path, args: &[String], envs: &[(&str, &Path)]) -> Value {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{} {:?} did not finish within 90 s", program.display(), args))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("script printed no JSON report.\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    // Shown with `--nocapture`: what the SDK saw, for reading a pass as well as a failure.
    eprintln!("{} report: {report}", program.display());
    assert!(
        out.status.success(),
        "SDK step `{}` failed: {}\npassed steps: {}\nreport: {report}\nstderr:\n{stderr}",
        report["failed_step"],
        report["error"],
        report["steps"]
    );
    report
}

/// Checks the login and logout steps every scenario ends with.
fn check_login_and_logout(report: &Value) {
    for field in ["access_token", "token_type", "expires_in", "refresh_token", "refresh_token_expires_in", "scope"] {
        let present = report["token_fields"].as_array().is_some_and(|f| f.iter().any(|x| x == field));
        assert!(present, "login response lacks `{field}`: {}", report["token_fields"]);
    }
    assert_eq!(report["token_type"], "bearer");
    assert_eq!(report["logged_in"], true, "the SDK considers itself logged in after login");
    assert_eq!(report["logged_in_after_logout"], false, "logout() cleared the SDK's tokens");
    assert_eq!(report["revoked_token_status"], 401, "the token revoked by logout() is dead");
}

/// Checks a `flow` report against the sandbox's own listings and the webhook receiver.
async fn check_flow(sandbox: &Sandbox, report: &Value, received: &Arc<Mutex<Received>>) {
    check_login_and_logout(report);
    // The reference login is the fourth call in the Auth group (5 a minute) after the SDK's
    // login, refresh and logout.
    let token = rc_token(sandbox).await;
    let extensions = list_ids(sandbox, &token, "/restapi/v1.0/account/~/extension", 100).await;
    let contacts = list_ids(sandbox, &token, "/restapi/v1.0/account/~/extension/~/address-book/contact", 1000).await;
    assert_eq!(extensions.len(), 25, "the fixture has 25 extensions");

    let ids = |key: &str| -> Vec<u64> {
        report[key]["ids"].as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default()
    };
    let pages = |key: &str| report[key]["pages"].as_array().map_or(0, Vec::len);
    assert_eq!(report["extensions"]["count"], 25, "extensions the SDK paged through: {}", report["extensions"]);
    assert_eq!(ids("extensions"), extensions, "the SDK saw the same extensions, in order");
    assert!(pages("extensions") > 1, "extensions took several pages: {}", report["extensions"]["pages"]);
    assert_eq!(report["contacts"]["count"], contacts.len(), "contacts the SDK paged through: {}", report["contacts"]);
    assert_eq!(ids("contacts"), contacts, "the SDK saw the same personal contacts, in order");
    assert!(pages("contacts") > 1, "contacts took several pages: {}", report["contacts"]["pages"]);
    let next = report["contacts"]["pages"][0]["next"].as_str().unwrap_or_default();
    let expected_next = format!("{}/restapi/v1.0/account/", sandbox.rc_url());
    assert!(next.starts_with(&expected_next) && next.contains("page=2"), "nextPage.uri is absolute: {next}");
    let by_navigation: Vec<u64> = report["contacts_by_navigation"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    assert_eq!(by_navigation, contacts, "following navigation.nextPage.uri through the SDK gives the same contacts");

    assert_eq!(report["error_probe"]["status"], 400, "bad perPage: {}", report["error_probe"]);
    assert_eq!(report["error_probe"]["errors0"], "CMN-101", "bad perPage: {}", report["error_probe"]);

    assert_eq!(report["subscription"]["status"], "Active", "created subscription: {}", report["subscription"]);
    assert_eq!(report["subscription"]["transportType"], "WebHook");
    let filter = report["subscription"]["eventFilters"][0].as_str().unwrap_or_default();
    assert!(
        filter.starts_with("/restapi/v1.0/account/") && !filter.contains('~'),
        "filters come back normalised: {filter}"
    );
    assert_eq!(report["subscription_get"]["id"], report["subscription"]["id"]);
    assert_eq!(report["subscription_get"]["status"], "Active");
    assert_eq!(report["subscription_renew"]["id"], report["subscription"]["id"]);
    assert_eq!(report["subscription_renew"]["status"], "Active", "renewed: {}", report["subscription_renew"]);
    assert_eq!(report["subscription_delete_status"], 204, "DELETE /subscription/{{id}} is 204 No Content");
    assert_eq!(report["subscription_after_delete"]["status"], 404, "{}", report["subscription_after_delete"]);
    let validations = received.lock().unwrap_or_else(|e| e.into_inner()).validations;
    assert!(validations >= 1, "the stand-in validated the webhook address before creating the subscription");

    for field in ["access_token", "token_type", "expires_in", "refresh_token", "refresh_token_expires_in", "scope"] {
        let present = report["refresh_token_fields"].as_array().is_some_and(|f| f.iter().any(|x| x == field));
        assert!(present, "refresh response lacks `{field}`: {}", report["refresh_token_fields"]);
    }
    assert_eq!(report["token_changed"], true, "refresh issued a new access token");
    assert_eq!(report["after_refresh_records"], 1);
}

/// Checks an `expiry` report: the server-expired token got 401 and the SDK got going again.
fn check_expiry(report: &Value) {
    check_login_and_logout(report);
    assert_eq!(report["expired_call"]["status"], 401, "a server-expired token: {}", report["expired_call"]);
    assert_eq!(report["after_expiry_records"], 1, "the SDK recovered from the server-side expiry");
}

/// The rate-limit window of the `rate_limit` scenario's sandbox.
const RATE_WINDOW_SECS: u64 = 2;

/// One SDK, driven by its script.
enum Sdk {
    Python,
    Js,
}

/// Installs the SDK if needed, starts a sandbox and a receiver, and runs `scenario`.
async fn run_sdk(sdk: Sdk, scenario: &str) -> (Sandbox, Value, Arc<Mutex<Received>>) {
    let (program, script, envs) = match sdk {
        Sdk::Python => (toolchains::python_sdk(), "python_sdk_check.py", vec![]),
        Sdk::Js => (toolchains::node(), "js_sdk_check.mjs", vec![("RC_SDK_NODE_DIR", toolchains::js_sdk())]),
    };
    // The rate-limit scenario runs on a 2 s window: long enough for eleven calls to land in
    // one window on a loaded machine, short enough for the JS SDK's wait for Retry-After.
    let window = Duration::from_secs(if scenario == "rate_limit" { RATE_WINDOW_SECS } else { 60 });
    let sandbox = start_sandbox_with(window, None).await;
    let (hook, received) = start_receiver().await;
    let c = sandbox.credentials();
    let mut args = vec![toolchains::script(script).display().to_string()];
    args.extend([sandbox.rc_url(), c.client_id.clone(), c.client_secret.clone(), c.jwt.clone(), hook]);
    match sdk {
        Sdk::Python => args.extend(["--scenario".to_string(), scenario.to_string()]),
        Sdk::Js => args.push(scenario.to_string()),
    }
    let envs: Vec<(&str, &Path)> = envs.iter().map(|(k, v)| (*k, v.as_path())).collect();
    let report = run_script(&program, &args, &envs).await;
    (sandbox, report, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_logs_in_pages_and_subscribes() {
    let (sandbox, report, received) = run_sdk(Sdk::Python, "flow").await;
    assert_eq!(report["sdk"], format!("ringcentral {}", toolchains::PYTHON_SDK_VERSION));
    check_flow(&sandbox, &report, &received).await;
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_sdk_logs_in_pages_and_subscribes() {
    let (sandbox, report, received) = run_sdk(Sdk::Js, "flow").await;
    assert_eq!(report["sdk"], format!("{} {}", toolchains::JS_SDK, toolchains::JS_SDK_VERSION));
    check_flow(&sandbox, &report, &received).await;
    sandbox.stop().await;
}

/// The Python SDK does not retry a 401: it raises an ApiException carrying RingCentral's
/// body, and the caller refreshes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_surfaces_a_server_side_expiry_and_refreshes() {
    let (sandbox, report, _) = run_sdk(Sdk::Python, "expiry").await;
    check_expiry(&report);
    assert_eq!(report["expired_call"]["errors0"], "OAU-128", "{}", report["expired_call"]);
    sandbox.stop().await;
}

/// The JS SDK answers a 401 by refreshing (sending `access_token_ttl=-1`, the `expires_in`
/// it set when it cancelled the token) and retrying the call once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_sdk_refreshes_and_retries_after_a_server_side_expiry() {
    let (sandbox, report, _) = run_sdk(Sdk::Js, "expiry").await;
    check_expiry(&report);
    // The JS SDK takes its error message from the body's `message`.
    assert_eq!(report["expired_call"]["message"], "Access token expired", "{}", report["expired_call"]);
    assert_eq!(report["auto_refreshes"], 1, "one refresh after the 401");
    sandbox.stop().await;
}

/// The Python SDK raises the 429 as an ApiException carrying RingCentral's body and headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_surfaces_rate_limit_429() {
    let (sandbox, report, _) = run_sdk(Sdk::Python, "rate_limit").await;
    check_login_and_logout(&report);
    let mut expected = vec![200; 10];
    expected.push(429);
    assert_eq!(report["statuses"], serde_json::json!(expected), "ten Heavy calls, then 429");
    let limited = &report["limited_call"];
    assert_eq!(limited["errors0"], "CMN-301", "{limited}");
    let window = RATE_WINDOW_SECS.to_string();
    assert_eq!(limited["retry_after"], window.as_str(), "Retry-After is the (compressed) window: {limited}");
    assert_eq!(limited["rate_limit_group"], "heavy", "{limited}");
    sandbox.stop().await;
}

/// With `handleRateLimit`, the JS SDK reads `Retry-After`, waits, and retries the call once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_sdk_waits_out_rate_limit_429() {
    let (sandbox, report, _) = run_sdk(Sdk::Js, "rate_limit").await;
    check_login_and_logout(&report);
    assert_eq!(report["successful_calls"], 11, "every call succeeded, the 11th after waiting");
    let events = report["rate_limit_events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 1, "one 429: {events:?}");
    assert_eq!(events[0]["status"], 429);
    assert_eq!(events[0]["retry_after_ms"], RATE_WINDOW_SECS * 1000, "the SDK waited Retry-After: {events:?}");
    sandbox.stop().await;
}
