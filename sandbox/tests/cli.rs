//! The `snapsync-sandbox` binary: prints one line per API with its URL and credentials,
//! serves on the ports it printed, and stops cleanly on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use snapsync_testkit::wait_until;

struct Running {
    child: Child,
    rc_url: String,
    snapshots_url: String,
}

fn start(extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapsync-sandbox"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run snapsync-sandbox");
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).expect("read a line the sandbox printed");
        lines.push(line);
    }
    let url_of = |api: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(api).map(|rest| rest.split_whitespace().next().unwrap_or("").to_string()))
            .unwrap_or_else(|| panic!("no `{api}` line in {lines:?}"))
    };
    let running = Running { rc_url: url_of("ringcentral "), snapshots_url: url_of("snapshots "), child };
    assert!(lines[0].contains("client_id=sandbox-client-id"), "{}", lines[0]);
    assert!(lines[0].contains("jwt="), "{}", lines[0]);
    assert!(lines[1].contains("api_key=sandbox-snapshots-key"), "{}", lines[1]);
    running
}

fn stops_cleanly_on(signal: Signal) {
    let mut s = start(&["--seed", "3", "--window-secs", "2"]);
    let client = reqwest::blocking::Client::new();
    let resp = client
        .post(format!("{}/restapi/oauth/token", s.rc_url))
        .basic_auth("sandbox-client-id", Some("sandbox-client-secret"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", snapsync_sandbox::credentials::DEFAULT_JWT),
        ])
        .send()
        .expect("POST token to the printed RingCentral URL");
    assert_eq!(resp.status(), 200);
    let resp = client.get(format!("{}/sandbox/faults", s.snapshots_url)).send().expect("GET the printed Snapshots URL");
    assert_eq!(resp.status(), 200);

    kill(Pid::from_raw(s.child.id() as i32), signal).expect("signal the sandbox");
    let status = wait_until("the sandbox to exit", Duration::from_secs(10), || s.child.try_wait().ok().flatten());
    assert!(status.success(), "exit status after {signal}: {status}");
    assert!(client.get(format!("{}/sandbox/faults", s.snapshots_url)).send().is_err(), "still serving after exit");
}

#[test]
fn prints_urls_and_stops_on_sigterm() {
    stops_cleanly_on(Signal::SIGTERM);
}

#[test]
fn stops_on_sigint() {
    stops_cleanly_on(Signal::SIGINT);
}

#[test]
fn help_documents_the_credentials() {
    let out = Command::new(env!("CARGO_BIN_EXE_snapsync-sandbox")).arg("--help").output().expect("run --help");
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["sandbox-client-id", "sandbox-client-secret", "sandbox-snapshots-key", "--contacts", "--window-secs"]
    {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_snapsync-sandbox"))
        .args(["--rc-port", &port])
        .output()
        .expect("run snapsync-sandbox");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot bind"), "{err}");
}
