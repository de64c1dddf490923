//! `snapsync config check|show` as a process: the exit status, every problem on stderr in
//! one go, nothing started, and secrets redacted in what is printed.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_snapsync");

/// Runs `snapsync args...` with no inherited SNAPSYNC variables plus `vars`.
fn snapsync(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("SNAPSYNC") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(vars.iter().copied());
    cmd.output().expect("run the snapsync binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write config file");
    path.to_string_lossy().into_owned()
}

#[test]
fn check_of_a_bad_file_fails_and_lists_all_three_problems() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = write(
        dir.path(),
        "bad.toml",
        "[redis]\nurl = \"localhost:6379\"\n[ringcentral]\nserver_url = \"ftp://x.example\"\n\
         jwt = \"jwt-secret-4e1b0\"\n[worker]\nconcurrency = 0\n",
    );
    let out = snapsync(&["config", "check", "--config", &bad], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "exit status {:?}", out.status);
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG");
    assert!(stderr.contains("3 problems"), "{stderr}");
    assert!(
        stderr.contains(&format!("`worker.concurrency` (from {bad}): 0 is out of range")),
        "names the file: {stderr}"
    );
    for key in ["`redis.url`", "`ringcentral.server_url`", "`worker.concurrency`"] {
        assert!(stderr.contains(key), "missing {key} in:\n{stderr}");
    }
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    let all = format!("{stdout}{stderr}").to_lowercase();
    for started in ["listening", "started", "connected", "serving"] {
        assert!(!all.contains(started), "printed {started:?}: {all}");
    }
    assert!(!all.contains("jwt-secret-4e1b0"), "{all}");
}

#[test]
fn check_of_a_good_file_succeeds_and_env_is_applied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = write(dir.path(), "good.toml", "[worker]\nconcurrency = 2\n");
    let out = snapsync(&["config", "check", "--config", &good], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("configuration ok"), "{}", text(&out.stdout));

    // A bad override fails the same file, naming the variable.
    let out = snapsync(&["config", "check", "--config", &good], &[("SNAPSYNC__WORKER__CONCURRENCY", "two")]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("(from SNAPSYNC__WORKER__CONCURRENCY)"), "{}", text(&out.stderr));
}

#[test]
fn check_without_a_file_uses_the_defaults_and_the_file_may_come_from_snapsync_config() {
    let out = snapsync(&["config", "check"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let dir = tempfile::tempdir().expect("temp dir");
    let bad = write(dir.path(), "bad.toml", "[worker]\nconcurency = 2\n");
    let out = snapsync(&["config", "check"], &[("SNAPSYNC_CONFIG", &bad)]);
    assert!(!out.status.success());
    let named = format!("`worker.concurency` (from {bad}): unknown key");
    assert!(text(&out.stderr).contains(&named), "{}", text(&out.stderr));
}

#[test]
fn check_of_a_missing_file_names_it() {
    let out = snapsync(&["config", "check", "--config", "/nonexistent/snapsync.toml"], &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("/nonexistent/snapsync.toml"), "{}", text(&out.stderr));
}

#[test]
fn show_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "snapsync.toml",
        "[ringcentral]\nclient_secret = \"cs-secret-88a1\"\njwt = \"jwt-secret-0b7c\"\n[snapshots]\napi_key = \"key-secret-19fe\"\n",
    );
    let out = snapsync(
        &["config", "show", "--config", &file],
        &[
            ("SNAPSYNC__REDIS__URL", "redis://:pw-secret-6d2e@10.9.8.7:6390/0"),
            ("SNAPSYNC__ADMIN__TOKEN", "admin-secret-long-enough-4c"),
            ("SNAPSYNC__SCHEDULES__CONTACTS__EVERY", "5m"),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for secret in
        ["cs-secret-88a1", "jwt-secret-0b7c", "key-secret-19fe", "pw-secret-6d2e", "admin-secret-long-enough-4c"]
    {
        assert!(!stdout.contains(secret), "show leaks {secret}:\n{stdout}");
    }
    assert!(stdout.contains("url = \"redis://:[redacted]@10.9.8.7:6390/0\""), "{stdout}");
    assert!(stdout.contains("[schedules.contacts]\nenabled = true\nevery = \"5m\""), "{stdout}");
    assert!(stdout.contains("server_url = \"http://127.0.0.1:18080/\""), "{stdout}");
    // What `show` prints is itself a config file (with secrets still to fill in).
    let shown: toml::Table = stdout.parse().expect("show prints TOML");
    assert!(shown.contains_key("rate_limits"));
}

#[test]
fn show_of_a_cluster_url_hides_the_password_of_every_node() {
    for (url, shown) in [
        (
            "redis+cluster://snap:node-secret-3a7f@10.0.0.1:7000,10.0.0.2:7001",
            "redis+cluster://snap:[redacted]@10.0.0.1:7000,10.0.0.2:7001",
        ),
        (
            "redis://:node-secret-3a7f@10.0.0.1:7000,redis://:node-secret-3a7f@10.0.0.2:7001",
            "redis://:[redacted]@10.0.0.1:7000,redis://:[redacted]@10.0.0.2:7001",
        ),
    ] {
        let out = snapsync(&["config", "show"], &[("SNAPSYNC__REDIS__URL", url)]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{url}: {stderr}");
        assert!(!format!("{stdout}{stderr}").contains("node-secret-3a7f"), "show leaks a node password:\n{stdout}");
        assert!(stdout.contains(&format!("url = \"{shown}\"")), "{stdout}");
    }
}

#[test]
fn check_loads_the_mapping_and_routing_files_as_the_workers_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A mapping path that does not exist fails the check (it passed before), naming it.
    let missing = write(dir.path(), "missing.toml", "[mapping]\npath = \"/nonexistent/mapping.toml\"\n");
    let out = snapsync(&["config", "check", "--config", &missing], &[]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("mapping.path") && stderr.contains("/nonexistent/mapping.toml"), "{stderr}");

    // A routing file that does not parse, next to a good mapping: the routing one is named.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let rules = write(dir.path(), "rules.toml", "this is = not [ toml\n");
    let cfg = write(
        dir.path(),
        "cfg.toml",
        &format!(
            "[mapping]\npath = \"{}\"\n[routing]\npath = \"{rules}\"\n",
            root.join("mapping/default.toml").display()
        ),
    );
    let out = snapsync(&["config", "check", "--config", &cfg], &[]);
    assert_eq!(out.status.code(), Some(78), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("routing.path") && stderr.contains("rules.toml"), "{stderr}");
    assert!(!stderr.contains("mapping.path"), "{stderr}");

    // Both good: the check says which files it loaded.
    let good = write(
        dir.path(),
        "good.toml",
        &format!(
            "[mapping]\npath = \"{}\"\n[routing]\npath = \"{}\"\n",
            root.join("mapping/default.toml").display(),
            root.join("routing/default.toml").display()
        ),
    );
    let out = snapsync(&["config", "check", "--config", &good], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("mapping ok (") && stdout.contains("mapping/default.toml"), "{stdout}");
    assert!(stdout.contains("routing ok ("), "{stdout}");
}
