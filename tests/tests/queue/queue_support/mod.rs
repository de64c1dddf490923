//! Support for the `queue_*` end-to-end tests: a private Redis (or Redis Cluster), a
//! producer-side [`Queue`], real `queue-test-worker` processes ([`worker_process`]) and reads
//! of what they recorded.
//!
//! The test worker records every run in Redis, outside the queue's keys:
//! `HINCRBY snapsync-test:runs <tag> 1` and `RPUSH snapsync-test:log "<tag> <worker> <attempt>"`
//! when a run starts, `HINCRBY snapsync-test:done <tag> 1` when its op succeeded (before the
//! ack). "Ran exactly once" is read from those, the queue's state from its own keys.

pub mod worker_process;

use std::collections::HashMap;
use std::time::Duration;

use redis::AsyncCommands;
use serde_json::json;
use snapsync_queue::keys::Keys;
use snapsync_queue::{
    Attempt, ConnOptions, Enqueued, JobDetail, JobId, NewJob, Queue, QueueConfig, RedisConn, StateCounts,
};
use snapsync_testkit::{wait_until_async, RedisCluster, RedisServer};

pub use worker_process::{WorkerOpts, WorkerProcess};

/// The lease of [`queue_config`] and of `WorkerOpts::default()`, so of every worker here that
/// does not set its own, and the TTL of its jobs' lease locks.
pub const LEASE: Duration = Duration::from_millis(1000);

/// How soon a SIGKILLed worker's running job restarts on a live worker: the lease lapses at
/// most one [`LEASE`] after the victim's last renewal and every live worker recovers expired
/// leases every lease/2, so within 1.5 leases (plus a margin for a busy machine), not on some
/// later sweep.
pub fn restart_bound() -> Duration {
    LEASE + LEASE / 2 + Duration::from_millis(1500)
}

pub const RUNS: &str = "snapsync-test:runs";
pub const DONE: &str = "snapsync-test:done";
pub const LOG: &str = "snapsync-test:log";

/// What a test job does (the `op` of its payload).
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Noop,
    Sleep(u64),
    /// SIGKILLs its own worker mid-job.
    Die,
    /// Fails (retryable) on its first `n` attempts, then succeeds.
    Fail(u32),
    Permanent,
    /// Fails with an explicit retry delay of `ms` on its first `n` attempts.
    RetryAfter {
        ms: u64,
        times: u32,
    },
    Panic,
    /// Sleeps `ms` on the tag's first run only; a no-op on any later run.
    SleepFirst(u64),
    /// SIGKILLs its own worker after `ms`.
    DieAfter(u64),
    /// Takes the lease lock on `key` (snoozing while another run holds it), then either
    /// SIGKILLs its worker holding it (`die`) or succeeds and releases it.
    Lock {
        key: &'static str,
        die: bool,
    },
}

/// A `test` job tagged `tag` doing `op`.
pub fn job(tag: &str, op: Op) -> NewJob {
    let payload = match op {
        Op::Noop => json!({"tag": tag, "op": "noop"}),
        Op::Sleep(ms) => json!({"tag": tag, "op": "sleep", "ms": ms}),
        Op::Die => json!({"tag": tag, "op": "die"}),
        Op::Fail(n) => json!({"tag": tag, "op": "fail", "fail_times": n}),
        Op::Permanent => json!({"tag": tag, "op": "permanent"}),
        Op::RetryAfter { ms, times } => json!({"tag": tag, "op": "retry_after", "ms": ms, "fail_times": times}),
        Op::Panic => json!({"tag": tag, "op": "panic"}),
        Op::SleepFirst(ms) => json!({"tag": tag, "op": "sleep_first", "ms": ms}),
        Op::DieAfter(ms) => json!({"tag": tag, "op": "die", "ms": ms}),
        Op::Lock { key, die } => {
            json!({"tag": tag, "op": "lock", "key": key, "then": if die { "die" } else { "release" }})
        }
    };
    NewJob::new("test", payload.to_string())
}

