//! Every problem at once, each naming its key (and variable), the value and the expected
//! form: bad values, unknown keys, wrong types, bad overrides and TOML syntax.

use snapsync::config::{Config, ConfigError};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The error's full message; panics when the input loads.
fn error(text: &str, vars: &[(&str, &str)]) -> String {
    match Config::from_toml_str(text, env(vars)) {
        Ok(_) => panic!("expected an error for:\n{text}\n{vars:?}"),
        Err(err) => {
            assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
            err.to_string()
        }
    }
}

#[test]
fn three_mistakes_are_reported_together() {
    let file = r#"
[redis]
url = "localhost:6379"

[ringcentral]
server_url = "ftp://platform.example.com"

[worker]
concurrency = 0
"#;
    let err = Config::from_toml_str(file, env(&[])).expect_err("three mistakes");
    assert_eq!(err.problems().len(), 3, "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("invalid configuration, 3 problems:"), "{msg}");
    assert!(
        msg.contains("`redis.url`: \"localhost:6379\" is not valid: expected a Redis URL like \"redis://"),
        "{msg}"
    );
    assert!(
        msg.contains("`ringcentral.server_url`: \"ftp://platform.example.com/\" is not valid: expected an http:// or https:// URL"),
        "{msg}"
    );
    assert!(msg.contains("`worker.concurrency`: 0 is out of range: expected between 1 and 10000"), "{msg}");
}

#[test]
fn unknown_keys_and_sections_are_named_with_what_is_expected() {
    let msg = error("[worker]\nconcurency = 4\n[redsi]\nurl = \"redis://x\"\n", &[]);
    assert!(msg.contains("`worker.concurency`: unknown key in [worker]: expected one of `concurrency`"), "{msg}");
    assert!(msg.contains("`redsi`: unknown section: expected one of"), "{msg}");
    assert!(msg.contains("2 problems"), "{msg}");
}

#[test]
fn unknown_job_kind_in_per_kind_attempts_is_named() {
    let msg = error("[retry.max_attempts_per_kind]\nsync_everything = 3\n", &[]);
    assert!(msg.contains("`retry.max_attempts_per_kind.sync_everything`: unknown key"), "{msg}");
    assert!(msg.contains("`upsert_contact`"), "lists the known kinds: {msg}");
}

#[test]
fn wrong_types_are_named() {
    let file = "redis = \"redis://x\"\n[worker]\nconcurrency = \"ten\"\n[schedules.contacts]\nenabled = \"yes\"\n";
    let msg = error(file, &[]);
    assert!(msg.contains("`redis`: \"redis://x\" is not valid: expected a section, [redis]"), "{msg}");
    assert!(msg.contains("`worker.concurrency`: \"ten\" is not valid: expected a whole number"), "{msg}");
    assert!(msg.contains("`schedules.contacts.enabled`: \"yes\" is not valid: expected true or false"), "{msg}");
    assert!(msg.contains("3 problems"), "{msg}");
}

#[test]
fn bad_values_name_the_expected_form() {
    let file = r#"
[http]
bind = "8090"
[ringcentral]
webhook_address = "not a url"
[schedules.accounts]
cron = "every tuesday"
[schedules.contacts]
every = "soon"
[schedules.locations]
every = "5m"
cron = "0 * * * *"
[retry]
base = "10s"
cap = "1s"
[sync]
deleted_contact_action = "purge"
default_country = "usa"
[queue]
prefix = "a b"
"#;
    let msg = error(file, &[]);
    for expected in [
        "`http.bind`: \"8090\" is not valid: expected an address and port like \"127.0.0.1:8090\"",
        "`ringcentral.webhook_address`: \"not a url\" is not valid: expected an absolute URL",
        "`schedules.accounts.cron`: \"every tuesday\" is not valid: expected a cron expression",
        "`schedules.contacts.every`: \"soon\" is not valid: expected a duration like \"500ms\"",
        "`schedules.locations`: sets both `every` and `cron`",
        "`retry.cap`: 1s is below retry.base 10s: expected cap >= base",
        "`sync.deleted_contact_action`: \"purge\" is not valid: expected \"tag\" or \"delete\"",
        "`sync.default_country`: \"usa\" is not valid: expected a two-letter ISO 3166-1 country code",
        "`queue.prefix`: \"a b\" is not valid",
    ] {
        assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
    }
    assert!(msg.contains("9 problems"), "{msg}");
}

#[test]
fn bad_env_overrides_name_the_variable() {
    let msg = error(
        "",
        &[
            ("SNAPSYNC__WORKER__PREFETCH", "many"),
            ("SNAPSYNC__REDIS__URLL", "redis://x"),
            ("SNAPSYNC__REDIS__URL__HOST", "x"),
            ("SNAPSYNC____URL", "x"),
            ("SNAPSYNC__RETRY__BASE", "0ms"),
        ],
    );
    for expected in [
        "`worker.prefetch` (from SNAPSYNC__WORKER__PREFETCH): \"many\" is not valid: expected a whole number",
        "`redis.urll` (from SNAPSYNC__REDIS__URLL): unknown key in [redis]: expected one of `url`",
        "SNAPSYNC____URL is not a valid override name: expected SNAPSYNC__SECTION__KEY",
        "`retry.base` (from SNAPSYNC__RETRY__BASE): 0ns is out of range: expected between 1ms and 3600s",
    ] {
        assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
    }
    // `redis.url` became a section holding `host`: reported once, naming the variable.
    assert!(
        msg.contains("`redis.url` (from SNAPSYNC__REDIS__URL__HOST): a section is not valid: expected a string"),
        "{msg}"
    );
    assert!(msg.contains("5 problems"), "{msg}");
}

#[test]
fn override_below_a_value_in_the_file_names_the_variable() {
    let msg = error("[redis]\nurl = \"redis://127.0.0.1:1\"\n", &[("SNAPSYNC__REDIS__URL__HOST", "x")]);
    assert!(
        msg.contains(
            "`redis.url.host` (from SNAPSYNC__REDIS__URL__HOST): cannot be set: `redis.url` is a single value"
        ),
        "{msg}"
    );
}

#[test]
fn malformed_toml_gives_line_and_column() {
    let msg = error("[worker]\nconcurrency = 4\nlease = \"15s\n", &[]);
    assert!(msg.contains("is not valid TOML at line 3"), "{msg}");
}

#[test]
fn malformed_toml_still_checks_the_environment() {
    let msg = error("[worker\n", &[("SNAPSYNC__WORKER__CONCURRENCY", "x")]);
    assert!(msg.contains("is not valid TOML at line 1"), "{msg}");
    assert!(msg.contains("(from SNAPSYNC__WORKER__CONCURRENCY)"), "{msg}");
}

#[test]
fn the_default_admin_token_is_refused_off_loopback() {
    let msg = error("[admin]\nbind = \"0.0.0.0:8091\"\n", &[]);
    assert!(msg.contains("`admin.token`: [redacted] is not valid: expected a token of your own"), "{msg}");
    let own = "[admin]\nbind = \"0.0.0.0:8091\"\ntoken = \"a-long-enough-token-of-our-own\"\n";
    Config::from_toml_str(own, env(&[])).expect("an own token off loopback is fine");
}

#[test]
fn validate_reports_problems_of_a_config_built_in_code() {
    let mut config = Config::default();
    config.worker.concurrency = 0;
    config.retry.max_attempts = 0;
    let err = config.validate().expect_err("two problems");
    let keys: Vec<_> = err.problems().iter().filter_map(|p| p.key.clone()).collect();
    assert_eq!(keys, ["retry.max_attempts", "worker.concurrency"]);
}

#[test]
fn webhook_receiver_and_admin_api_need_different_addresses() {
    let msg = error("[http]\nbind = \"127.0.0.1:9000\"\n[admin]\nbind = \"127.0.0.1:9000\"\n", &[]);
    assert!(
        msg.contains("`admin.bind`: \"127.0.0.1:9000\" is not valid: expected an address other than `http.bind`'s"),
        "{msg}"
    );
}

#[test]
fn prefetch_out_of_range_is_refused_naming_the_key() {
    let msg = error("", &[("SNAPSYNC__WORKER__PREFETCH", "0")]);
    assert!(
        msg.contains(
            "`worker.prefetch` (from SNAPSYNC__WORKER__PREFETCH): 0 is out of range: expected between 1 and 10000"
        ),
        "{msg}"
    );
    let msg = error("[worker]\nprefetch = 20000\n", &[]);
    assert!(msg.contains("`worker.prefetch`: 20000 is out of range: expected between 1 and 10000"), "{msg}");
    assert!(msg.contains("1 problem:"), "{msg}");
    // The largest prefetch the queue engine takes is accepted.
    let max = format!("[worker]\nprefetch = {}\n", snapsync_queue::config::MAX_PREFETCH);
    assert_eq!(Config::from_toml_str(&max, env(&[])).expect("the maximum loads").worker.prefetch, 10_000);
}

#[test]
fn a_config_changed_in_code_is_checked_like_a_loaded_one() {
    // What the worker does with `--prefetch 20000` before it connects.
    let mut config = Config::default();
    config.worker.prefetch = 20_000;
    let err = config.validate().expect_err("prefetch too large");
    let keys: Vec<_> = err.problems().iter().filter_map(|p| p.key.as_deref()).collect();
    assert_eq!(keys, ["worker.prefetch"], "{err}");
}

#[test]
fn every_queue_and_worker_range_is_named_at_once() {
    let file = r#"
[retry]
max_attempts = 5000
max_snoozed = "1ms"
[retry.max_attempts_per_kind]
tag_call = 0
[worker]
concurrency = 20000
threads = 0
lease = "5ms"
shutdown_deadline = "2h"
[queue]
name = ""
dead_keep_age = "0s"
done_keep_count = 0
unique_ttl = "500ms"
"#;
    let err = Config::from_toml_str(file, env(&[])).expect_err("eleven problems");
    let msg = err.to_string();
    for expected in [
        "`retry.max_attempts`: 5000 is out of range: expected between 1 and 1000",
        "`retry.max_snoozed`: 1ms is out of range: expected between 100ms and 2592000s",
        "`retry.max_attempts_per_kind.tag_call`: 0 is out of range: expected between 1 and 1000",
        "`worker.concurrency`: 20000 is out of range: expected between 1 and 10000",
        "`worker.threads`: 0 is out of range: expected between 1 and 256",
        "`worker.lease`: 5ms is out of range: expected between 100ms and 3600s",
        "`worker.shutdown_deadline`: 7200s is out of range: expected between 1ms and 3600s",
        "`queue.name`: \"\" is not valid",
        "`queue.dead_keep_age`: 0ns is out of range",
        "`queue.done_keep_count`: 0 is out of range: expected between 1 and 10000000",
        "`queue.unique_ttl`: 500ms is out of range: expected between 1s and",
    ] {
        assert!(msg.contains(expected), "missing {expected:?} in:\n{msg}");
    }
    assert_eq!(err.problems().len(), 11, "each problem once: {msg}");
}

#[test]
fn a_queue_range_set_through_the_environment_names_the_variable() {
    let msg = error("", &[("SNAPSYNC__QUEUE__DEAD_KEEP_AGE", "20000d")]);
    assert!(
        msg.contains("`queue.dead_keep_age` (from SNAPSYNC__QUEUE__DEAD_KEEP_AGE): 1728000000s is out of range"),
        "{msg}"
    );
}

#[test]
fn a_bad_cluster_url_is_refused_naming_redis_url() {
    for (url, expected) in [
        ("redis+cluster://10.0.0.1:7000,,10.0.0.2:7001", "expected host:port entries separated by commas"),
        ("redis://:one@10.0.0.1:7000,redis://:two@10.0.0.2:7001", "expected every cluster node with the same password"),
        ("redis://10.0.0.1:7000,redis://", "expected a Redis URL like"),
        ("redis+unix:///run/redis.sock,redis://10.0.0.2:7001", "a Redis Cluster is not reached over a unix socket"),
    ] {
        let msg = error(&format!("[redis]\nurl = \"{url}\"\n"), &[]);
        assert!(msg.contains("`redis.url`: \""), "{url}: {msg}");
        assert!(msg.contains(expected), "{url}: missing {expected:?} in {msg}");
        assert!(msg.contains("1 problem:"), "{msg}");
    }
}

#[test]
fn a_bad_worker_metrics_bind_is_named() {
    let err = Config::from_toml_str("[worker]\nmetrics_bind = \"localhost\"\n", env(&[])).expect_err("refused");
    let msg = err.to_string();
    assert!(msg.contains("`worker.metrics_bind`"), "{msg}");
    assert!(msg.contains("an address and port"), "{msg}");
}

#[test]
fn the_login_flow_is_checked_per_mode() {
    // Authorization code: no JWT and (a public app) no client secret needed.
    let ok = Config::from_toml_str(
        "[ringcentral]\nauth = \"authorization_code\"\njwt = \"\"\nclient_secret = \"\"\nredirect_uri = \"http://127.0.0.1:5123/cb\"\n",
        env(&[]),
    )
    .expect("authorization_code without a JWT loads");
    assert_eq!(ok.ringcentral.auth, snapsync::ringcentral::AuthFlow::AuthorizationCode);
    assert_eq!(ok.ringcentral.redirect_uri.as_str(), "http://127.0.0.1:5123/cb");
    assert!(ok.redacted_toml().contains("auth = \"authorization_code\""), "{}", ok.redacted_toml());
    // JWT (the default): the JWT and the secret are needed.
    let msg = error("[ringcentral]\njwt = \"\"\n", &[]);
    assert!(msg.contains("`ringcentral.jwt`: \"\" is not valid: expected a JWT credential"), "{msg}");
    let msg = error("[ringcentral]\nauth = \"password\"\n", &[]);
    assert!(
        msg.contains("`ringcentral.auth`: \"password\" is not valid: expected \"jwt\" or \"authorization_code\""),
        "{msg}"
    );
    // The callback listener runs on this machine: http on a loopback host only.
    for uri in ["https://localhost:5000/cb", "http://example.com:5000/cb", "http://127.0.0.1:5000/cb?x=1"] {
        let text = format!("[ringcentral]\nauth = \"authorization_code\"\nredirect_uri = \"{uri}\"\n");
        let msg = error(&text, &[]);
        assert!(
            msg.contains("`ringcentral.redirect_uri`") && msg.contains("on localhost, 127.0.0.1 or [::1]"),
            "{msg}"
        );
    }
    let msg = error("", &[("SNAPSYNC__RINGCENTRAL__AUTH", "saml")]);
    assert!(msg.contains("SNAPSYNC__RINGCENTRAL__AUTH"), "{msg}");
}

#[test]
fn the_mode_and_the_test_target_are_read_and_bad_values_named() {
    use snapsync::config::Mode;
    let c = Config::from_toml_str(
        "[sync]\nmode = \"test\"\n[test]\nsnapshots_url = \"https://staging.example.com\"\n",
        env(&[]),
    )
    .expect("loads");
    assert_eq!(c.sync.mode, Mode::Test);
    assert_eq!(c.test.snapshots_url.as_str(), "https://staging.example.com/");
    assert_eq!(Config::default().sync.mode, Mode::Live, "live by default: existing deployments keep writing");
    let c = Config::from_toml_str("", env(&[("SNAPSYNC__SYNC__MODE", "test")])).expect("env loads");
    assert_eq!(c.sync.mode, Mode::Test);

    let err = Config::from_toml_str(
        "[sync]\nmode = \"staging\"\n[test]\nsnapshots_url = \"ftp://x\"\nsnapshots_api_key = \"\"\n",
        env(&[]),
    )
    .expect_err("refused");
    let msg = err.to_string();
    assert!(msg.contains("`sync.mode`") && msg.contains("\"test\" or \"live\""), "{msg}");
    assert!(msg.contains("`test.snapshots_url`"), "{msg}");
    assert!(msg.contains("`test.snapshots_api_key`"), "{msg}");
    // The test key is a secret: shown redacted.
    let shown = Config::default().redacted_toml();
    assert!(shown.contains("[test]") && !shown.contains("sandbox-snapshots-key"), "{shown}");
    assert!(!format!("{:?}", Config::default()).contains("sandbox-snapshots-key"));
}

#[test]
fn problems_of_values_in_a_file_name_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("snapsync.toml");
    std::fs::write(&path, "[worker]\nconcurrency = 0\n[rate_limits.snapshots]\nrequests = \"lots\"\n").expect("write");
    // `Config::load` reads the process environment; no test sets SNAPSYNC__ variables in it.
    let err = Config::load(Some(&path)).expect_err("two problems");
    let msg = err.to_string();
    assert!(msg.starts_with("invalid configuration, 2 problems:"), "{msg}");
    let file = path.display();
    assert!(
        msg.contains(&format!("`worker.concurrency` (from {file}): 0 is out of range: expected between 1 and 10000")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "`rate_limits.snapshots.requests` (from {file}): \"lots\" is not valid: expected a whole number"
        )),
        "{msg}"
    );
    // A problem of a default the file did not set names no file: here the default admin
    // token, refused once the file binds the admin API off loopback.
    std::fs::write(&path, "[admin]\nbind = \"0.0.0.0:8091\"\n").expect("write");
    let msg = Config::load(Some(&path)).expect_err("default token off loopback").to_string();
    assert!(msg.contains("`admin.token`: [redacted] is not valid: expected a token of your own"), "{msg}");
}

