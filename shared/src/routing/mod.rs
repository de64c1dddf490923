//! # Owner routing
//!
//! Decides which Snapshots owner gets a new lead, from a rules file (default:
//! `routing/default.toml`, also built in as [`DEFAULT_RULES`]): rules match on the
//! contact's company, email domain, phone area code, or the site of the extension that
//! owns the contact, or the call that brought the contact in (the site, extension,
//! direction, result and dialled number of the last call with its number); the first match wins; an inactive or unknown owner, or no match,
//! sends the lead round-robin to the fallback team; the decision records why.
//!
//! # Layout
//! - [`rules`]: the file's shape, checking it (each problem names file, rule, field), and
//!   matching a contact's facts.
//! - [`route`]: [`Router::route`] and the Redis round-robin.
//! - [`call_context`]: the last call with a number, as `tag_call` records it.
//! - [`error`] — [`RoutingError`].

pub mod call_context;
pub mod error;
pub mod route;
pub mod rules;

pub use call_context::CallContext;
pub use error::RoutingError;
pub use route::{Routed, Router, FALLBACK};
pub use rules::{Assign, Facts, Rule, Rules};

/// The default rules file's text (the same as `routing/default.toml`).
pub const DEFAULT_RULES: &str = include_str!("../../../routing/default.toml");

impl Rules {
    /// The built-in default rules.
    pub fn builtin() -> Result<Rules, RoutingError> {
        Rules::parse("routing/default.toml", DEFAULT_RULES)
    }

    /// The rules `[routing] path` names, loaded as [`crate::mapping::Mapping::for_config`]
    /// loads the mapping. `true` with the built-in ones.
    pub fn for_config(config: &crate::config::RoutingConfig) -> Result<(Rules, bool), RoutingError> {
        let default = crate::config::RoutingConfig::default().path;
        if config.path == default && !config.path.exists() {
            return Ok((Rules::builtin()?, true));
        }
        Ok((Rules::load(&config.path)?, false))
    }
}
