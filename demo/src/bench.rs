//! What the benchmarks (`snapsync-quota-bench`, `snapsync-scale-bench`) share: free ports, the
//! config file of a benchmark system, the command line of a worker or `serve`, the stand-in's
//! request count and the CPU time of a process.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use snapsync_sandbox::{RcLimits, Sandbox};

/// The repository root (mapping and routing files are read from there).
pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A port nothing listens on right now (bound to 127.0.0.1:0 and released).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The knobs a benchmark system's `snapsync.toml` differs in.
pub struct BenchConfig<'a> {
    pub redis_port: u16,
    pub http_port: u16,
    pub sandbox: &'a Sandbox,
    pub rc_limits: RcLimits,
    /// The RingCentral stand-in's window (and the config's).
    pub rc_window_secs: u64,
    /// Snapshots requests per window (the stand-in's limit and the config's).
    pub snapshots_limit: u32,
    pub snapshots_window_secs: u64,
    /// `worker.concurrency`.
    pub concurrency: usize,
}

impl BenchConfig<'_> {
    /// The config file: schedules hourly (a benchmark triggers its own work), calls off,
    /// generous retries, finished jobs kept (the benchmarks count them).
    pub fn toml(&self) -> String {
        format!(
            r#"[redis]
url = "redis://127.0.0.1:{redis_port}"
[http]
bind = "127.0.0.1:{port}"
[admin]
bind = "127.0.0.1:0"
[ringcentral]
server_url = "{rc}"
webhook_address = "http://127.0.0.1:{port}/webhooks/ringcentral"
verification_token = "bench-verification-token"
[snapshots]
base_url = "{snap}"
[queue]
done_keep_count = 1000000
[schedules.locations]
every = "1h"
[schedules.accounts]
every = "1h"
[schedules.contacts]
every = "1h"
[schedules.calls]
enabled = false
[schedules.messages]
enabled = false
[schedules.subscriptions]
every = "1h"
[rate_limits.ringcentral]
light = {light}
medium = {medium}
heavy = {heavy}
auth = {auth}
window = "{rw}s"
[rate_limits.snapshots]
requests = {snap_limit}
window = "{sw}s"
[retry]
max_attempts = 50
max_snoozed = "1h"
[worker]
concurrency = {concurrency}
prefetch = 8
[mapping]
path = "{ROOT}/mapping/default.toml"
[routing]
path = "{ROOT}/routing/default.toml"
"#,
            redis_port = self.redis_port,
            port = self.http_port,
            rc = self.sandbox.rc_url(),
            snap = self.sandbox.snapshots_url(),
            light = self.rc_limits.light,
            medium = self.rc_limits.medium,
            heavy = self.rc_limits.heavy,
            auth = self.rc_limits.auth,
            rw = self.rc_window_secs,
            snap_limit = self.snapshots_limit,
            sw = self.snapshots_window_secs,
            concurrency = self.concurrency,
        )
    }
}

/// `bin [serve] --config <file>` with `RUST_LOG` from `log_var` (default `warn`).
pub fn command(bin: &Path, serve: bool, config_file: &Path, log_var: &str) -> Command {
    let mut cmd = Command::new(bin);
    if serve {
        cmd.arg("serve");
    }
    let log = std::env::var(log_var).unwrap_or_else(|_| "warn".into());
    cmd.arg("--config").arg(config_file).env_remove("SNAPSYNC_CONFIG").env("RUST_LOG", log);
    cmd
}

/// Every Snapshots API request the stand-in counted (by method and collection).
pub fn total_requests(stats: &Value) -> u64 {
    stats["requests"].as_object().map_or(0, |r| r.values().filter_map(Value::as_u64).sum())
}

/// Seconds of CPU (user + system, all threads) process `pid` has used so far, from
/// `/proc/<pid>/stat` (Linux; its clock ticks are USER_HZ, 100 per second). `None` when it
/// cannot be read (another OS, or the process is gone).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
