//! The operator commands `snapsync queue …`, `snapsync workers` and `snapsync schedule …`:
//! argument parsing and printing around [`snapsync_producer::ops`] and
//! [`snapsync_producer::schedules`], which do the work.
//!
//! Exit codes (the same for every command here, listed in each command's `--help`):
//! - 0: success;
//! - 1: a job named on the command line was not found or could not be acted on (the other ids
//!   are still processed and each is reported);
//! - 2: bad arguments (clap);
//! - 69 (`EX_UNAVAILABLE`): Redis cannot be reached;
//! - 70 (`EX_SOFTWARE`): anything else went wrong (an unexpected reply from Redis);
//! - 78 (`EX_CONFIG`): the configuration is invalid.
//!
//! Errors are one line on stderr, `error: …`, never with a secret (Redis is named by its
//! redacted URL).

pub mod login;
pub mod mapping;
pub mod mode;
pub mod preflight;
pub mod queue;
pub mod schedule;
pub mod table;
pub mod workers;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use secrecy::ExposeSecret;
use serde::Serialize;
use snapsync::config::Config;
use snapsync_queue::{Queue, QueueError};

/// The exit codes, as shown at the end of `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   a named job was not found or could not be acted on (every id is still processed and reported)
  2   bad arguments
  69  Redis cannot be reached (EX_UNAVAILABLE)
  70  any other failure, e.g. an unexpected reply from Redis (EX_SOFTWARE)
  78  the configuration is invalid (EX_CONFIG)";

pub const NOT_FOUND: u8 = 1;
pub const UNAVAILABLE: u8 = 69;
pub const SOFTWARE: u8 = 70;
pub const INVALID_CONFIG: u8 = 78;

/// Options every operator command takes.
#[derive(Args, Clone)]
pub struct Common {
    /// The TOML file; without it, built-in defaults (a local sandbox) and the environment.
    #[arg(long, global = true, env = "SNAPSYNC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON document (stable field names, times in Unix milliseconds) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// A failure that ends the command: its message (one line) and exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn exit(self) -> ExitCode {
        eprintln!("error: {}", self.message);
        ExitCode::from(self.code)
    }
}

/// Loads the configuration, connects to the queue and runs `body` on a single-threaded runtime,
/// giving it the queue and Redis's redacted URL (for [`queue_failure`]). `body` returns the exit
/// code it wants (0, or 1 when a named job was missing).
pub fn with_queue<F, Fut>(common: &Common, body: F) -> ExitCode
where
    F: FnOnce(Queue, String) -> Fut,
    Fut: Future<Output = Result<u8, Failure>>,
{
    with_queue_config(common, |queue, _config, shown| body(queue, shown))
}

/// [`with_queue`], also giving `body` the loaded configuration.
pub fn with_queue_config<F, Fut>(common: &Common, body: F) -> ExitCode
where
    F: FnOnce(Queue, Config, String) -> Fut,
    Fut: Future<Output = Result<u8, Failure>>,
{
    let config = match Config::load(common.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            // A config error lists every problem; keep it on one line.
            let text = err.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
            return Failure { code: INVALID_CONFIG, message: text }.exit();
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            return Failure { code: SOFTWARE, message: format!("cannot start the async runtime: {err}") }.exit()
        }
    };
    let shown = config.redis.redacted_url();
    let result = runtime.block_on(async {
        let queue = Queue::connect(config.redis.url.expose_secret(), config.queue_config())
            .await
            .map_err(|e| queue_failure(&shown, e))?;
        body(queue, config.clone(), shown.clone()).await
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => failure.exit(),
    }
}

/// A queue error as a [`Failure`]: unreachable Redis is 69, a refused queue configuration 78,
/// the rest 70. The message names Redis by `shown`, its redacted URL.
pub fn queue_failure(shown: &str, err: QueueError) -> Failure {
    match &err {
        QueueError::Config(_) => Failure { code: INVALID_CONFIG, message: err.to_string() },
        QueueError::Redis { .. } if err.is_connection() => {
            Failure { code: UNAVAILABLE, message: format!("cannot reach redis at {shown}: {}", one_line(&err)) }
        }
        _ => Failure { code: SOFTWARE, message: format!("redis at {shown}: {}", one_line(&err)) },
    }
}

/// `error`'s message on one line.
fn one_line(err: &dyn std::fmt::Display) -> String {
    err.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A [`Failure`] with `code`: `what`, then `err` on one line.
pub fn failure(code: u8, what: &str, err: &dyn std::fmt::Display) -> Failure {
    Failure { code, message: format!("{what}: {}", one_line(err)) }
}

/// A Redis error of a command's own reads and writes as a [`Failure`]: 69 when Redis cannot
/// be reached, 70 otherwise; Redis is named by `shown`, its redacted URL.
pub fn redis_failure(shown: &str, err: &redis::RedisError) -> Failure {
    if snapsync_queue::is_connection_error(err) {
        failure(UNAVAILABLE, &format!("cannot reach redis at {shown}"), err)
    } else {
        failure(SOFTWARE, &format!("redis at {shown}"), err)
    }
}

/// Prints `report` as pretty JSON (one document).
pub fn print_json<T: Serialize>(report: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| Failure { code: SOFTWARE, message: format!("cannot write JSON: {e}") })?;
    println!("{text}");
    Ok(())
}

/// A Unix-millisecond time as `2026-12-01T14:03:07.123Z`; `-` for none.
pub fn time(ms: Option<u64>) -> String {
    ms.and_then(|ms| chrono::DateTime::from_timestamp_millis(i64::try_from(ms).ok()?))
        .map_or_else(|| "-".to_string(), |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// A duration in milliseconds as its two largest units: `850ms`, `12s`, `3m 20s`, `2h 5m`, `4d 1h`.
pub fn age(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let mut parts = Vec::new();
    let mut rest = ms;
    for (size, unit) in UNITS {
        if rest >= size && parts.len() < 2 {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            break;
        }
    }
    parts.join(" ")
}

/// `-` for an empty or absent value.
pub fn or_dash(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".to_string(),
    }
}
