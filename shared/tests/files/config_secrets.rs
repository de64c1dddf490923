//! No secret value ever leaves a `Config`: not through `Debug`, not through the printed
//! effective config, not through any error message (bad value, wrong type, unknown key,
//! TOML syntax). The Redis URL loses only its password.

use secrecy::ExposeSecret;
use snapsync::config::Config;

const SECRETS: [&str; 6] = [
    "redis-pw-7f3a9",
    "admin-token-0c41d2e8b9",
    "client-secret-5be2a",
    "jwt-value-91ad7",
    "verify-token-33c0e",
    "api-key-d81f4",
];

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks {secret:?}:\n{text}");
    }
}

fn with_every_secret() -> Config {
    let file = format!(
        "[redis]\nurl = \"redis://snap:{}@10.1.2.3:6390/1\"\n[admin]\ntoken = \"{}\"\n\
         [ringcentral]\nclient_secret = \"{}\"\njwt = \"{}\"\nverification_token = \"{}\"\n\
         [snapshots]\napi_key = \"{}\"\n",
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3], SECRETS[4], SECRETS[5]
    );
    let config = Config::from_toml_str(&file, env(&[])).expect("secrets load");
    // The values really are there, so the checks below can fail.
    assert_eq!(config.ringcentral.jwt.expose_secret(), SECRETS[3]);
    assert!(config.redis.url.expose_secret().contains(SECRETS[0]));
    config
}

#[test]
fn debug_redacts_every_secret() {
    let debug = format!("{:?}", with_every_secret());
    assert_no_secret("Debug", &debug);
    // The six set above, and the test target's key (`test.snapshots_api_key`) at its default.
    assert_eq!(debug.matches("[redacted]").count(), 7, "{debug}");
    assert!(debug.contains("redis://snap:[redacted]@10.1.2.3:6390/1"), "only the password is hidden: {debug}");
    assert!(debug.contains("sandbox-client-id"), "non-secrets stay readable: {debug}");
}

#[test]
fn shown_config_redacts_every_secret_and_keeps_the_rest() {
    let shown = with_every_secret().redacted_toml();
    assert_no_secret("redacted_toml", &shown);
    assert!(shown.contains("url = \"redis://snap:[redacted]@10.1.2.3:6390/1\""), "{shown}");
    for key in ["token", "client_secret", "jwt", "verification_token", "api_key"] {
        assert!(shown.contains(&format!("{key} = \"[redacted]\"")), "{key} in:\n{shown}");
    }
    assert!(shown.contains("client_id = \"sandbox-client-id\""), "{shown}");
    assert!(shown.contains("[schedules.contacts]"), "{shown}");
}

#[test]
fn redis_url_without_password_is_shown_whole() {
    let config = Config::from_toml_str("[redis]\nurl = \"redis://10.0.0.1:6390/2\"\n", env(&[])).expect("loads");
    assert_eq!(config.redis.redacted_url(), "redis://10.0.0.1:6390/2");
}

#[test]
fn validation_errors_never_show_a_secret() {
    let long_token = format!("{}{}", SECRETS[4], "x".repeat(60));
    let file = format!(
        "[redis]\nurl = \"http://:{}@10.1.2.3:6390\"\n[admin]\ntoken = \"{}\"\n\
         [ringcentral]\nclient_secret = [\"{}\"]\njwt = {{ value = \"{}\" }}\nverification_token = \"{}\"\n\
         client_secrett = \"{}\"\n",
        SECRETS[0],
        &SECRETS[1][..12],
        SECRETS[2],
        SECRETS[3],
        long_token,
        SECRETS[5]
    );
    let err = Config::from_toml_str(&file, env(&[])).expect_err("every secret is bad");
    let msg = err.to_string();
    assert_no_secret("validation error", &msg);
    assert_no_secret("validation error Debug", &format!("{err:?}"));
    assert!(!msg.contains(&SECRETS[1][..12]), "short admin token leaked: {msg}");
    for key in [
        "`redis.url`: \"http://:[redacted]@10.1.2.3:6390",
        "`admin.token`: [redacted] is not valid: expected a token of at least 16 characters",
        "`ringcentral.client_secret`: [redacted] is not valid: expected a string",
        "`ringcentral.jwt`: a section is not valid: expected a string",
        "`ringcentral.verification_token`: [redacted] is not valid: expected 1 to 64 characters",
        "`ringcentral.client_secrett`: unknown key",
    ] {
        assert!(msg.contains(key), "missing {key:?} in:\n{msg}");
    }
}

