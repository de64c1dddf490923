//! Issue 10, requirement 4 (preflight): `snapsync preflight` as a real process against the
//! whole system (Redis with AOF, the sandbox, a running `snapsync serve`): it passes on the
//! sandbox, then each failure is injected alone and preflight names it, says what to fix and
//! exits 1: a bad client secret, a bad JWT, a missing app permission, an inactive routing owner, an
//! unreachable webhook address, Redis without persistence, a wrong and a read-only Snapshots
//! key; a Redis whose CONFIG is disabled is reported as "could not check". No secret is
//! printed, and the probes leave nothing behind (no lead, no subscription).

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use snapsync_testkit::{free_port, RedisServer};

use crate::pipeline_support::{snapsync_cli, CliOut, Options, System, TOKEN};

type Out = CliOut;

/// `snapsync preflight ARGS --config FILE` with `env` overrides, to its end.
fn preflight(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let args: Vec<&str> = std::iter::once("preflight").chain(args.iter().copied()).collect();
    // Room for a login that waits out the Auth group's minute (the check's patience, 65 s).
    snapsync_cli(config, &args, env, Duration::from_secs(150))
}

/// Preflight `--json` expecting exit 1 with `name` failed and every other check not failed;
/// returns the failed check's detail.
fn failed_alone(config: &Path, env: &[(&str, &str)], name: &str) -> String {
    let out = preflight(config, &["--json"], env);
    assert_eq!(out.code, 1, "preflight with {name} broken exited {}:\n{}", out.code, out.all());
    let v = out.json();
    assert_eq!(v["ok"], false, "{v}");
    let check = out.check(name);
    assert_eq!(check["status"], "fail", "{name}: {v}");
    for c in v["checks"].as_array().expect("checks") {
        if c["check"] != name {
            assert_ne!(c["status"], "fail", "only {name} should fail: {v}");
        }
    }
    no_secrets(&out);
    check["detail"].as_str().expect("detail").to_string()
}

fn no_secrets(out: &Out) {
    let text = out.all();
    for secret in [
        snapsync::config::SANDBOX_CLIENT_SECRET,
        snapsync::config::SANDBOX_JWT,
        snapsync::config::SANDBOX_SNAPSHOTS_API_KEY,
        TOKEN,
        "wrong-client-secret-1234",
        "wrong-snapshots-key-5678",
        "read-only-key-9012",
        "eyJub3QiOiJ2YWxpZCJ9.bad.jwt",
    ] {
        assert!(!text.contains(secret), "a secret in preflight's output:\n{text}");
    }
}

async fn put(sys: &System, url: String, body: Value) {
    let resp = sys.http.put(&url).json(&body).send().await.unwrap_or_else(|e| panic!("PUT {url}: {e}"));
    assert!(resp.status().is_success(), "PUT {url} {body}: {}", resp.status());
}

async fn set_owner(sys: &System, owner: &str, active: bool) {
    put(sys, format!("{}/sandbox/owners/{owner}", sys.sandbox.snapshots_url()), json!({ "active": active })).await;
}

async fn set_scopes(sys: &System, scopes: &[&str]) {
    put(sys, format!("{}/sandbox/oauth/scopes", sys.sandbox.rc_url()), json!({ "scopes": scopes })).await;
}

async fn redis_config_set(sys: &System, key: &str, value: &str) {
    let mut conn = sys.queue.conn().clone();
    let _: () = redis::cmd("CONFIG").arg("SET").arg(key).arg(value).query_async(&mut conn).await.expect("CONFIG SET");
}

fn subscriptions(sys: &System) -> usize {
    sys.sandbox.rc_state().subscriptions.lock().unwrap_or_else(|e| e.into_inner()).by_id.len()
}

