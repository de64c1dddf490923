//! Checks across a typed [`Config`]: ranges, URL schemes, one value against another. Each
//! problem names the key, the value (`[redacted]` for secrets) and the expected form. The
//! ranges of the queue engine's settings are its own (`QueueConfig::validate`), not
//! repeated here.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use snapsync_queue::config::MAX_PREFETCH;
use url::Url;

use super::error::Problem;
use super::redis_url;
use super::sections::{AuthFlow, Schedule, DEFAULT_ADMIN_TOKEN};
use super::Config;

const REDACTED: &str = "[redacted]";

/// Most jobs one worker process runs at once. Each slot is a task holding a lease renewed
/// by heartbeats; past this a deployment wants more processes, and a bigger number is more
/// likely a typo than a plan.
pub(crate) const MAX_CONCURRENCY: usize = 10_000;
/// Most runtime threads a worker process may ask for (`worker.threads`).
pub(crate) const MAX_THREADS: usize = 256;

const HOUR: Duration = Duration::from_secs(3600);

pub(crate) fn problems(c: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    redis_url(&mut p, &c.redis.url);
    if c.http.bind == c.admin.bind && c.http.bind.port() != 0 {
        let shown = format!("\"{}\"", c.admin.bind);
        p.push(Problem::invalid("admin.bind", &shown, "an address other than `http.bind`'s"));
    }
    let admin_token = c.admin.token.expose_secret();
    if admin_token.chars().count() < 16 {
        p.push(Problem::invalid("admin.token", REDACTED, "a token of at least 16 characters"));
    } else if admin_token == DEFAULT_ADMIN_TOKEN && !c.admin.bind.ip().is_loopback() {
        p.push(Problem::invalid(
            "admin.token",
            REDACTED,
            "a token of your own: the built-in one only serves an admin API bound to loopback",
        ));
    }
    http_url(&mut p, "ringcentral.server_url", &c.ringcentral.server_url);
    if c.ringcentral.client_id.trim().is_empty() {
        p.push(Problem::invalid("ringcentral.client_id", "\"\"", "the app's client id"));
    }
    match c.ringcentral.auth {
        AuthFlow::Jwt => {
            non_empty(&mut p, "ringcentral.client_secret", &c.ringcentral.client_secret, "the app's client secret");
            non_empty(&mut p, "ringcentral.jwt", &c.ringcentral.jwt, "a JWT credential from the developer console");
        }
        // No JWT needed, and a public (PKCE) app has no secret: an empty one is allowed.
        AuthFlow::AuthorizationCode => loopback_redirect(&mut p, &c.ringcentral.redirect_uri),
    }
    http_url(&mut p, "ringcentral.webhook_address", &c.ringcentral.webhook_address);
    let token_len = c.ringcentral.verification_token.expose_secret().chars().count();
    if token_len == 0 || token_len > 64 {
        p.push(Problem::invalid("ringcentral.verification_token", REDACTED, "1 to 64 characters"));
    }
    http_url(&mut p, "snapshots.base_url", &c.snapshots.base_url);
    non_empty(&mut p, "snapshots.api_key", &c.snapshots.api_key, "the Snapshots API key");
    http_url(&mut p, "test.snapshots_url", &c.test.snapshots_url);
    non_empty(&mut p, "test.snapshots_api_key", &c.test.snapshots_api_key, "the test Snapshots' API key");

    for resource in super::Resource::ALL {
        if let Schedule::Every(every) = c.schedules.get(resource).schedule {
            let key = format!("schedules.{}.every", resource.as_str());
            at_least(&mut p, &key, every, Duration::from_secs(1), "1s");
        }
    }
    let rc = &c.rate_limits.ringcentral;
    for (group, n) in [("light", rc.light), ("medium", rc.medium), ("heavy", rc.heavy), ("auth", rc.auth)] {
        positive(&mut p, &format!("rate_limits.ringcentral.{group}"), n as u64);
    }
    at_least(&mut p, "rate_limits.ringcentral.window", rc.window, Duration::from_secs(1), "1s");
    positive(&mut p, "rate_limits.snapshots.requests", c.rate_limits.snapshots.requests as u64);
    at_least(&mut p, "rate_limits.snapshots.window", c.rate_limits.snapshots.window, Duration::from_secs(1), "1s");
    for (key, wait) in [
        ("rate_limits.max_wait", c.rate_limits.max_wait),
        ("rate_limits.urgent_max_wait", c.rate_limits.urgent_max_wait),
    ] {
        if wait > Duration::from_secs(60) {
            let shown = format!("\"{}\"", humantime::format_duration(wait));
            p.push(Problem::invalid(key, &shown, "a duration of at most 60s (a longer wait snoozes the job)"));
        }
    }
    in_range(&mut p, "rate_limits.urgent_reserve_percent", c.rate_limits.urgent_reserve_percent, 0, 50);

    queue_ranges(&mut p, c);
    in_range(&mut p, "worker.concurrency", c.worker.concurrency, 1, MAX_CONCURRENCY);
    // The queue engine silently caps a larger prefetch at MAX_PREFETCH; refused here, at
    // startup, naming the key.
    in_range(&mut p, "worker.prefetch", c.worker.prefetch, 1, MAX_PREFETCH);
    in_range(&mut p, "worker.threads", c.worker.threads, 1, MAX_THREADS);
    in_range(&mut p, "worker.shutdown_deadline", c.worker.shutdown_deadline, Duration::from_millis(1), HOUR);

    for (key, path) in [("mapping.path", &c.mapping.path), ("routing.path", &c.routing.path)] {
        if path.as_os_str().is_empty() {
            p.push(Problem::invalid(key, "\"\"", "a file path"));
        }
    }
    let country = &c.sync.default_country;
    if country.len() != 2 || !country.chars().all(|ch| ch.is_ascii_uppercase()) {
        p.push(Problem::invalid(
            "sync.default_country",
            &format!("{country:?}"),
            "a two-letter ISO 3166-1 country code in upper case, like \"US\"",
        ));
    }
    p
}