/// One run as the worker logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub tag: String,
    pub worker: String,
    pub attempt: u32,
}

/// A private Redis (`S` = [`RedisServer`], or a [`RedisCluster`]), a queue handle on it and
/// a connection for reading the test keys.
pub struct Harness<S = RedisServer> {
    pub redis: S,
    /// The URL the queue, the reader and the worker processes connect with.
    pub url: String,
    pub prefix: String,
    pub queue: Queue,
    pub conn: RedisConn,
}

/// The queue's settings for `test`: the same attempts, lease and backoff as the workers'
/// defaults (`WorkerOpts::default()`); max attempts are stored on the job at enqueue, so the
/// producer's setting is the one that counts.
pub fn queue_config(test: &str) -> QueueConfig {
    QueueConfig {
        prefix: format!("e2e-{test}"),
        queue: "jobs".into(),
        lease: LEASE,
        default_max_attempts: 3,
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        ..QueueConfig::default()
    }
}

impl Harness<RedisServer> {
    pub async fn start(test: &str) -> Harness {
        Self::with_redis(RedisServer::start(), test).await
    }

    /// With AOF on, so the Redis can be killed and restarted without losing a write.
    pub async fn start_with_aof(test: &str) -> Harness {
        Self::with_redis(RedisServer::start_with_aof(), test).await
    }

    /// On a Redis that was started by the caller (a password, other options).
    pub async fn with_redis(redis: RedisServer, test: &str) -> Harness {
        let url = redis.url();
        Self::connect(redis, url, test).await
    }
}

impl Harness<RedisCluster> {
    /// On a Redis Cluster, every client connecting with `url` (a list of its nodes).
    pub async fn on_cluster(cluster: RedisCluster, url: String, test: &str) -> Harness<RedisCluster> {
        Self::connect(cluster, url, test).await
    }
}

impl<S> Harness<S> {
    async fn connect(redis: S, url: String, test: &str) -> Harness<S> {
        let config = queue_config(test);
        let prefix = config.prefix.clone();
        let queue = Queue::connect(&url, config).await.expect("connect the producer to the private redis");
        // Reading 100,000 counters at once takes longer than the default response timeout.
        let options = ConnOptions { response_timeout: Some(Duration::from_secs(30)), ..ConnOptions::default() };
        let conn = RedisConn::connect(&url, options).await.expect("connect the test reader to the private redis");
        Harness { redis, url, prefix, queue, conn }
    }

    /// The keys of the queue the workers of this harness serve.
    pub fn keys(&self) -> Keys {
        Keys::new(&self.prefix, "jobs")
    }

    /// Starts a worker process on this queue and waits until it is ready.
    pub fn worker(&self, opts: &WorkerOpts) -> WorkerProcess {
        WorkerProcess::spawn(&self.url, &self.prefix, opts)
    }

    /// Starts a worker connecting with another URL than the harness's (a proxy in front of
    /// its Redis, say).
    pub fn worker_via(&self, url: &str, opts: &WorkerOpts) -> WorkerProcess {
        WorkerProcess::spawn(url, &self.prefix, opts)
    }

    /// Starts a worker that may be killed by its first job before it prints `ready`.
    pub fn worker_may_die(&self, opts: &WorkerOpts) -> WorkerProcess {
        WorkerProcess::spawn_may_die(&self.url, &self.prefix, opts)
    }

    /// One of the queue's fixed keys by name (`running`, `counts`, ...), as
    /// [`Keys::get`] names it: `{prefix:jobs}:<name>`.
    pub fn key(&self, name: &str) -> String {
        self.keys().get(name).to_string()
    }

