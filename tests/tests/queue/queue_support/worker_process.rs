//! One real `queue-test-worker` process: spawned with its flags, considered started once it
//! prints `ready <worker-id>`, stopped with real signals. Its stderr goes to a file whose tail
//! is printed when a test fails, so a failing run shows what the worker was doing.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use snapsync_testkit::poll_until;

/// The worker binary's flags; `Default` is the contract's defaults.
#[derive(Debug, Clone)]
pub struct WorkerOpts {
    pub queue: String,
    pub concurrency: usize,
    pub prefetch: usize,
    pub lease_ms: u64,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub shutdown_ms: u64,
}

impl Default for WorkerOpts {
    fn default() -> Self {
        WorkerOpts {
            queue: "jobs".into(),
            concurrency: 4,
            prefetch: 4,
            lease_ms: super::LEASE.as_millis() as u64,
            max_attempts: 3,
            backoff_base_ms: 50,
            backoff_cap_ms: 400,
            shutdown_ms: 5000,
        }
    }
}

impl WorkerOpts {
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    pub fn prefetch(mut self, n: usize) -> Self {
        self.prefetch = n;
        self
    }

    pub fn lease_ms(mut self, ms: u64) -> Self {
        self.lease_ms = ms;
        self
    }

    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    pub fn backoff_ms(mut self, base: u64, cap: u64) -> Self {
        self.backoff_base_ms = base;
        self.backoff_cap_ms = cap;
        self
    }

    pub fn shutdown_ms(mut self, ms: u64) -> Self {
        self.shutdown_ms = ms;
        self
    }

    fn args(&self, redis_url: &str, prefix: &str) -> Vec<String> {
        let pairs = [
            ("--redis-url", redis_url.to_string()),
            ("--prefix", prefix.to_string()),
            ("--queue", self.queue.clone()),
            ("--concurrency", self.concurrency.to_string()),
            ("--prefetch", self.prefetch.to_string()),
            ("--lease-ms", self.lease_ms.to_string()),
            ("--max-attempts", self.max_attempts.to_string()),
            ("--backoff-base-ms", self.backoff_base_ms.to_string()),
            ("--backoff-cap-ms", self.backoff_cap_ms.to_string()),
            ("--shutdown-ms", self.shutdown_ms.to_string()),
        ];
        pairs.into_iter().flat_map(|(k, v)| [k.to_string(), v]).collect()
    }
}

/// How long a worker may take to print `ready` (a debug build on a busy 2-core machine).
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running worker process. Dropping it SIGKILLs and reaps it.
pub struct WorkerProcess {
    child: Child,
    id: String,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl WorkerProcess {
    /// Spawns the worker and waits for its `ready <worker-id>` line.
    pub fn spawn(redis_url: &str, prefix: &str, opts: &WorkerOpts) -> WorkerProcess {
        Self::start(redis_url, prefix, opts, false)
    }

    /// Like [`WorkerProcess::spawn`], but a worker that exits before printing `ready` is
    /// returned as it is (with an empty id): it may reserve a job that kills it before the
    /// line is out.
    pub fn spawn_may_die(redis_url: &str, prefix: &str, opts: &WorkerOpts) -> WorkerProcess {
        Self::start(redis_url, prefix, opts, true)
    }

    fn start(redis_url: &str, prefix: &str, opts: &WorkerOpts, may_die: bool) -> WorkerProcess {
        let dir = tempfile::Builder::new().prefix("queue-test-worker-").tempdir().expect("create a temp dir for logs");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("create the worker's stderr log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_queue-test-worker"))
            .args(opts.args(redis_url, prefix))
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn queue-test-worker");
        let stdout = child.stdout.take().expect("the worker's stdout is piped");
        let (tx, rx) = mpsc::channel();
        // Reads stdout to the end so the worker never blocks on a full pipe; the first
        // `ready` line is handed over.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("ready ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(id.trim().to_string());
                    }
                }
            }
        });
        let mut worker = WorkerProcess { child, id: String::new(), stderr_path, _dir: dir };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(id) => {
                    worker.id = id;
                    return worker;
                }
                // Timeout: not ready yet. Disconnected: stdout closed without `ready`, so the
                // process is exiting; the exit check below reports it once it is reaped.
                Err(e) if Instant::now() < deadline => {
                    if e == mpsc::RecvTimeoutError::Disconnected {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    if let Ok(Some(status)) = worker.child.try_wait() {
                        if may_die {
                            return worker;
                        }
                        panic!("queue-test-worker exited ({status}) before ready:\n{}", worker.stderr_tail(40));
                    }
                }
                Err(_) => panic!(
                    "queue-test-worker printed no `ready` line within {READY_TIMEOUT:?}:\n{}",
                    worker.stderr_tail(40)
                ),
            }
        }
    }

    /// The worker id it printed (the `w` of the jobs it leases).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash or an OOM kill would, and reap it.
    pub fn kill(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGTERM: asks for a graceful stop; see [`WorkerProcess::wait_exit`].
    pub fn terminate(&self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("send SIGTERM to the worker");
    }

    /// Waits up to `timeout` for the process to exit; panics with its log if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match poll_until(timeout, || self.try_exit()) {
            Some(status) => status,
            None => panic!("worker {} still running {timeout:?} later:\n{}", self.id, self.stderr_tail(40)),
        }
    }

    /// The exit status once the process has exited (reaped), else `None`.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// Everything the worker wrote to stderr so far (its log, without colours).
    pub fn stderr(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.stderr_path) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The last `n` lines the worker wrote to stderr.
    pub fn stderr_tail(&self, n: usize) -> String {
        let text = self.stderr();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- stderr of worker {} (last 30 lines) ---\n{}", self.id, self.stderr_tail(30));
        }
        self.kill();
    }
}
