//! `queue-test-worker`: a real worker process for the queue's process tests. It runs jobs
//! of kind `test` whose payload is `{"tag": "<unique>", "op": "...", "ms": n, "fail_times": n}`
//! and records each run on the same Redis:
//! - at the start of every run: `HINCRBY snapsync-test:runs <tag> 1` and
//!   `RPUSH snapsync-test:log "<tag> <worker-id> <attempt>"`;
//! - after the op succeeded (before the ack): `HINCRBY snapsync-test:done <tag> 1`.
//!
//! Ops: `noop`; `sleep` (`ms`); `sleep_first` (`ms` on the tag's first run only, then a
//! no-op: a run cut by a shutdown is handed back uncharged, so its rerun has the same attempt
//! number and only the run count tells it apart); `die` (SIGKILL of this process mid-job,
//! after `ms`); `fail` (retryable error); `permanent` (permanent error); `retry_after`
//! (retryable error with a `ms` delay); `panic`; `lock` (takes the lease lock on `key`;
//! when it is held by another run the job snoozes until it may be free; once taken it holds
//! it `ms`, then with `"then": "die"` SIGKILLs this process still holding it, otherwise
//! records the success and releases it). `fail`, `retry_after`, `panic`, `die` and `lock`'s
//! `die` misbehave on the first `fail_times` attempts and then succeed, or on every attempt
//! when `fail_times` is absent. A payload that is not this JSON goes to dead with the decode
//! error; another kind fails permanently.
//! Prints `ready <worker-id>` on stdout once registered; stops gracefully on SIGTERM/SIGINT.
//! Logs go to stderr without colours: tests read them from a file.

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;
use snapsync_queue::{connect, run, shutdown_signal, JobError, JobMeta, RedisBackend, WorkerOptions};
use snapsync_queue::{ConnOptions, LockError, QueueConfig, RedisConn};

#[derive(Parser)]
struct Cli {
    #[arg(long)]
    redis_url: String,
    #[arg(long)]
    prefix: String,
    #[arg(long, default_value = "jobs")]
    queue: String,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    #[arg(long, default_value_t = 4)]
    prefetch: usize,
    #[arg(long, default_value_t = 1000)]
    lease_ms: u64,
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    #[arg(long, default_value_t = 50)]
    backoff_base_ms: u64,
    #[arg(long, default_value_t = 400)]
    backoff_cap_ms: u64,
    #[arg(long, default_value_t = 5000)]
    shutdown_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Noop,
    Sleep,
    Die,
    Fail,
    Permanent,
    RetryAfter,
    Panic,
    SleepFirst,
    Lock,
}

/// What a `lock` job does once it holds its lock.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Then {
    /// Records the success, then releases the lock.
    #[default]
    Release,
    /// SIGKILLs the worker while holding the lock.
    Die,
}

#[derive(Debug, Deserialize)]
struct TestJob {
    tag: String,
    op: Op,
    #[serde(default)]
    ms: u64,
    fail_times: Option<u32>,
    /// `lock`: the key to lock.
    key: Option<String>,
    #[serde(default)]
    then: Then,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let cli = Cli::parse();
    let config = QueueConfig {
        prefix: cli.prefix,
        queue: cli.queue,
        lease: Duration::from_millis(cli.lease_ms),
        default_max_attempts: cli.max_attempts,
        backoff_base: Duration::from_millis(cli.backoff_base_ms),
        backoff_cap: Duration::from_millis(cli.backoff_cap_ms),
        ..QueueConfig::default()
    };
    let queue = connect(&cli.redis_url, config).await?;
    let log = RedisConn::connect(&cli.redis_url, ConnOptions::default()).await?;
    let options = WorkerOptions {
        concurrency: cli.concurrency,
        prefetch: cli.prefetch,
        shutdown_timeout: Duration::from_millis(cli.shutdown_ms),
        ..WorkerOptions::default()
    };
    let backend = RedisBackend::<TestJob>::new(queue, options);
    let handle = backend.handle();
    tokio::spawn(async move {
        handle.ready().await;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ready {}", handle.worker_id());
        let _ = out.flush();
    });
    let handler = move |job: TestJob, meta: JobMeta| handle_job(log.clone(), job, meta);
    run(backend, handler, shutdown_signal()).await?;
    Ok(())
}