fn redis_url(p: &mut Vec<Problem>, url: &SecretString) {
    if let Err(expected) = redis_url::check(url.expose_secret()) {
        let shown = format!("\"{}\"", redis_url::redact(url.expose_secret()));
        p.push(Problem::invalid("redis.url", &shown, &expected));
    }
}

/// The queue engine's own checks (`queue.*`, `retry.*`, `worker.lease`), so its ranges have
/// one source. Each of its lines starts with the TOML key (`retry.base: 0ns is out of range:
/// ...`) and becomes a problem for that key, so the key's origin (an environment variable)
/// is added as for any other.
fn queue_ranges(p: &mut Vec<Problem>, c: &Config) {
    let Err(lines) = c.queue_config().validate() else { return };
    for line in lines {
        let problem = match line.split_once(": ") {
            Some((key, message)) if !key.is_empty() && !key.contains(' ') => Problem::keyed(key, message.to_owned()),
            // Not the documented form: kept whole rather than given a wrong key.
            _ => Problem { key: None, origin: None, message: line },
        };
        p.push(problem);
    }
}

/// `key: value is out of range: expected between lo and hi`, the queue engine's wording.
fn in_range<T: PartialOrd + fmt::Debug>(p: &mut Vec<Problem>, key: &str, value: T, lo: T, hi: T) {
    if value < lo || value > hi {
        p.push(Problem::keyed(key, format!("{value:?} is out of range: expected between {lo:?} and {hi:?}")));
    }
}

fn http_url(p: &mut Vec<Problem>, key: &str, url: &Url) {
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        p.push(Problem::invalid(key, &format!("\"{url}\""), "an http:// or https:// URL"));
    }
}

/// `snapsync login` listens on the redirect URI itself: an http:// URL on a loopback host
/// (RingCentral allows plain http only for localhost) with no query or fragment.
fn loopback_redirect(p: &mut Vec<Problem>, url: &Url) {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() != "http" || !loopback || url.query().is_some() || url.fragment().is_some() {
        p.push(Problem::invalid(
            "ringcentral.redirect_uri",
            &format!("\"{url}\""),
            "an http:// URL on localhost, 127.0.0.1 or [::1], registered for the app, like \"http://localhost:5000/oauth2callback\"",
        ));
    }
}

fn non_empty(p: &mut Vec<Problem>, key: &str, secret: &SecretString, expected: &str) {
    if secret.expose_secret().trim().is_empty() {
        p.push(Problem::invalid(key, "\"\"", expected));
    }
}

fn positive(p: &mut Vec<Problem>, key: &str, n: u64) {
    if n == 0 {
        p.push(Problem::invalid(key, "0", "at least 1"));
    }
}

fn at_least(p: &mut Vec<Problem>, key: &str, value: Duration, min: Duration, min_text: &str) {
    if value < min {
        let shown = format!("\"{}\"", humantime::format_duration(value));
        p.push(Problem::invalid(key, &shown, &format!("a duration of at least {min_text}")));
    }
}
