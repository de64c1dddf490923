//! Three real processes (`examples/rc_shared_login.rs`) sharing one Redis, released at the
//! same moment, log in to the sandbox exactly once between them.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::ringcentral_support::{start, PREFIX};

/// The example's binary, next to the test binaries' `deps/` folder. A plain `cargo test`
/// builds examples, `cargo test --test clients` does not: then build it.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target dir");
    let path = dir.join("examples").join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "snapsync", "--example", name])
            .status()
            .expect("run cargo build for the example");
        assert!(status.success(), "building example {name} failed");
    }
    assert!(path.exists(), "{} missing after building it", path.display());
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_at_once_log_in_exactly_once() {
    let env = start().await;
    let creds = env.sandbox.credentials().clone();
    let (url, redis_url) = (env.sandbox.rc_url(), env.redis.url());
    let outputs = tokio::task::spawn_blocking(move || {
        let program = example("rc_shared_login");
        let mut children: Vec<_> = (0..3)
            .map(|_| {
                Command::new(&program)
                    .env("RC_SERVER_URL", &url)
                    .env("RC_CLIENT_ID", &creds.client_id)
                    .env("RC_CLIENT_SECRET", &creds.client_secret)
                    .env("RC_JWT", &creds.jwt)
                    .env("REDIS_URL", &redis_url)
                    .env("KEY_PREFIX", PREFIX)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("spawn example")
            })
            .collect();
        let mut readers: Vec<_> =
            children.iter_mut().map(|c| BufReader::new(c.stdout.take().expect("stdout"))).collect();
        for r in &mut readers {
            let mut line = String::new();
            r.read_line(&mut line).expect("read ready");
            assert_eq!(line.trim(), "ready");
        }
        // All three are connected and waiting: release them together.
        for c in &mut children {
            c.stdin.as_mut().expect("stdin").write_all(b"go\n").expect("go");
        }
        let mut outputs = Vec::new();
        for (mut c, mut r) in children.into_iter().zip(readers) {
            let mut line = String::new();
            r.read_line(&mut line).expect("read result");
            assert!(c.wait().expect("wait").success(), "example failed: {line}");
            outputs.push(line.trim().to_owned());
        }
        outputs
    })
    .await
    .expect("processes");
    assert_eq!(outputs, vec!["ok 400000001"; 3]);
    assert_eq!(env.oauth_stats().await, (1, 0), "exactly one login for three processes");
}