const ALL_SCOPES: [&str; 6] =
    ["ReadAccounts", "ReadContacts", "ReadMessages", "ReadCallLog", "CallControl", "WebhookSubscriptions"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preflight_passes_on_the_sandbox_and_names_each_injected_failure() {
    let sys = System::start(Options { every: None, workers: 0, aof: true, ..Options::default() }).await;
    let config = sys.config_file.clone();
    // The fixture's routing names own_06, inactive in the sandbox on purpose (its leads fall
    // back): a deployment would fix that before going live, and so does this baseline.
    set_owner(&sys, "own_06", true).await;
    let subs_before = subscriptions(&sys);
    let writes_before = sys.writes_total().await;

    // Everything passes: exit 0, every check ok, in the table and in JSON.
    let out = preflight(&config, &[], &[]);
    assert_eq!(out.code, 0, "preflight on the sandbox:\n{}", out.all());
    assert!(out.stdout.contains("preflight ok"), "{}", out.stdout);
    for name in [
        "redis.persistence",
        "redis.eviction",
        "mode",
        "ringcentral.login",
        "ringcentral.scopes",
        "snapshots.key",
        "snapshots.write",
        "routing.owners",
        "mapping.preview",
        "ringcentral.webhook",
    ] {
        let line = out.stdout.lines().find(|l| l.split_whitespace().nth(1) == Some(name));
        assert!(line.is_some_and(|l| l.starts_with("ok ")), "{name} not ok:\n{}", out.stdout);
    }
    no_secrets(&out);
    let out = preflight(&config, &["--json"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = out.json();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["checks"].as_array().expect("checks").iter().all(|c| c["status"] == "ok"), "{v}");
    assert!(out.check("mapping.preview")["detail"].as_str().unwrap().starts_with("3 real contacts"), "{v}");
    // The probes left nothing: no lead written, the test subscription deleted, serve's kept.
    assert_eq!(sys.writes_total().await, writes_before, "preflight wrote to Snapshots");
    assert_eq!(subscriptions(&sys), subs_before, "the test subscription was not deleted");

    // A bad client secret.
    let detail = failed_alone(
        &config,
        &[("SNAPSYNC__RINGCENTRAL__CLIENT_SECRET", "wrong-client-secret-1234")],
        "ringcentral.login",
    );
    assert!(
        detail.contains("RingCentral refused the client credentials")
            && detail.contains("check ringcentral.client_id/client_secret"),
        "{detail}"
    );

    // A JWT RingCentral does not accept.
    let detail =
        failed_alone(&config, &[("SNAPSYNC__RINGCENTRAL__JWT", "eyJub3QiOiJ2YWxpZCJ9.bad.jwt")], "ringcentral.login");
    assert!(detail.contains("RingCentral refused the JWT") && detail.contains("check ringcentral.jwt"), "{detail}");

    // A missing app permission: named with the job that needs it.
    set_scopes(&sys, &["ReadAccounts", "ReadContacts", "ReadMessages", "CallControl", "WebhookSubscriptions"]).await;
    let detail = failed_alone(&config, &[], "ringcentral.scopes");
    assert!(
        detail.contains("ReadCallLog (needed by tag_call, sync_calls)") && detail.contains("developer console"),
        "{detail}"
    );
    set_scopes(&sys, &ALL_SCOPES).await;

    // An owner a rule names, inactive in Snapshots.
    set_owner(&sys, "own_01", false).await;
    let detail = failed_alone(&config, &[], "routing.owners");
    assert!(
        detail.contains("acme-key-account") && detail.contains("own_01") && detail.contains("not active"),
        "{detail}"
    );
    assert!(detail.contains("activate the owner or change the rule"), "{detail}");
    set_owner(&sys, "own_01", true).await;

    // A webhook address nothing listens on: the handshake fails.
    let nowhere = format!("http://127.0.0.1:{}/webhooks/ringcentral", free_port());
    let detail = failed_alone(&config, &[("SNAPSYNC__RINGCENTRAL__WEBHOOK_ADDRESS", &nowhere)], "ringcentral.webhook");
    assert!(
        detail.contains("ringcentral.webhook_address") && detail.contains(&nowhere) && detail.contains("SUB-521"),
        "{detail}"
    );
    assert!(detail.contains("snapsync serve"), "{detail}");

    // Redis without persistence (the test's Redis has no RDB schedule: `save ""`).
    redis_config_set(&sys, "appendonly", "no").await;
    let detail = failed_alone(&config, &[], "redis.persistence");
    assert!(detail.contains("keeps nothing on disk") && detail.contains("appendonly yes"), "{detail}");
    redis_config_set(&sys, "appendonly", "yes").await;

    // A wrong Snapshots key, then one that may only read.
    let detail =
        failed_alone(&config, &[("SNAPSYNC__SNAPSHOTS__API_KEY", "wrong-snapshots-key-5678")], "snapshots.key");
    assert!(detail.contains("Snapshots refused the API key (401): check snapshots.api_key"), "{detail}");
    put(&sys, format!("{}/sandbox/keys/read-only-key-9012", sys.sandbox.snapshots_url()), json!({"access": "read"}))
        .await;
    let detail = failed_alone(&config, &[("SNAPSYNC__SNAPSHOTS__API_KEY", "read-only-key-9012")], "snapshots.write");
    assert!(detail.contains("may not write (403") && detail.contains("snapshots.api_key"), "{detail}");

    // A Redis whose CONFIG command is disabled (managed Redis): "could not check", a warning.
    let locked = RedisServer::builder().aof(true).args(&["--rename-command", "CONFIG", ""]).start();
    let out = preflight(&config, &["--json"], &[("SNAPSYNC__REDIS__URL", &locked.url())]);
    assert_eq!(out.code, 0, "a warning alone must not fail preflight:\n{}", out.all());
    let check = out.check("redis.persistence");
    assert_eq!(check["status"], "warn", "{check}");
    assert!(check["detail"].as_str().unwrap().contains("could not check"), "{check}");

    // Everything restored: passes again, and nothing was left behind by any run.
    let out = preflight(&config, &[], &[]);
    assert_eq!(out.code, 0, "preflight after restoring:\n{}", out.all());
    assert_eq!(sys.writes_total().await, writes_before, "preflight wrote to Snapshots");
    assert_eq!(subscriptions(&sys), subs_before, "a test subscription was left behind");
    sys.stop().await;
}
