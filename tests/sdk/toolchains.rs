//! Installs RingCentral's official SDKs for `tests/tests/sandbox/rc_official_sdk.rs`, once, under the
//! cargo target dir: the Python SDK in a venv (`<target>/sdk-venv`), the JavaScript SDK with npm
//! (`<target>/sdk-node`). Included by that test with `#[path]`.
//!
//! Versions are pinned so a new SDK release cannot change what the test proves without a
//! commit. A missing interpreter or package manager fails the test with what to install: the
//! test must never pass by not running.
//!
//! Tests in one process share one bootstrap (`OnceLock`). Two test processes may bootstrap at
//! once, so each builds in its own `*.partial-<pid>` dir and renames it into place; renaming
//! onto a finished install fails, and the loser uses the winner's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const PYTHON_SDK: &str = "ringcentral";
pub const PYTHON_SDK_VERSION: &str = "0.9.2";
pub const JS_SDK: &str = "@ringcentral/sdk";
pub const JS_SDK_VERSION: &str = "5.0.11";

/// The cargo target dir: `CARGO_TARGET_TMPDIR` is `<target>/tmp` for integration tests.
fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(Path::to_path_buf).unwrap_or(tmp)
}

/// Where the test scripts live (`tests/sdk`).
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sdk").join(name)
}

/// Runs `cmd`; on failure panics with `what`, the command's stderr, and `fix`.
fn run(cmd: &mut Command, what: &str, fix: &str) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("{what}: cannot run `{program}` ({e}). {fix}"),
    };
    if !out.status.success() {
        panic!(
            "{what}: `{program}` exited with {}.\nstderr:\n{}\nstdout:\n{}\n{fix}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    out
}

/// Moves a finished `partial` install to `dest`, unless another process got there first.
fn publish(partial: &Path, dest: &Path, ready: impl Fn(&Path) -> bool) {
    if !ready(dest) {
        // A broken leftover (interrupted by hand, wrong version) would block the rename.
        let _ = std::fs::remove_dir_all(dest);
    }
    if std::fs::rename(partial, dest).is_err() {
        let _ = std::fs::remove_dir_all(partial);
    }
    assert!(ready(dest), "SDK install at {} is not usable after bootstrap", dest.display());
}

/// True when the venv's python imports the pinned SDK.
fn venv_ready(venv: &Path) -> bool {
    let check = format!(
        "import importlib.metadata as m, ringcentral; assert m.version('{PYTHON_SDK}') == '{PYTHON_SDK_VERSION}'"
    );
    Command::new(venv.join("bin/python")).args(["-c", &check]).output().is_ok_and(|o| o.status.success())
}

/// The python of a venv holding `ringcentral==0.9.2`, creating it on first use.
pub fn python_sdk() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(install_python_sdk).clone()
}

fn install_python_sdk() -> PathBuf {
    let venv = target_dir().join("sdk-venv");
    if !venv_ready(&venv) {
        let partial = target_dir().join(format!("sdk-venv.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&partial),
            "creating the Python venv for RingCentral's Python SDK",
            "Install Python 3 with venv support (Debian/Ubuntu: `apt-get install python3 python3-venv`).",
        );
        run(
            Command::new(partial.join("bin/python")).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("{PYTHON_SDK}=={PYTHON_SDK_VERSION}"),
            ]),
            "installing RingCentral's Python SDK with pip",
            "pip needs to reach PyPI (or a configured index/mirror) to install `ringcentral==0.9.2`.",
        );
        publish(&partial, &venv, venv_ready);
    }
    venv.join("bin/python")
}

/// True when the npm install holds the pinned SDK.
fn node_ready(dir: &Path) -> bool {
    let manifest = dir.join("node_modules").join(JS_SDK).join("package.json");
    std::fs::read_to_string(manifest).is_ok_and(|m| m.contains(&format!("\"version\": \"{JS_SDK_VERSION}\"")))
}

/// A directory whose `node_modules` holds `@ringcentral/sdk@5.0.11`, installing it on first use.
pub fn js_sdk() -> PathBuf {
    static JS: OnceLock<PathBuf> = OnceLock::new();
    JS.get_or_init(install_js_sdk).clone()
}

fn install_js_sdk() -> PathBuf {
    let dir = target_dir().join("sdk-node");
    if !node_ready(&dir) {
        let partial = target_dir().join(format!("sdk-node.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        if let Err(e) = std::fs::create_dir_all(&partial)
            .and_then(|_| std::fs::write(partial.join("package.json"), "{\"private\": true}\n"))
        {
            panic!("cannot prepare {} for npm: {e}", partial.display());
        }
        run(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", &format!("{JS_SDK}@{JS_SDK_VERSION}")])
                .current_dir(&partial),
            "installing RingCentral's JavaScript SDK with npm",
            "Install Node.js 18+ with npm (it must reach the npm registry to install @ringcentral/sdk@5.0.11).",
        );
        publish(&partial, &dir, node_ready);
    }
    dir
}

/// `node`, checked to exist so a missing one fails with what to install.
pub fn node() -> PathBuf {
    run(Command::new("node").arg("--version"), "checking for Node.js", "Install Node.js 18+ (with npm).");
    PathBuf::from("node")
}
