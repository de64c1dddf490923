//! How each kind of configuration value is written, read and checked: the serde functions
//! the section structs name on their fields (`#[serde(deserialize_with = "form::count_in::<_, 1, 50>")]`),
//! so a key's form and its check sit on the field itself.
//!
//! Every reader takes the value as a [`toml::Value`] first and builds the whole message on a
//! bad one, `<value> is not valid: expected <form>` or `<value> is out of range: expected
//! between <lo> and <hi>`, with a secret's value shown as `[redacted]`. The loader adds the
//! key (serde tells it the path) and where the value came from.
//!
//! Values from `SNAPSYNC__…` variables are strings, so numbers and booleans are also
//! accepted written as strings (`"8"`, `"true"`), in the file too.
//!
//! Why our own functions rather than serde's defaults or `humantime-serde`: the messages.
//! serde's `invalid type: string "ten", expected u32` names neither the form an operator
//! should write nor hides a secret.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use toml::Value;
use url::Url;

use super::redis_url;

pub(crate) const DURATION_FORM: &str = "a duration like \"500ms\", \"30s\", \"5m\" or \"1h\"";
pub(crate) const REDACTED: &str = "[redacted]";

/// `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"7d"`, `"1h 30m"` (humantime's grammar): how every
/// duration of the configuration is written, and the CLI's (`--older-than`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// A value as it would appear in TOML, for messages (never used for secrets).
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Table(_) => "a section".to_owned(),
        other => other.to_string(),
    }
}

/// Reads one value with `parse`; on `None` the message names the value (or `[redacted]`)
/// and `expected`.
fn leaf<'de, D: Deserializer<'de>, T>(
    d: D,
    secret: bool,
    expected: &str,
    parse: impl FnOnce(&Value) -> Option<T>,
) -> Result<T, D::Error> {
    let value = Value::deserialize(d)?;
    parse(&value).ok_or_else(|| {
        // A section holds no secret value, and saying so explains the mistake better.
        let shown = if secret && !value.is_table() { REDACTED.to_owned() } else { render(&value) };
        D::Error::custom(format!("{shown} is not valid: expected {expected}"))
    })
}

fn out_of_range<E: serde::de::Error>(value: impl fmt::Debug, lo: impl fmt::Debug, hi: impl fmt::Debug) -> E {
    E::custom(format!("{value:?} is out of range: expected between {lo:?} and {hi:?}"))
}

// ---- strings, secrets, paths ------------------------------------------------------------

pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    leaf(d, false, "a string", |v| v.as_str().map(str::to_owned))
}

/// A string that is not blank.
pub fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = string(d)?;
    if text.trim().is_empty() {
        return Err(D::Error::custom("\"\" is not valid: expected a non-empty string"));
    }
    Ok(text)
}

pub fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    leaf(d, true, "a string", |v| v.as_str().map(SecretString::from))
}

/// Every secret is written out as `[redacted]`.
pub fn redacted<S: Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(REDACTED)
}

/// `redis.url`: one server or a cluster (see `redis_url`); secret, so a bad one is shown
/// with its passwords redacted.
pub fn redis_url<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    let url = secret(d)?;
    if let Err(expected) = redis_url::check(url.expose_secret()) {
        let shown = redis_url::redact(url.expose_secret());
        return Err(D::Error::custom(format!("\"{shown}\" is not valid: expected {expected}")));
    }
    Ok(url)
}

pub fn redis_url_redacted<S: Serializer>(url: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redis_url::redact(url.expose_secret()))
}

/// A file path, not empty.
pub fn path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let text = string(d)?;
    if text.is_empty() {
        return Err(D::Error::custom("\"\" is not valid: expected a file path"));
    }
    Ok(PathBuf::from(text))
}

pub fn path_text<S: Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// An ISO 3166-1 alpha-2 country code in upper case.
pub fn country<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    leaf(d, false, "a two-letter ISO 3166-1 country code in upper case, like \"US\"", |v| {
        let code = v.as_str()?;
        (code.len() == 2 && code.chars().all(|ch| ch.is_ascii_uppercase())).then(|| code.to_owned())
    })
}

// ---- URLs and addresses -----------------------------------------------------------------

pub fn url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    leaf(d, false, "an absolute URL like \"https://host\"", |v| v.as_str().and_then(|s| Url::parse(s).ok()))
}

/// An absolute http:// or https:// URL with a host.
pub fn http_url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let url = url(d)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(D::Error::custom(format!("\"{url}\" is not valid: expected an http:// or https:// URL")));
    }
    Ok(url)
}

pub fn url_text<S: Serializer>(url: &Url, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(url.as_str())
}

pub fn socket<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    leaf(d, false, "an address and port like \"127.0.0.1:8090\"", |v| v.as_str().and_then(|s| s.parse().ok()))
}