async fn handle_job(mut log: RedisConn, job: TestJob, meta: JobMeta) -> Result<(), JobError> {
    if meta.kind != "test" {
        return Err(JobError::permanent(format!("unknown job kind {:?}: this worker runs only \"test\"", meta.kind)));
    }
    let entry = format!("{} {} {}", job.tag, meta.worker, meta.attempt);
    // Two commands, not a pipeline: on a Redis Cluster the two keys live in different slots,
    // and a pipeline may not span slots. Sent together on the one multiplexed connection,
    // they still cost one round trip.
    let (mut a, mut b) = (log.clone(), log.clone());
    let mut count = redis::cmd("HINCRBY");
    count.arg("snapsync-test:runs").arg(&job.tag).arg(1);
    let mut append = redis::cmd("RPUSH");
    append.arg("snapsync-test:log").arg(entry);
    let (runs, _) = tokio::try_join!(count.query_async::<u64>(&mut a), append.query_async::<i64>(&mut b))
        .map_err(|e| JobError::retry(format!("cannot record the run: {e}")))?;
    let misbehave = job.fail_times.is_none_or(|n| meta.attempt <= n);
    match job.op {
        Op::Noop => {}
        Op::Sleep => tokio::time::sleep(Duration::from_millis(job.ms)).await,
        Op::SleepFirst if runs == 1 => tokio::time::sleep(Duration::from_millis(job.ms)).await,
        Op::SleepFirst => {}
        Op::Die if misbehave => {
            tokio::time::sleep(Duration::from_millis(job.ms)).await;
            die().await;
        }
        Op::Lock => {
            let key = job.key.as_deref().ok_or_else(|| JobError::permanent("a lock job needs a `key`"))?;
            let guard = match meta.locks.acquire(key).await {
                Ok(guard) => guard,
                // Waiting for the holder is a snooze, not a failure: no attempt is spent. A
                // floor on the wait keeps a lock about to be free from spinning the job.
                Err(LockError::Busy { retry_in, .. }) => {
                    return Err(JobError::snooze(retry_in.max(Duration::from_millis(50)), format!("{key} is busy")))
                }
                Err(e) => return Err(JobError::retry(format!("cannot take the lock on {key}: {e}"))),
            };
            tokio::time::sleep(Duration::from_millis(job.ms)).await;
            if matches!(job.then, Then::Die) && misbehave {
                die().await;
            }
            record_done(&mut log, &job.tag).await?;
            guard.release().await.map_err(|e| JobError::retry(format!("cannot release the lock on {key}: {e}")))?;
            return Ok(());
        }
        Op::Fail if misbehave => return Err(JobError::retry(format!("planned failure on attempt {}", meta.attempt))),
        Op::RetryAfter if misbehave => {
            return Err(JobError::retry_after(Duration::from_millis(job.ms), "planned retry-after"))
        }
        Op::Panic if misbehave => panic!("planned panic on attempt {}", meta.attempt),
        Op::Permanent => return Err(JobError::permanent("planned permanent failure")),
        Op::Die | Op::Fail | Op::RetryAfter | Op::Panic => {}
    }
    record_done(&mut log, &job.tag).await
}

async fn record_done(log: &mut RedisConn, tag: &str) -> Result<(), JobError> {
    redis::cmd("HINCRBY")
        .arg("snapsync-test:done")
        .arg(tag)
        .arg(1)
        .query_async::<i64>(log)
        .await
        .map_err(|e| JobError::retry(format!("cannot record the success: {e}")))?;
    Ok(())
}

/// SIGKILL of this process, as a crash would: nothing after this runs.
async fn die() {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    std::future::pending::<()>().await;
}
