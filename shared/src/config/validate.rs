//! Checks across a typed [`Config`]: one value against another, and secrets' values. Each
//! problem names the key, the value (`[redacted]` for secrets) and the expected form. The
//! ranges of the queue engine's settings are its own (`QueueConfig::validate`), not
//! repeated here; every other key's own check is on its field (`sections`, `form`).

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::error::Problem;
use super::form::REDACTED;
use super::sections::{AuthFlow, DEFAULT_ADMIN_TOKEN};
use super::Config;

/// The checks that look at more than one key, or at a secret's value (which the round trip
/// of [`Config::validate`] does not carry): each key's own form and range is its field's
/// (`sections`, `form`).
pub(crate) fn across(c: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
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
    match c.ringcentral.auth {
        AuthFlow::Jwt => {
            non_empty(&mut p, "ringcentral.client_secret", &c.ringcentral.client_secret, "the app's client secret");
            non_empty(&mut p, "ringcentral.jwt", &c.ringcentral.jwt, "a JWT credential from the developer console");
        }
        // No JWT needed, and a public (PKCE) app has no secret: an empty one is allowed.
        AuthFlow::AuthorizationCode => loopback_redirect(&mut p, &c.ringcentral.redirect_uri),
    }
    let token_len = c.ringcentral.verification_token.expose_secret().chars().count();
    if token_len == 0 || token_len > 64 {
        p.push(Problem::invalid("ringcentral.verification_token", REDACTED, "1 to 64 characters"));
    }
    non_empty(&mut p, "snapshots.api_key", &c.snapshots.api_key, "the Snapshots API key");
    non_empty(&mut p, "test.snapshots_api_key", &c.test.snapshots_api_key, "the test Snapshots' API key");
    queue_ranges(&mut p, c);
    p
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