/// An address and port, or `""` for none.
pub fn optional_socket<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    leaf(d, false, "an address and port like \"127.0.0.1:9090\", or \"\" for none", |v| {
        let text = v.as_str()?.trim();
        if text.is_empty() {
            Some(None)
        } else {
            text.parse().ok().map(Some)
        }
    })
}

pub fn display<S: Serializer>(value: &impl fmt::Display, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// `None` is written `""`, which reads back as none.
pub fn optional_socket_text<S: Serializer>(addr: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&addr.map(|a| a.to_string()).unwrap_or_default())
}

// ---- booleans, numbers, durations -------------------------------------------------------

pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    leaf(d, false, "true or false", |v| match v {
        Value::Boolean(b) => Some(*b),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A whole number, 0 or more, that fits `T`.
pub fn count<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
    leaf(d, false, "a whole number, 0 or more", |v| {
        let n = match v {
            Value::Integer(n) => *n,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        if n < 0 {
            return None;
        }
        T::try_from(n).ok()
    })
}

/// A whole number between `LO` and `HI`.
pub fn count_in<'de, D, T, const LO: u64, const HI: u64>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryInto<u64> + Copy,
{
    let n: T = count(d)?;
    let value: u64 = n.try_into().unwrap_or(u64::MAX);
    if value < LO || value > HI {
        return Err(out_of_range(value, LO, HI));
    }
    Ok(n)
}

/// A whole number of at least 1.
pub fn positive<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryInto<u64> + Copy,
{
    let n: T = count(d)?;
    if n.try_into().unwrap_or(u64::MAX) == 0 {
        return Err(D::Error::custom("0 is not valid: expected at least 1"));
    }
    Ok(n)
}

pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    leaf(d, false, DURATION_FORM, |v| v.as_str().and_then(parse_duration))
}

/// A duration between `LO_MS` and `HI_MS` milliseconds.
pub fn duration_in<'de, D: Deserializer<'de>, const LO_MS: u64, const HI_MS: u64>(d: D) -> Result<Duration, D::Error> {
    let value = duration(d)?;
    let (lo, hi) = (Duration::from_millis(LO_MS), Duration::from_millis(HI_MS));
    if value < lo || value > hi {
        return Err(out_of_range(value, lo, hi));
    }
    Ok(value)
}

/// A duration of at least one second (a window, an interval).
pub fn at_least_1s<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let value = duration(d)?;
    if value < Duration::from_secs(1) {
        let shown = humantime::format_duration(value);
        return Err(D::Error::custom(format!("\"{shown}\" is not valid: expected a duration of at least 1s")));
    }
    Ok(value)
}

/// How long a job may wait for a rate-limit permit in place: at most a minute.
pub fn permit_wait<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let value = duration(d)?;
    if value > Duration::from_secs(60) {
        let shown = humantime::format_duration(value);
        return Err(D::Error::custom(format!(
            "\"{shown}\" is not valid: expected a duration of at most 60s (a longer wait snoozes the job)"
        )));
    }
    Ok(value)
}

pub fn duration_text<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*value))
}

// ---- choices ----------------------------------------------------------------------------

/// A setting chosen by name from a fixed list (`auth = "jwt"`).
pub trait Named: Sized + Copy {
    /// The names, for the message: `"jwt" or "authorization_code"`.
    const EXPECTED: &'static str;
    fn from_name(name: &str) -> Option<Self>;
    fn name(self) -> &'static str;
}

pub fn named<'de, D: Deserializer<'de>, T: Named>(d: D) -> Result<T, D::Error> {
    leaf(d, false, T::EXPECTED, |v| v.as_str().and_then(T::from_name))
}

pub fn name<S: Serializer, T: Named>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.name())
}

#[cfg(test)]
mod tests {
    use serde::de::IntoDeserializer;

    use super::*;

    type E = serde::de::value::Error;

    #[test]
    fn numbers_and_booleans_are_read_from_strings_too() {
        let n: u32 = count("8".into_deserializer() as serde::de::value::StrDeserializer<E>).unwrap();
        assert_eq!(n, 8);
        let b = boolean("true".into_deserializer() as serde::de::value::StrDeserializer<E>).unwrap();
        assert!(b);
    }

    #[test]
    fn a_bad_secret_is_never_shown() {
        let err = secret(7i64.into_deserializer() as serde::de::value::I64Deserializer<E>).unwrap_err();
        assert_eq!(err.to_string(), "[redacted] is not valid: expected a string");
    }

    #[test]
    fn ranges_name_both_ends() {
        let err =
            count_in::<_, u32, 1, 50>(60i64.into_deserializer() as serde::de::value::I64Deserializer<E>).unwrap_err();
        assert_eq!(err.to_string(), "60 is out of range: expected between 1 and 50");
        let err = duration_in::<_, 1, 3_600_000>("2h".into_deserializer() as serde::de::value::StrDeserializer<E>)
            .unwrap_err();
        assert_eq!(err.to_string(), "7200s is out of range: expected between 1ms and 3600s");
    }
}
