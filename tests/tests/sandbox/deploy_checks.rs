//! `deploy/`, checked offline (deploy/README.md, "What the suite checks"):
//! - `deploy/redis.conf` runs a real `redis-server` (free port, temp dir): AOF on and fsync'ed
//!   always, no eviction, the dangerous commands refused, the queue's scripting commands
//!   accepted, and an acknowledged write survives a SIGKILL; the Sentinel example loads;
//! - the systemd units pass `systemd-analyze verify` (ExecStart pointed at stub executables in
//!   a temp copy), carry the hardening, and stop later than the processes' own deadlines;
//! - the Dockerfile, compose file, Kubernetes manifests, KEDA ScaledObject and Prometheus rules
//!   pass `deploy/tests/check_deploy.py` (PyYAML, `kubernetes-validate`, and `kubectl
//!   kustomize` when on PATH), and a broken copy of them fails it, naming each problem;
//! - every configuration deploy/ gives snapsync (compose's and Kubernetes' TOML plus their
//!   `SNAPSYNC__*` variables) loads with snapsync's own reader, and its
//!   `worker.shutdown_deadline` is below the stop grace the workers get there.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use snapsync::config::{Config, WorkerConfig};
use snapsync_testkit::{free_port, wait_until};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn deploy(path: &str) -> PathBuf {
    repo().join("deploy").join(path)
}

fn worker_deadline() -> Duration {
    WorkerConfig::default().shutdown_deadline
}

// --- Redis --------------------------------------------------------------------------------------

/// A redis-server (or Sentinel) started with a deploy/ file plus test-only overrides, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// `conf` is copied into `dir` with its `dir` line pointed there: Redis opens the file's
    /// `dir` while reading it, before any `--dir` override, and /var/lib/redis may not exist.
    fn start(conf: &Path, dir: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let text = std::fs::read_to_string(conf).unwrap();
        let text: String = text
            .lines()
            .map(|l| if l.starts_with("dir ") { format!("dir {}\n", dir.display()) } else { format!("{l}\n") })
            .collect();
        let copy = dir.join(format!("test-{}", conf.file_name().unwrap().to_string_lossy()));
        std::fs::write(&copy, text).unwrap();
        let child = Command::new("redis-server")
            .arg(&copy)
            .args(extra)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run redis-server (apt-get install redis-server, or .ci/run)");
        let mut server = Server { child, port };
        let log = dir.join("redis.log");
        wait_until(&format!("redis-server on {port} with {}", conf.display()), Duration::from_secs(10), || {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "redis-server exited ({status}) with {}:\n{}",
                    conf.display(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            server.conn_opt().and_then(|mut c| redis::cmd("PING").query::<String>(&mut c).ok())
        });
        server
    }

    fn conn_opt(&self) -> Option<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).ok()?.get_connection().ok()
    }

    fn conn(&self) -> redis::Connection {
        self.conn_opt().expect("connect to the test redis-server")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The value a redis.conf directive ends up with (the last occurrence wins, as in Redis).
fn conf_directive(text: &str, name: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(char::is_whitespace))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .next_back()
}

fn info_field(conn: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}:\n{info}"))
        .trim()
        .to_owned()
}