#[test]
fn unparseable_redis_url_hides_what_precedes_the_at_sign() {
    let file = format!("[redis]\nurl = \"redis//:{}@cache:6379\"\n", SECRETS[0]);
    let msg = Config::from_toml_str(&file, env(&[])).expect_err("bad url").to_string();
    assert_no_secret("redis url error", &msg);
    assert!(msg.contains("`redis.url`: \"[redacted]@cache:6379\" is not valid"), "{msg}");
}

#[test]
fn secrets_from_the_environment_stay_hidden_too() {
    let config = Config::from_toml_str(
        "",
        env(&[("SNAPSYNC__SNAPSHOTS__API_KEY", SECRETS[5]), ("SNAPSYNC__ADMIN__TOKEN", &SECRETS[1][..10])]),
    );
    let err = config.expect_err("short admin token");
    assert!(err.to_string().contains("`admin.token` (from SNAPSYNC__ADMIN__TOKEN): [redacted]"), "{err}");
    assert_no_secret("env error", &err.to_string());
    assert!(!err.to_string().contains(&SECRETS[1][..10]), "{err}");
}

#[test]
fn toml_syntax_errors_do_not_quote_the_line() {
    let file = format!("[snapshots]\napi_key = \"{}\n", SECRETS[5]);
    let msg = Config::from_toml_str(&file, env(&[])).expect_err("unterminated string").to_string();
    assert!(msg.contains("is not valid TOML at line 2"), "{msg}");
    assert_no_secret("syntax error", &msg);
}

#[test]
fn no_password_of_a_cluster_node_is_shown() {
    let (one, two) = ("node-pw-one-4e1f", "node-pw-two-a09c");
    for (url, shown) in [
        (
            format!("redis+cluster://snap:{one}@10.0.0.1:7000,10.0.0.2:7001/0"),
            "redis+cluster://snap:[redacted]@10.0.0.1:7000,10.0.0.2:7001/0".to_owned(),
        ),
        (
            format!("redis://:{one}@10.0.0.1:7000,redis://:{one}@10.0.0.2:7001,redis://10.0.0.3:7002"),
            "redis://:[redacted]@10.0.0.1:7000,redis://:[redacted]@10.0.0.2:7001,redis://10.0.0.3:7002".to_owned(),
        ),
    ] {
        let config = Config::from_toml_str(&format!("[redis]\nurl = \"{url}\"\n"), env(&[])).expect("cluster loads");
        assert!(config.redis.url.expose_secret().contains(one), "the password is really there");
        let printed = config.redacted_toml();
        let debug = format!("{config:?}");
        for text in [&printed, &debug, &config.redis.redacted_url()] {
            assert!(!text.contains(one), "leaks the password:\n{text}");
        }
        assert!(printed.contains(&format!("url = \"{shown}\"")), "hosts stay readable:\n{printed}");
        assert!(debug.contains(&shown), "{debug}");
    }
    // Refused (two passwords): the message hides both.
    let url = format!("redis://:{one}@10.0.0.1:7000,redis://:{two}@10.0.0.2:7001");
    let err = Config::from_toml_str("", env(&[("SNAPSYNC__REDIS__URL", &url)])).expect_err("two passwords");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(one) && !text.contains(two), "leaks a password: {text}");
    }
    assert!(err.to_string().contains("redis://:[redacted]@10.0.0.1:7000,redis://:[redacted]@10.0.0.2:7001"), "{err}");
}
