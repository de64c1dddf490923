//! Log output for the binaries: `text` (the default; ANSI colour only when standard output
//! is a terminal and `NO_COLOR` is unset, so files and journals get plain lines) or `json`
//! (one object per line, for deployments that ship logs). The level comes from `RUST_LOG`
//! (`info` when unset).

use std::io::IsTerminal;
use std::str::FromStr;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format {other:?}: expected text or json")),
        }
    }
}

fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}

/// Whether text logs get colour codes.
pub fn ansi() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber (once per process; a second call does nothing).
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt().with_env_filter(filter());
    let _ = match format {
        LogFormat::Text => builder.with_ansi(ansi()).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
}
