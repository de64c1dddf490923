//! The real binaries, built by the cargo that runs us and found next to our own executable,
//! so `cargo run -p snapsync-demo` (and `cargo test -p snapsync-tests`) is one command.

use std::path::PathBuf;
use std::process::Command;

use crate::DemoError;

/// `snapsync` (the producer and CLI).
pub const PRODUCER: &str = "snapsync";
/// `snapsync-worker`.
pub const WORKER: &str = "snapsync-worker";

/// Runs `cargo build -p snapsync-producer -p snapsync-worker` with the cargo in `$CARGO`
/// (set by `cargo run` and `cargo test`), or `cargo` from `PATH`. Same profile as ours, so
/// the binaries land next to our executable. A no-op build takes well under a second.
pub fn build() -> Result<(), DemoError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args(["build", "--quiet", "-p", "snapsync-producer", "-p", "snapsync-worker"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    // Build in the workspace we were built from, whatever the caller's working directory.
    cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let command = format!("{} build -p snapsync-producer -p snapsync-worker", cargo.to_string_lossy());
    let status = cmd.status().map_err(|source| DemoError::Spawn { command: command.clone(), source })?;
    if !status.success() {
        return Err(DemoError::Failed { command, status });
    }
    Ok(())
}

/// The directory our executable is in: `target/<profile>/` (test executables live one level
/// down, in `deps/`).
pub fn dir() -> Result<PathBuf, DemoError> {
    let exe = std::env::current_exe().map_err(DemoError::CurrentExe)?;
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

/// The path of binary `name` next to us, or an error saying how to build it.
pub fn locate(name: &str) -> Result<PathBuf, DemoError> {
    let path = dir()?.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(DemoError::MissingBinary { name: name.to_string(), path })
    }
}
