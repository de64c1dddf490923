//! Issue 11, requirement 2: every command line of `docs/production.md`'s `sh` blocks either
//! carries a mark, "(needs a real account)" or "(on the deployment's hosts)", or is run here,
//! in the page's order, through `sh -c` against a whole system on the sandbox: a private Redis
//! with AOF, the sandbox (a second Snapshots stand-in as the `[test]` target), a running
//! `snapsync serve` and one worker, with `SNAPSYNC_CONFIG`, `REDIS_URL` and `SERVE_URL` set as
//! the page says and the `snapsync` under test first on `PATH`. Each must exit 0.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use snapsync_sandbox::{Sandbox, SandboxConfig};

use crate::pipeline_support::{bins, Options, System};

const MARKS: [&str; 2] = ["(needs a real account)", "(on the deployment's hosts)"];

/// A command line of the page and whether it is marked as not runnable here.
#[derive(Debug, PartialEq)]
struct Line {
    text: String,
    marked: bool,
}

/// The command lines of every ```` ```sh ```` block: not blank, not a comment. A line ending
/// in `\` is refused (the check runs one line at a time).
fn command_lines(page: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    for raw in page.lines() {
        let line = raw.trim();
        if line.starts_with("```") {
            in_sh = !in_sh && line == "```sh";
            continue;
        }
        if !in_sh || line.is_empty() || line.starts_with('#') {
            continue;
        }
        assert!(!line.ends_with('\\'), "docs/production.md: one command per line, no continuation: {line}");
        lines.push(Line { text: line.to_string(), marked: MARKS.iter().any(|m| line.contains(m)) });
    }
    lines
}

#[test]
fn command_lines_are_the_sh_blocks_lines_with_their_marks() {
    let page = "text\n```sh\n# a comment\nsnapsync mode\n\nsnapsync login   # (needs a real account)\n```\n\
                ```toml\nnot = \"a command\"\n```\n```sh\nsystemctl start x   # (on the deployment's hosts)\n```\n";
    assert_eq!(
        command_lines(page),
        vec![
            Line { text: "snapsync mode".into(), marked: false },
            Line { text: "snapsync login   # (needs a real account)".into(), marked: true },
            Line { text: "systemctl start x   # (on the deployment's hosts)".into(), marked: true },
        ]
    );
}

fn run_line(line: &str, cwd: &Path, env: &[(&str, String)]) -> (i32, String) {
    let out_file = cwd.join("out.txt");
    let out = std::fs::File::create(&out_file).expect("output file");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).current_dir(cwd).stdin(Stdio::null());
    cmd.stdout(out.try_clone().expect("dup")).stderr(out);
    cmd.env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn sh");
    let status = snapsync_testkit::wait_until(&format!("`{line}` to exit"), Duration::from_secs(90), || {
        child.try_wait().ok().flatten()
    });
    (status.code().unwrap_or(-1), std::fs::read_to_string(&out_file).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_unmarked_command_of_the_production_guide_runs_on_the_sandbox() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/production.md"))
        .expect("read docs/production.md");
    let lines = command_lines(&page);
    let runnable: Vec<&Line> = lines.iter().filter(|l| !l.marked).collect();
    // The page's own promises: these run here, the rest is marked.
    for must in ["snapsync config check", "snapsync preflight", "snapsync mode live", "snapsync queue pause"] {
        assert!(runnable.iter().any(|l| l.text.starts_with(must)), "docs/production.md should run `{must}`");
    }
    assert!(lines.iter().any(|l| l.marked), "the page marks what needs a real account");

    let test_box = Sandbox::start(SandboxConfig::default()).await.expect("test sandbox starts");
    let extra = format!("mode = \"test\"\n[test]\nsnapshots_url = \"{}\"\n", test_box.snapshots_url());
    let started = std::time::Instant::now();
    let sys = System::start(Options { every: None, workers: 1, aof: true, extra, ..Options::default() }).await;
    eprintln!("production guide: the system started in {:?}", started.elapsed());
    // The fixture's routing names own_06, inactive in the sandbox on purpose; a deployment
    // fixes its owners before preflight passes, and so does this one.
    let url = format!("{}/sandbox/owners/own_06", sys.sandbox.snapshots_url());
    let resp = sys.http.put(&url).json(&json!({"active": true})).send().await.expect("PUT owner");
    assert!(resp.status().is_success(), "PUT {url}: {}", resp.status());

    let (producer, _) = bins();
    let bin_dir = producer.parent().expect("the binary's directory").to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let env = [
        ("PATH", path),
        ("SNAPSYNC_CONFIG", sys.config_file.display().to_string()),
        ("REDIS_URL", sys.redis.url()),
        ("SERVE_URL", sys.serve_url.clone()),
    ];
    let cwd = tempfile::tempdir().expect("temp dir");
    let mut outputs = Vec::new();
    for line in &runnable {
        let started = std::time::Instant::now();
        let (code, out) = run_line(&line.text, cwd.path(), &env);
        eprintln!("production guide: `{}` exited {code} in {:?}", line.text, started.elapsed());
        assert_eq!(code, 0, "docs/production.md: `{}` exited {code}:\n{out}\n--- logs ---\n{}", line.text, sys.logs());
        outputs.push((line.text.clone(), out));
    }
    let out_of =
        |prefix: &str| outputs.iter().find(|(l, _)| l.starts_with(prefix)).map(|(_, o)| o.clone()).unwrap_or_default();
    // What the page says each shows, on this system.
    assert!(out_of("snapsync preflight").contains("preflight ok"), "{}", out_of("snapsync preflight"));
    assert!(out_of("redis-cli -u \"$REDIS_URL\" CONFIG GET appendonly").contains("yes"));
    assert!(out_of("redis-cli -u \"$REDIS_URL\" CONFIG GET maxmemory-policy").contains("noeviction"));
    assert!(out_of("curl -fsS \"$SERVE_URL/metrics\"").contains("snapsync_queue_jobs"));
    if runnable.iter().any(|l| l.text.contains("--rdb snapsync-queue.rdb")) {
        let size = std::fs::metadata(cwd.path().join("snapsync-queue.rdb")).map(|m| m.len()).unwrap_or(0);
        assert!(size > 0, "redis-cli --rdb wrote no backup");
    }
    // The page ends the rehearsal with `snapsync mode live`: the mode in Redis says live.
    let mode = snapsync::mode::get(sys.queue.conn(), &sys.config.queue.prefix).await.expect("read the mode");
    assert_eq!(mode, Some(snapsync::mode::Mode::Live), "the mode after the page's commands");
    sys.stop().await;
}
