//! Routing errors: a bad rules file (every problem at once, naming file, rule and field),
//! or no active owner to give a lead to.

#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("cannot read routing rules file {path}: {source}; check routing.path in the config")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("{} problem(s) in the routing rules:\n  {}", problems.len(), problems.join("\n  "))]
    Invalid { problems: Vec<String> },
    #[error(
        "no active owner in fallback team {team:?} ({why}); activate an owner in Snapshots or change the fallback team"
    )]
    NoActiveOwner { team: String, why: String },
    #[error("redis {op} (round-robin state) failed: {source}")]
    Redis {
        op: &'static str,
        #[source]
        source: redis::RedisError,
    },
}

impl RoutingError {
    pub fn problems(&self) -> &[String] {
        match self {
            RoutingError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}
