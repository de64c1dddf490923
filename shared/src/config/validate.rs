//! Checks across a typed [`Config`]: ranges, URL schemes, one value against another. Each
//! problem names the key, the value (`[redacted]` for secrets) and the expected form.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::error::Problem;
use super::sections::{Schedule, DEFAULT_ADMIN_TOKEN};
use super::Config;

const REDACTED: &str = "[redacted]";

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
    non_empty(&mut p, "ringcentral.client_secret", &c.ringcentral.client_secret, "the app's client secret");
    non_empty(&mut p, "ringcentral.jwt", &c.ringcentral.jwt, "a JWT credential from the developer console");
    http_url(&mut p, "ringcentral.webhook_address", &c.ringcentral.webhook_address);
    let token_len = c.ringcentral.verification_token.expose_secret().chars().count();
    if token_len == 0 || token_len > 64 {
        p.push(Problem::invalid("ringcentral.verification_token", REDACTED, "1 to 64 characters"));
    }
    http_url(&mut p, "snapshots.base_url", &c.snapshots.base_url);
    non_empty(&mut p, "snapshots.api_key", &c.snapshots.api_key, "the Snapshots API key");

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

    at_least(&mut p, "retry.base", c.retry.base, Duration::from_millis(1), "1ms");
    if c.retry.cap < c.retry.base {
        let shown = format!("\"{}\"", humantime::format_duration(c.retry.cap));
        let expected = format!("at least `retry.base` ({})", humantime::format_duration(c.retry.base));
        p.push(Problem::invalid("retry.cap", &shown, &expected));
    }
    positive(&mut p, "retry.max_attempts", c.retry.max_attempts as u64);
    for kind in crate::jobs::JobKind::ALL {
        if let Some(&n) = c.retry.max_attempts_per_kind.get(&kind) {
            positive(&mut p, &format!("retry.max_attempts_per_kind.{}", kind.as_str()), n as u64);
        }
    }

    positive(&mut p, "worker.concurrency", c.worker.concurrency as u64);
    at_least(&mut p, "worker.lease", c.worker.lease, Duration::from_millis(100), "100ms");
    at_least(&mut p, "worker.shutdown_deadline", c.worker.shutdown_deadline, Duration::from_millis(1), "1ms");

    for (key, name) in [("queue.prefix", &c.queue.prefix), ("queue.name", &c.queue.name)] {
        if name.is_empty() || name.contains(['{', '}', ' ']) {
            p.push(Problem::invalid(key, &format!("{name:?}"), "a non-empty name without braces or spaces"));
        }
    }
    at_least(&mut p, "queue.unique_ttl", c.queue.unique_ttl, Duration::from_secs(1), "1s");
    positive(&mut p, "queue.dead_cap", c.queue.dead_cap);

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
    let text = url.expose_secret();
    let ok = Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "redis" | "rediss") && u.host().is_some());
    if !ok {
        let shown = format!("\"{}\"", redact_redis_url(text));
        p.push(Problem::invalid("redis.url", &shown, "a redis:// or rediss:// URL like \"redis://127.0.0.1:16379\""));
    }
}

/// The URL with its password (if any) replaced by `[redacted]`; user, host, port and
/// database stay readable. Text that is not a URL but holds `@` loses everything before it.
pub(crate) fn redact_redis_url(text: &str) -> String {
    if let Ok(url) = Url::parse(text) {
        if let Some(password) = url.password() {
            let serialized = url.as_str();
            let needle = format!(":{password}@");
            if let Some(at) = serialized.find(&needle) {
                return format!("{}:{REDACTED}@{}", &serialized[..at], &serialized[at + needle.len()..]);
            }
            return REDACTED.to_owned();
        }
        // An `@` that is not the user-info separator of a URL with a host (`user:pw@host`
        // parses as scheme `user`) may follow a password: fall through to the text rule.
        if url.host().is_some() || !text.contains('@') {
            return url.as_str().to_owned();
        }
    }
    match text.rfind('@') {
        Some(at) => format!("{REDACTED}{}", &text[at..]),
        None => text.to_owned(),
    }
}

fn http_url(p: &mut Vec<Problem>, key: &str, url: &Url) {
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        p.push(Problem::invalid(key, &format!("\"{url}\""), "an http:// or https:// URL"));
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

#[cfg(test)]
mod tests {
    use super::redact_redis_url;

    #[test]
    fn redis_url_loses_only_its_password() {
        assert_eq!(redact_redis_url("redis://user:pa55@host:6379/0"), "redis://user:[redacted]@host:6379/0");
        assert_eq!(redact_redis_url("rediss://:pa55@host"), "rediss://:[redacted]@host");
        assert_eq!(redact_redis_url("redis://host:6379"), "redis://host:6379");
        assert_eq!(redact_redis_url("redis://user@host"), "redis://user@host");
        // Not a URL: everything before the last `@` may be a password.
        assert_eq!(redact_redis_url("user:pa55@host:6379"), "[redacted]@host:6379");
        assert_eq!(redact_redis_url("localhost:6379"), "localhost:6379");
    }
}
