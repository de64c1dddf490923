//! What can go wrong while loading configuration: the file cannot be read, or it (with the
//! environment) has problems. Problems are collected, never returned one at a time, so an
//! operator fixes a file in one round trip.
//!
//! No message here ever holds a secret's value: the reader and `validate` render secrets
//! as `[redacted]` before a [`Problem`] is built.

use std::fmt;
use std::path::PathBuf;

/// Loading or validating the configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` (or `Config::load(Some(path))`) cannot be read.
    #[error("cannot read config file {}: {source}; check the path given with --config", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file and environment were read but hold one or more problems, all listed, each
    /// naming where its value came from (the file or the variable).
    #[error("{}", render_problems(problems))]
    Invalid { problems: Vec<Problem> },
}

impl ConfigError {
    /// The problems found (empty for [`ConfigError::Read`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn render_problems(problems: &[Problem]) -> String {
    let noun = if problems.len() == 1 { "problem" } else { "problems" };
    let mut out = format!("invalid configuration, {} {noun}:", problems.len());
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&p.to_string());
    }
    out
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The dotted key (`ringcentral.server_url`), or `None` for a problem of the whole file
    /// (TOML syntax) or of an environment variable's name.
    pub key: Option<String>,
    /// Where the bad value came from: the environment variable (`SNAPSYNC__REDIS__URL`) or
    /// the file read by [`super::Config::load`] that set it (or the key below it), and the
    /// file for a syntax error. `None` for a default, or text given to `from_toml_str`.
    pub origin: Option<String>,
    /// What is wrong and the expected form, e.g. `"localhost" is not valid: expected ...`.
    pub message: String,
}

impl Problem {
    /// `value is not valid: expected form` for `key`; `value` is already rendered (quoted
    /// or `[redacted]`).
    pub(crate) fn invalid(key: &str, value: &str, expected: &str) -> Problem {
        Problem {
            key: Some(key.to_owned()),
            origin: None,
            message: format!("{value} is not valid: expected {expected}"),
        }
    }

    pub(crate) fn keyed(key: &str, message: String) -> Problem {
        Problem { key: Some(key.to_owned()), origin: None, message }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.key, &self.origin) {
            (Some(key), Some(origin)) => write!(f, "`{key}` (from {origin}): {}", self.message),
            (Some(key), None) => write!(f, "`{key}`: {}", self.message),
            (None, Some(origin)) => write!(f, "{origin} {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}
