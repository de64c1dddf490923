//! Printing a [`Config`]: the effective configuration as TOML (what `snapsync config show`
//! prints) and `Debug`, both from the config's serialisation, so every secret is
//! `[redacted]` and of the Redis URL only the passwords are.

use std::fmt;

use secrecy::ExposeSecret;

use super::redis_url;
use super::sections::*;
use super::Config;

impl RedisConfig {
    /// The URL with every password replaced by `[redacted]` (each node's, for a cluster), for
    /// logs and printouts.
    pub fn redacted_url(&self) -> String {
        redis_url::redact(self.url.expose_secret())
    }
}

impl Config {
    /// The effective configuration as TOML, secrets redacted; valid input for `--config`
    /// once the secrets are filled back in. It is the config's serialisation: every key, in
    /// the sections' order, each written by its field's `form` function.
    pub fn redacted_toml(&self) -> String {
        // Serialising strings, integers, booleans and tables cannot fail; an empty string
        // would only hide the config, never leak a secret.
        toml::to_string(self).unwrap_or_default()
    }
}

/// `Debug` of the sections that hold a secret: their serialisation, so secrets print as
/// `[redacted]` from the same field attributes `config show` uses, and a new key needs no
/// line here.
macro_rules! debug_as_written {
    ($($section:ty),*) => {$(
        impl fmt::Debug for $section {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match toml::Value::try_from(self) {
                    Ok(value) => write!(f, "{} {value}", stringify!($section)),
                    Err(_) => f.write_str(concat!(stringify!($section), " { .. }")),
                }
            }
        }
    )*};
}

debug_as_written!(RedisConfig, AdminConfig, RingCentralConfig, SnapshotsConfig, TestConfig);