    /// Enqueues jobs; every one must be created. Ids are chosen here, so when Redis just came
    /// back and the call fails on a dropped connection, retrying it cannot create a job twice.
    pub async fn enqueue(&self, jobs: Vec<NewJob>) -> Vec<JobId> {
        let jobs: Vec<NewJob> =
            jobs.into_iter().map(|j| if j.id.is_some() { j } else { j.with_id(JobId::generate()) }).collect();
        let mut tries = 0;
        let out = loop {
            match self.queue.enqueue_batch(jobs.clone()).await {
                Ok(out) => break out,
                Err(e) if e.is_connection() && tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("enqueue: {e}"),
            }
        };
        // A retried call finds the jobs of an attempt that did land: report them as created.
        let out: Vec<Enqueued> =
            if tries > 0 { out.into_iter().map(|e| Enqueued::Created(e.id().clone())).collect() } else { out };
        out.into_iter()
            .map(|e| match e {
                Enqueued::Created(id) => id,
                Enqueued::Duplicate(id) => panic!("job {id} unexpectedly a duplicate"),
            })
            .collect()
    }

    fn conn(&self) -> RedisConn {
        self.conn.clone()
    }

    /// Runs per tag (a missing tag never started).
    pub async fn runs(&self) -> HashMap<String, u64> {
        self.conn().hgetall(RUNS).await.expect("HGETALL runs")
    }

    /// Successful ops per tag.
    pub async fn done(&self) -> HashMap<String, u64> {
        self.conn().hgetall(DONE).await.expect("HGETALL done")
    }

    pub async fn runs_of(&self, tag: &str) -> u64 {
        let n: Option<u64> = self.conn().hget(RUNS, tag).await.expect("HGET runs");
        n.unwrap_or(0)
    }

    pub async fn done_of(&self, tag: &str) -> u64 {
        let n: Option<u64> = self.conn().hget(DONE, tag).await.expect("HGET done");
        n.unwrap_or(0)
    }

    /// How many tags completed; `None` while Redis cannot be reached.
    pub async fn try_done_tags(&self) -> Option<u64> {
        self.conn().hlen(DONE).await.ok()
    }

    /// Every run, in the order they started.
    pub async fn log(&self) -> Vec<Run> {
        let lines: Vec<String> = self.conn().lrange(LOG, 0, -1).await.expect("LRANGE log");
        lines.iter().map(|l| parse_run(l)).collect()
    }

    /// The runs of one tag, in order.
    pub async fn runs_log(&self, tag: &str) -> Vec<Run> {
        self.log().await.into_iter().filter(|r| r.tag == tag).collect()
    }

    /// The job as a map of its fields under their short names — `k` kind, `s` state, `a`
    /// attempts, `m` max attempts, `w` worker, `e` last error, `r` dead reason, `f` finished ms,
    /// `d` due ms, `c` created ms, `h` history (JSON), `z` snoozes — read through the queue's inspection API;
    /// empty once the job is gone.
    pub async fn job_hash(&self, id: &JobId) -> HashMap<String, String> {
        let Some(job) = self.try_job(id).await else { return HashMap::new() };
        let s = &job.summary;
        let mut m = HashMap::new();
        m.insert("k".to_string(), s.kind.clone());
        m.insert("s".to_string(), s.state.to_string());
        m.insert("a".to_string(), s.attempts.to_string());
        m.insert("m".to_string(), s.max_attempts.to_string());
        m.insert("z".to_string(), s.snoozes.to_string());
        m.insert("c".to_string(), s.created_ms.to_string());
        let opt = [("w", s.worker.clone()), ("e", s.last_error.clone()), ("r", s.dead_reason.clone())];
        for (k, v) in opt {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        }
        if let Some(f) = s.finished_ms {
            m.insert("f".to_string(), f.to_string());
        }
        if let Some(d) = s.due_ms {
            m.insert("d".to_string(), d.to_string());
        }
        let h: Vec<serde_json::Value> = job
            .history
            .iter()
            .map(|a| json!({"t": a.at_ms, "w": a.worker, "a": a.attempt, "e": a.error.clone().unwrap_or_default()}))
            .collect();
        m.insert("h".to_string(), serde_json::Value::Array(h).to_string());
        m
    }

