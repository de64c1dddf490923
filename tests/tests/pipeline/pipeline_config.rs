//! Issue 4, "Done when" 7, through the binaries: a config file with three mistakes → one
//! message naming the three keys, a non-zero exit, nothing started (no listener, nothing in
//! Redis); a mapping naming an unknown field → an error naming the file, resource and field.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::pipeline_support::bins;
use snapsync_testkit::{free_port, RedisServer};

/// Runs `cmd` to its end (with a deadline: a binary that starts serving instead of failing
/// would otherwise hang the test).
fn run(mut cmd: Command) -> Output {
    cmd.env_remove("SNAPSYNC_CONFIG").env("NO_COLOR", "1").stdin(std::process::Stdio::null());
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    // The errors are short, so the pipes cannot fill up before the exit.
    snapsync_testkit::wait_until("the binary to exit", Duration::from_secs(20), || child.try_wait().ok().flatten());
    child.wait_with_output().expect("output")
}

fn redis_keys(redis: &RedisServer) -> usize {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client.get_connection().expect("connect");
    redis::cmd("DBSIZE").query::<usize>(&mut conn).expect("DBSIZE")
}

#[test]
fn three_config_mistakes_are_named_at_once_and_nothing_starts() {
    let (producer, worker) = bins();
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        format!(
            "[redis]\nurl = \"{}\"\n[http]\nbind = \"127.0.0.1:{port}\"\n[worker]\nconcurrency = 0\n\
             [schedules.contacts]\nevery = \"soon\"\n[retry]\nmax_attempts = 0\n",
            redis.url()
        ),
    )
    .expect("write");
    for (bin, serve) in [(&producer, true), (&worker, false)] {
        let mut cmd = Command::new(bin);
        if serve {
            cmd.arg("serve");
        }
        cmd.arg("--config").arg(&file);
        let out = run(cmd);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "{} accepted a bad config:\n{text}", bin.display());
        for key in ["worker.concurrency", "schedules.contacts.every", "retry.max_attempts"] {
            assert!(text.contains(key), "{}: the message does not name {key}:\n{text}", bin.display());
        }
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "{} started listening", bin.display());
        assert_eq!(redis_keys(&redis), 0, "{} wrote to Redis before validating", bin.display());
    }
}

#[test]
fn a_mapping_naming_an_unknown_field_is_refused_naming_file_resource_and_field() {
    let (_, worker) = bins();
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let default = std::fs::read_to_string(root.join("mapping/default.toml")).expect("default mapping");
    let needle = "name = { from = \"name\", transforms = [\"trim\"], default = \"Unnamed site\" }";
    assert!(default.contains(needle), "mapping/default.toml changed; update this test");
    let mapping = dir.path().join("bad-mapping.toml");
    std::fs::write(&mapping, default.replacen(needle, "name = { from = \"nmae\" }", 1)).expect("write mapping");
    let file = dir.path().join("snapsync.toml");
    std::fs::write(
        &file,
        format!(
            "[redis]\nurl = \"{}\"\n[mapping]\npath = \"{}\"\n[routing]\npath = \"{}\"\n",
            redis.url(),
            mapping.display(),
            root.join("routing/default.toml").display()
        ),
    )
    .expect("write");
    let mut cmd = Command::new(&worker);
    cmd.arg("--config").arg(&file);
    let out = run(cmd);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "the worker accepted a bad mapping:\n{text}");
    for part in ["bad-mapping.toml", "location_from_site", "nmae"] {
        assert!(text.contains(part), "the error does not name {part}:\n{text}");
    }
    assert_eq!(redis_keys(&redis), 0, "the worker wrote to Redis before checking its mapping");
}
