//! Loading: defaults, the file, environment overrides over the file, the shipped example
//! files, and the conversions other parts use.

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;
use snapsync::config::{Config, DeletedContactAction, Resource, Schedule};
use snapsync::jobs::JobKind;
use snapsync_queue::{horizon, QueueConfig};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn defaults_load_validate_and_point_at_the_sandbox() {
    let config = Config::from_toml_str("", env(&[])).expect("defaults are valid");
    config.validate().expect("defaults validate");
    assert_eq!(config.redis.url.expose_secret(), "redis://127.0.0.1:16379");
    assert_ne!(config.redis.redacted_url(), "redis://127.0.0.1:6379", "never the machine's shared Redis");
    assert_eq!(config.ringcentral.server_url.as_str(), "http://127.0.0.1:18080/");
    assert_eq!(config.snapshots.base_url.as_str(), "http://127.0.0.1:18081/");
    assert_eq!(config.schedules.contacts.schedule, Schedule::Every(Duration::from_secs(900)));
    assert!(Resource::ALL.iter().all(|r| config.schedules.get(*r).enabled));
    assert_eq!(config.sync.deleted_contact_action, DeletedContactAction::Tag);
    assert_eq!(config.sync.default_country, "US");
    // `Config::default()` and an empty file are the same configuration.
    assert_eq!(Config::default().redacted_toml(), config.redacted_toml());
}

#[test]
fn default_credentials_are_the_sandbox_ones() {
    let config = Config::default();
    let sandbox = snapsync_sandbox::Credentials::default();
    assert_eq!(config.ringcentral.client_id, sandbox.client_id);
    assert_eq!(config.ringcentral.client_secret.expose_secret(), sandbox.client_secret);
    assert_eq!(config.ringcentral.jwt.expose_secret(), sandbox.jwt);
    assert_eq!(config.snapshots.api_key.expose_secret(), sandbox.snapshots_api_key);
}

#[test]
fn load_without_a_file_gives_defaults() {
    // The process environment of `cargo test` sets no SNAPSYNC__ variables.
    let config = Config::load(None).expect("defaults load");
    assert_eq!(config.redacted_toml(), Config::default().redacted_toml());
}

