//! # snapsync-demo: snapsync, locally, against the sandbox
//!
//! `cargo run -p snapsync-demo` builds the real binaries, starts (or reuses) a private Redis,
//! the RingCentral and Snapshots stand-ins, `snapsync serve` and two `snapsync-worker`
//! processes, prints progress and a summary of the initial sync, and keeps running until
//! Ctrl-C. Production code never depends on this crate; the end-to-end tests
//! (`tests/tests/pipeline/`) use its helpers to find and run the same binaries.
//!
//! # Layout
//! - [`binaries`]: builds `snapsync` and `snapsync-worker` with the running cargo and finds
//!   them next to the current executable.
//! - [`process`]: a child process with its log file, stopped by SIGTERM with a deadline.
//! - [`redis`]: PING over a socket, and a private `redis-server` (AOF, temp dir) when none answers.
//! - [`bench`]: what the benchmarks share (config file, commands, CPU time of a process).
//! - [`progress`]: what landed where: queue counts plus the Snapshots stand-in's records.

pub mod bench;
pub mod binaries;
pub mod process;
pub mod progress;
pub mod redis;

/// Everything that can stop the demo before it runs.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("`{command}` could not run: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("`{command}` failed ({status})")]
    Failed { command: String, status: std::process::ExitStatus },
    #[error("{name} not found at {path}; build it with `cargo build -p snapsync-producer -p snapsync-worker`")]
    MissingBinary { name: String, path: std::path::PathBuf },
    #[error("cannot locate the current executable: {0}")]
    CurrentExe(std::io::Error),
    #[error("redis-server did not answer on port {port} within {secs} s; log: {log}")]
    RedisTimeout { port: u16, secs: u64, log: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