#[test]
fn a_key_s_own_check_also_applies_to_a_config_built_in_code() {
    // The budget's check lives on its field (`form::positive`), not in a list of checks.
    let mut config = Config::default();
    config.rate_limits.snapshots.requests = 0;
    config.schedules.contacts.schedule = snapsync::config::Schedule::Every(std::time::Duration::from_millis(10));
    let err = config.validate().expect_err("two problems");
    let msg = err.to_string();
    assert!(msg.contains("`rate_limits.snapshots.requests`: 0 is not valid: expected at least 1"), "{msg}");
    assert!(
        msg.contains("`schedules.contacts.every`: \"10ms\" is not valid: expected a duration of at least 1s"),
        "{msg}"
    );
    assert_eq!(err.problems().len(), 2, "{msg}");
}

#[test]
fn a_loaded_config_with_redis_passwords_validates_again() {
    // `validate` re-reads what the config writes out, where secrets are redacted: the Redis
    // URL's real value must be what it checks, for one server and for a cluster.
    for url in ["redis://snap:s3cret-pw@10.1.2.3:6390/1", "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001"] {
        let config = Config::from_toml_str(&format!("[redis]\nurl = \"{url}\"\n"), env(&[])).expect("loads");
        config.validate().unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

#[test]
fn numbers_and_booleans_from_the_environment_are_read_from_their_text() {
    let config = Config::from_toml_str(
        "",
        env(&[
            ("SNAPSYNC__WORKER__CONCURRENCY", "7"),
            ("SNAPSYNC__SCHEDULES__CALLS__ENABLED", "false"),
            ("SNAPSYNC__RETRY__MAX_ATTEMPTS_PER_KIND__TAG_CALL", "4"),
        ]),
    )
    .expect("loads");
    assert_eq!(config.worker.concurrency, 7);
    assert!(!config.schedules.calls.enabled);
    assert_eq!(config.retry.max_attempts_per_kind[&snapsync::jobs::JobKind::TagCall], 4);
}