#[test]
fn load_reads_the_file_and_a_missing_file_is_a_read_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("snapsync.toml");
    std::fs::write(&path, "[worker]\nconcurrency = 3\n").expect("write config");
    assert_eq!(Config::load(Some(&path)).expect("file loads").worker.concurrency, 3);

    let missing = dir.path().join("missing.toml");
    let err = Config::load(Some(&missing)).expect_err("a missing file is an error");
    assert!(matches!(err, snapsync::config::ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.toml"), "{err}");
}

#[test]
fn env_override_wins_over_the_file() {
    let file = "[redis]\nurl = \"redis://127.0.0.1:20000\"\n[worker]\nconcurrency = 2\n";
    let config = Config::from_toml_str(
        file,
        env(&[
            ("SNAPSYNC__REDIS__URL", "redis://10.0.0.5:6380/2"),
            ("SNAPSYNC__WORKER__CONCURRENCY", "7"),
            ("SNAPSYNC__SCHEDULES__CONTACTS__EVERY", "5m"),
            ("SNAPSYNC__SCHEDULES__ACCOUNTS__CRON", "*/10 * * * *"),
            ("SNAPSYNC__SCHEDULES__LOCATIONS__ENABLED", "false"),
            ("SNAPSYNC__RETRY__MAX_ATTEMPTS_PER_KIND__UPSERT_CONTACT", "9"),
            ("SNAPSYNC__SYNC__DELETED_CONTACT_ACTION", "delete"),
            ("SNAPSYNC__RINGCENTRAL__CLIENT_ID", "12345"),
            // Other variables are not ours and are ignored.
            ("SNAPSYNC_CONFIG", "elsewhere.toml"),
            ("PATH", "/usr/bin"),
        ]),
    )
    .expect("overrides load");
    assert_eq!(config.redis.url.expose_secret(), "redis://10.0.0.5:6380/2");
    assert_eq!(config.worker.concurrency, 7);
    assert_eq!(config.schedules.contacts.schedule, Schedule::Every(Duration::from_secs(300)));
    assert_eq!(config.schedules.accounts.schedule, Schedule::Cron("*/10 * * * *".into()));
    assert!(!config.schedules.locations.enabled);
    assert_eq!(config.retry.max_attempts_per_kind.get(&JobKind::UpsertContact), Some(&9));
    assert_eq!(config.sync.deleted_contact_action, DeletedContactAction::Delete);
    // A numeric-looking value stays a string where a string is expected.
    assert_eq!(config.ringcentral.client_id, "12345");
}

#[test]
fn env_can_switch_a_file_cron_to_every_by_clearing_cron() {
    let file = "[schedules.contacts]\ncron = \"0 * * * *\"\n";
    let config = Config::from_toml_str(
        file,
        env(&[("SNAPSYNC__SCHEDULES__CONTACTS__EVERY", "30s"), ("SNAPSYNC__SCHEDULES__CONTACTS__CRON", "")]),
    )
    .expect("cleared cron loads");
    assert_eq!(config.schedules.contacts.schedule, Schedule::Every(Duration::from_secs(30)));
}

#[test]
fn durations_accept_the_documented_forms() {
    let file = "[retry]\nbase = \"500ms\"\ncap = \"1h\"\n[worker]\nlease = \"30s\"\nshutdown_deadline = \"5m\"\n";
    let config = Config::from_toml_str(file, env(&[])).expect("durations load");
    assert_eq!(config.retry.base, Duration::from_millis(500));
    assert_eq!(config.retry.cap, Duration::from_secs(3600));
    assert_eq!(config.worker.lease, Duration::from_secs(30));
    assert_eq!(config.worker.shutdown_deadline, Duration::from_secs(300));
}

#[test]
fn queue_config_carries_queue_worker_and_retry_settings() {
    let file = "[queue]\nprefix = \"p\"\nname = \"n\"\ndone_keep_age = \"2h\"\ndone_keep_count = 7\n\
                dead_keep_age = \"3d\"\ndead_cap = 9\nunique_ttl = \"10m\"\n[worker]\nlease = \"20s\"\n\
                [retry]\nbase = \"3s\"\ncap = \"1m\"\nmax_attempts = 4\nmax_snoozed = \"20m\"\n\
                [retry.max_attempts_per_kind]\ntag_call = 2\n";
    let q = Config::from_toml_str(file, env(&[])).expect("loads").queue_config();
    assert_eq!((q.prefix.as_str(), q.queue.as_str()), ("p", "n"));
    assert_eq!(q.done_keep_age, Duration::from_secs(7200));
    assert_eq!(q.dead_keep_age, Duration::from_secs(3 * 24 * 3600));
    assert_eq!(q.max_snoozed, Duration::from_secs(20 * 60));
    assert_eq!((q.done_keep_count, q.dead_cap), (7, 9));
    assert_eq!(q.unique_ttl, Duration::from_secs(600));
    assert_eq!(q.lease, Duration::from_secs(20));
    assert_eq!((q.backoff_base, q.backoff_cap), (Duration::from_secs(3), Duration::from_secs(60)));
    assert_eq!(q.max_attempts_for("tag_call"), 2);
    assert_eq!(q.max_attempts_for("sync_contacts"), 4);
    assert_eq!(q.validate(), Ok(()));
}

#[test]
fn retry_and_retention_defaults_are_the_queue_engines() {
    let (c, q) = (Config::default(), QueueConfig::default());
    assert_eq!((c.retry.base, c.retry.cap), (q.backoff_base, q.backoff_cap));
    assert_eq!((c.retry.max_attempts, c.retry.max_snoozed), (q.default_max_attempts, q.max_snoozed));
    assert_eq!((c.queue.dead_keep_age, c.queue.dead_cap), (q.dead_keep_age, q.dead_cap));
    // What the example promises: 15 attempts, 2s doubling to 5m.
    assert_eq!(
        (c.retry.max_attempts, c.retry.base, c.retry.cap),
        (15, Duration::from_secs(2), Duration::from_secs(300))
    );
    assert_eq!(c.queue.dead_keep_age, Duration::from_secs(30 * 24 * 3600));
    assert_eq!(c.retry.max_snoozed, Duration::from_secs(3600));
    // An empty file and the defaults give the queue engine the same settings.
    let loaded = Config::from_toml_str("", env(&[])).expect("defaults load").queue_config();
    assert_eq!(format!("{loaded:?}"), format!("{q:?}"));
}

#[test]
fn example_retry_comment_states_the_defaults_horizon() {
    let c = Config::default();
    let (min, max) = horizon(c.retry.max_attempts, c.retry.base, c.retry.cap);
    let text = std::fs::read_to_string(repo_file("config/snapsync.example.toml")).expect("read example");
    let claim = format!("at least {} minutes of failures\n# (at most {})", min.as_secs() / 60, max.as_secs() / 60);
    assert!(text.contains(&claim), "the [retry] comment should say {claim:?}");
    // Each attempt past the doubling adds between half the cap and the whole cap.
    let (min_more, max_more) = horizon(c.retry.max_attempts + 1, c.retry.base, c.retry.cap);
    assert_eq!((min_more - min, max_more - max), (c.retry.cap / 2, c.retry.cap));
    assert!(text.contains("each extra attempt adds 2.5 to 5 minutes"), "cap {:?}", c.retry.cap);
}

#[test]
fn cluster_urls_load() {
    for url in [
        "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002",
        "redis+cluster://10.0.0.1:7000",
        "redis://:pw@10.0.0.1:7000,redis://10.0.0.2:7001",
        "redis://:pw@10.0.0.1:7000,redis://:pw@10.0.0.2:7001",
    ] {
        let config = Config::from_toml_str("", env(&[("SNAPSYNC__REDIS__URL", url)]))
            .unwrap_or_else(|e| panic!("{url} should load: {e}"));
        assert_eq!(config.redis.url.expose_secret(), url);
    }
}

#[test]
fn example_file_holds_every_key_with_its_default() {
    let path = repo_file("config/snapsync.example.toml");
    let config = Config::load(Some(&path)).expect("the example loads");
    assert_eq!(config.redacted_toml(), Config::default().redacted_toml(), "example values are the defaults");

    let text = std::fs::read_to_string(&path).expect("read example");
    let example: toml::Table = text.parse().expect("example is TOML");
    let shown: toml::Table = Config::default().redacted_toml().parse().expect("show output is TOML");
    assert_eq!(leaf_keys(&example, ""), leaf_keys(&shown, ""), "the example lists every key");
}

#[test]
fn sandbox_file_loads() {
    let config = Config::load(Some(&repo_file("config/sandbox.toml"))).expect("the sandbox config loads");
    assert_eq!(config.ringcentral.server_url.as_str(), "http://127.0.0.1:18080/");
    assert_eq!(config.redis.url.expose_secret(), "redis://127.0.0.1:16379");
}

fn leaf_keys(table: &toml::Table, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for (name, value) in table {
        let key = format!("{prefix}{name}");
        match value {
            toml::Value::Table(inner) if !inner.is_empty() => keys.extend(leaf_keys(inner, &format!("{key}."))),
            _ => keys.push(key),
        }
    }
    keys.sort();
    keys
}

#[test]
fn worker_metrics_bind_is_off_by_default_set_by_file_or_env_and_shown() {
    assert_eq!(Config::default().worker.metrics_bind, None);
    assert!(Config::default().redacted_toml().contains("metrics_bind = \"\""));
    let file = "[worker]\nmetrics_bind = \"127.0.0.1:0\"\n";
    let config = Config::from_toml_str(file, env(&[])).expect("loads");
    assert_eq!(config.worker.metrics_bind, Some("127.0.0.1:0".parse().unwrap()));
    // What `config show` prints loads back to the same address.
    let shown = config.redacted_toml();
    assert!(shown.contains("metrics_bind = \"127.0.0.1:0\""), "{shown}");
    let env_set = Config::from_toml_str("", env(&[("SNAPSYNC__WORKER__METRICS_BIND", "0.0.0.0:9464")])).expect("loads");
    assert_eq!(env_set.worker.metrics_bind, Some("0.0.0.0:9464".parse().unwrap()));
    // An empty value switches a file's listener off.
    let cleared = Config::from_toml_str(file, env(&[("SNAPSYNC__WORKER__METRICS_BIND", "")])).expect("loads");
    assert_eq!(cleared.worker.metrics_bind, None);
}