#[test]
fn redis_conf_is_accepted_by_a_real_redis_server() {
    let conf = deploy("redis.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    // What INFO does not show, read as Redis reads it.
    assert_eq!(conf_directive(&text, "appendonly").as_deref(), Some("yes"));
    assert_eq!(conf_directive(&text, "appendfsync").as_deref(), Some("always"), "a 200 must mean on disk");
    assert_eq!(conf_directive(&text, "maxmemory-policy").as_deref(), Some("noeviction"));

    let dir = tempfile::Builder::new().prefix("snapsync-deploy-redis-").tempdir().unwrap();
    let mut server = Server::start(&conf, dir.path(), &[]);
    let mut conn = server.conn();
    assert_eq!(info_field(&mut conn, "persistence", "aof_enabled"), "1");
    assert_eq!(info_field(&mut conn, "memory", "maxmemory_policy"), "noeviction");

    for command in ["FLUSHALL", "FLUSHDB", "KEYS", "DEBUG", "CONFIG"] {
        let mut cmd = redis::cmd(command);
        if command == "KEYS" {
            cmd.arg("*");
        } else if command == "CONFIG" {
            cmd.arg("GET").arg("dir");
        } else if command == "DEBUG" {
            cmd.arg("SLEEP").arg("0");
        }
        let err = cmd.query::<redis::Value>(&mut conn).expect_err(command);
        assert!(err.to_string().contains("unknown command"), "{command}: {err}");
    }
    // What the queue needs still works: its Lua scripts (EVAL, EVALSHA, SCRIPT), TIME, BLPOP.
    let sha: String =
        redis::cmd("SCRIPT").arg("LOAD").arg("return redis.call('SET', KEYS[1], ARGV[1])").query(&mut conn).unwrap();
    let _: redis::Value = redis::cmd("EVALSHA").arg(&sha).arg(1).arg("acked").arg("job-1").query(&mut conn).unwrap();
    let n: i64 = redis::cmd("EVAL").arg("return 7").arg(0).query(&mut conn).unwrap();
    assert_eq!(n, 7);
    let _: Vec<String> = redis::cmd("TIME").query(&mut conn).unwrap();

    // An acknowledged write survives a kill -9 (AOF, fsync'ed before the reply).
    server.kill();
    let server = Server::start(&conf, dir.path(), &[]);
    let value: Option<String> = redis::cmd("GET").arg("acked").query(&mut server.conn()).unwrap();
    assert_eq!(value.as_deref(), Some("job-1"), "the write acknowledged before SIGKILL is gone");
}

#[test]
fn sentinel_example_is_accepted_by_redis_sentinel() {
    let dir = tempfile::Builder::new().prefix("snapsync-deploy-sentinel-").tempdir().unwrap();
    // (Sentinel rewrites its file: Server::start runs a copy.)
    let server = Server::start(&deploy("sentinel.conf"), dir.path(), &["--sentinel"]);
    let master: Vec<String> = redis::cmd("SENTINEL").arg("MASTER").arg("snapsync").query(&mut server.conn()).unwrap();
    let field = |name: &str| master.iter().position(|f| f == name).map(|i| master[i + 1].clone());
    assert_eq!(field("name").as_deref(), Some("snapsync"), "{master:?}");
    assert_eq!(field("quorum").as_deref(), Some("2"), "{master:?}");
}

// --- systemd ------------------------------------------------------------------------------------

const UNITS: [&str; 2] = ["snapsync-serve.service", "snapsync-worker@.service"];

/// The unit files in a temp dir, ExecStart's binaries replaced by stub executables there
/// (`systemd-analyze verify` checks that ExecStart is executable).
fn units_in_temp(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix("snapsync-deploy-units-").tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for name in ["snapsync", "snapsync-worker"] {
        let stub = bin.join(name);
        std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for unit in UNITS {
        let text = std::fs::read_to_string(deploy("systemd").join(unit)).unwrap();
        assert!(text.contains("ExecStart=/usr/local/bin/"), "{unit}: ExecStart is not /usr/local/bin/...");
        let text = text.replace("ExecStart=/usr/local/bin/", &format!("ExecStart={}/", bin.display()));
        std::fs::write(dir.path().join(unit), edit(unit, text)).unwrap();
    }
    dir
}

/// `systemd-analyze verify` of the units (and a worker instance): its complaints about them
/// (it exits 0 on unknown directives, so its stderr lines naming our units count too).
fn verify(dir: &Path) -> Vec<String> {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(UNITS.iter().map(|u| dir.join(u)))
        .arg(dir.join("snapsync-worker@3.service"))
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze (Debian package systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut complaints: Vec<String> = stderr.lines().filter(|l| l.contains("snapsync")).map(str::to_owned).collect();
    if !out.status.success() {
        complaints.push(format!("systemd-analyze verify exited {}: {stderr}", out.status));
    }
    complaints
}

fn unit_directive(text: &str, name: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.trim().strip_prefix(&format!("{name}="))).map(str::to_owned).collect()
}

#[test]
fn systemd_units_pass_systemd_analyze_verify_and_are_hardened() {
    let dir = units_in_temp(|_, text| text);
    let complaints = verify(dir.path());
    assert!(complaints.is_empty(), "systemd-analyze verify:\n{}", complaints.join("\n"));

    for unit in UNITS {
        let text = std::fs::read_to_string(deploy("systemd").join(unit)).unwrap();
        for (key, want) in [
            ("DynamicUser", "yes"),
            ("ProtectSystem", "strict"),
            ("NoNewPrivileges", "yes"),
            ("Restart", "on-failure"),
            ("Environment", "SNAPSYNC_CONFIG=/etc/snapsync/snapsync.toml"),
            ("EnvironmentFile", "/etc/snapsync/secrets.env"),
        ] {
            assert_eq!(unit_directive(&text, key), [want], "{unit}: {key}");
        }
        let stop: u64 = unit_directive(&text, "TimeoutStopSec")[0].parse().expect("TimeoutStopSec in seconds");
        let own = if unit.starts_with("snapsync-worker") { worker_deadline() } else { snapsync_producer::DRAIN };
        assert!(Duration::from_secs(stop) > own, "{unit}: TimeoutStopSec={stop} is not above {own:?}");
    }
}

#[test]
fn systemd_analyze_verify_catches_a_broken_unit() {
    let dir = units_in_temp(|unit, text| {
        if unit.starts_with("snapsync-worker") {
            text.replace("TimeoutStopSec=", "TimeoutStopSecs=")
        } else {
            text.replace("ExecStart=", "ExecStart=/nonexistent")
        }
    });
    let complaints = verify(dir.path()).join("\n");
    assert!(complaints.contains("TimeoutStopSecs"), "{complaints}");
    assert!(complaints.contains("/nonexistent"), "{complaints}");
}

// --- Dockerfile, compose, Kubernetes, Prometheus (deploy/tests/check_deploy.py) ---------------

fn check_deploy(root: &Path) -> (bool, String) {
    let out = Command::new("python3")
        .arg(repo().join("deploy/tests/check_deploy.py"))
        .arg("--root")
        .arg(root)
        .arg("check")
        .arg("--worker-deadline-secs")
        .arg(worker_deadline().as_secs_f64().to_string())
        .arg("--serve-drain-secs")
        .arg(snapsync_producer::DRAIN.as_secs_f64().to_string())
        .output()
        .expect("run python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "deploy/tests/check_deploy.py needs PyYAML and kubernetes-validate (.ci/run installs them): {stderr}"
    );
    (out.status.success(), format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn deploy_files_pass_the_offline_checks() {
    let (ok, output) = check_deploy(&repo());
    println!("{output}");
    assert!(ok, "deploy/tests/check_deploy.py check:\n{output}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_offline_checks_catch_broken_deploy_files() {
    // A copy of what the checks read, with one fault per area.
    let copy = tempfile::Builder::new().prefix("snapsync-deploy-broken-").tempdir().unwrap();
    let root = copy.path();
    for dir in ["deploy", "mapping", "routing", "config", "queue/src", "shared/src", "producer/src", "worker/src"] {
        copy_tree(&repo().join(dir), &root.join(dir));
    }
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::copy(repo().join("docs/metrics.md"), root.join("docs/metrics.md")).unwrap();
    let (ok, output) = check_deploy(root);
    assert!(ok, "the unbroken copy fails:\n{output}");

    edit(&root.join("deploy/Dockerfile"), "USER 10001:10001\nEXPOSE 8090", "EXPOSE 8090");
    edit(&root.join("deploy/compose.yaml"), "- ./redis.conf:/usr/local/etc/redis/redis.conf:ro", "- redis-conf:/x");
    edit(
        &root.join("deploy/k8s/base/worker.yaml"),
        "terminationGracePeriodSeconds: 45",
        "terminationGracePeriodSeconds: 20",
    );
    edit(&root.join("deploy/k8s/base/serve.yaml"), "path: /readyz", "path: /ready");
    edit(&root.join("deploy/k8s/base/kustomization.yaml"), "  - pdb.yaml", "  - pdbs.yaml");
    edit(&root.join("deploy/k8s/base/scaledobject.yaml"), "snapsync_queue_due_jobs{", "snapsync_queue_due{");
    edit(&root.join("deploy/prometheus/snapsync-rules.yaml"), "snapsync_jobs_dead_total", "snapsync_jobs_died_total");
    edit(&root.join("deploy/k8s/base/secret.example.yaml"), "REPLACE_WITH_SNAPSHOTS_API_KEY", "sk_live_1234");
    let (ok, output) = check_deploy(root);
    assert!(!ok, "the broken copy passes:\n{output}");
    for expected in [
        "the runtime stage sets no USER",
        "redis does not mount ./redis.conf",
        "terminationGracePeriodSeconds 20 is not above worker.shutdown_deadline",
        "readinessProbe is not GET /readyz",
        "resource pdbs.yaml does not exist",
        "the query is not ready jobs plus due jobs",
        "metric snapsync_jobs_died_total is not in docs/metrics.md",
        "SNAPSYNC__SNAPSHOTS__API_KEY is not a placeholder",
    ] {
        assert!(output.contains(expected), "no problem {expected:?} in:\n{output}");
    }
}

#[derive(serde::Deserialize)]
struct DeployedConfig {
    name: String,
    toml: String,
    env: std::collections::BTreeMap<String, String>,
    worker_grace_secs: f64,
}

#[test]
fn every_config_deploy_gives_snapsync_loads_and_fits_the_stop_grace() {
    let out =
        Command::new("python3").arg(deploy("tests/check_deploy.py")).arg("configs").output().expect("run python3");
    assert!(out.status.success(), "check_deploy.py configs: {}", String::from_utf8_lossy(&out.stderr));
    let configs: Vec<DeployedConfig> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(configs.len(), 4, "compose production and sandbox, Kubernetes base and sandbox");
    for c in configs {
        assert!(!c.env.is_empty(), "{}: no SNAPSYNC__ variables", c.name);
        let config = Config::from_toml_str(&c.toml, c.env.clone())
            .unwrap_or_else(|e| panic!("{}: snapsync refuses its configuration: {e}", c.name));
        let deadline = config.worker.shutdown_deadline.as_secs_f64();
        assert!(
            c.worker_grace_secs > deadline,
            "{}: workers get {} s to stop, worker.shutdown_deadline is {deadline} s",
            c.name,
            c.worker_grace_secs
        );
        if let Some(url) = c.env.get("SNAPSYNC__REDIS__URL") {
            assert!(!url.contains("127.0.0.1"), "{}: redis.url {url} points at the container itself", c.name);
        }
    }
}