    /// The whole job, `None` when it is gone or Redis cannot be reached.
    pub async fn try_job(&self, id: &JobId) -> Option<JobDetail> {
        self.queue.get(id).await.ok().flatten()
    }

    /// The job's state, `None` when it is gone.
    pub async fn state(&self, id: &JobId) -> Option<String> {
        self.try_job(id).await.map(|j| j.summary.state.to_string())
    }

    /// The job's failed attempts, oldest first; empty when the job is gone.
    pub async fn history(&self, id: &JobId) -> Vec<Attempt> {
        self.try_job(id).await.map(|j| j.history).unwrap_or_default()
    }

    /// Waits until the job is in `state`; returns its hash.
    pub async fn wait_state(&self, id: &JobId, state: &str, timeout: Duration) -> HashMap<String, String> {
        let what = format!("job {id} to be {state}");
        wait_until_async(&what, timeout, || async {
            let h = self.job_hash(id).await;
            (h.get("s").map(String::as_str) == Some(state)).then_some(h)
        })
        .await
    }

    /// Waits until at least `n` tags completed.
    pub async fn wait_done_tags(&self, n: u64, timeout: Duration) {
        let what = format!("{n} tags to complete");
        wait_until_async(&what, timeout, || async { (self.try_done_tags().await? >= n).then_some(()) }).await
    }

    /// Sizes of the queue's structures: ready, scheduled, snoozed, running, done, dead.
    pub async fn sizes(&self) -> StateCounts {
        self.queue.counts().await.expect("read queue sizes").totals
    }

    /// The queue's per-state counts hash (`<state>:<kind>` → n).
    pub async fn counts(&self) -> HashMap<String, i64> {
        self.conn().hgetall(self.key("counts")).await.expect("HGETALL counts")
    }

    /// Redis's clock in ms (the clock every queue time is in).
    pub async fn redis_now_ms(&self) -> u64 {
        let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut self.conn()).await.expect("TIME");
        s * 1000 + us / 1000
    }

    /// Redis's clock in ms, `None` while Redis cannot be reached (the reader's connection
    /// heals on the call after the one that found it broken).
    pub async fn try_redis_now_ms(&self) -> Option<u64> {
        let (s, us): (u64, u64) = redis::cmd("TIME").query_async(&mut self.conn()).await.ok()?;
        Some(s * 1000 + us / 1000)
    }

    /// The worker's last heartbeat (Redis ms), from the live-worker registry.
    pub async fn last_beat(&self, worker: &str) -> Option<u64> {
        let score: Option<f64> = self.conn().zscore(self.key("workers"), worker).await.ok().flatten();
        score.map(|s| s as u64)
    }
}

/// A failed attempt's error, `""` when none was recorded.
pub fn error_of(attempt: &Attempt) -> &str {
    attempt.error.as_deref().unwrap_or_default()
}

fn parse_run(line: &str) -> Run {
    let mut parts = line.split(' ');
    let (Some(tag), Some(worker), Some(attempt), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("log line is not `<tag> <worker> <attempt>`: {line:?}");
    };
    Run {
        tag: tag.into(),
        worker: worker.into(),
        attempt: attempt.parse().unwrap_or_else(|_| panic!("attempt in log line {line:?}")),
    }
}

/// Asserts every tag in `tags` ran exactly once and completed exactly once.
pub async fn assert_each_once<S>(h: &Harness<S>, tags: &[String]) {
    let runs = h.runs().await;
    let done = h.done().await;
    let bad: Vec<String> = tags
        .iter()
        .filter_map(|t| {
            let (r, d) = (runs.get(t).copied().unwrap_or(0), done.get(t).copied().unwrap_or(0));
            (r != 1 || d != 1).then(|| format!("{t}: runs {r}, done {d}"))
        })
        .take(20)
        .collect();
    if !bad.is_empty() {
        let first = bad[0].split(':').next().unwrap_or_default();
        panic!("jobs not run exactly once (first 20): {bad:?}\nruns of {first}: {:?}", h.runs_log(first).await);
    }
}
