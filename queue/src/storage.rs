//! The queue's moves: enqueue, reserve, ack, fail, heartbeat, recover. Each is one Lua
//! script call over keys of one hash tag; per-job work inside a script is O(1) or O(log n)
//! and every loop is bounded by its arguments, so no call blocks Redis for long.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};

use crate::backoff::backoff;
use crate::Enqueued;
use crate::{FailOutcome, Failure, JobId, Leased, NewJob, QueueConfig, QueueError, Reserved, WorkerId, WorkerInfo};

const COMMON: &str = include_str!("lua/common.lua");

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

struct Scripts {
    enqueue: Script,
    reserve: Script,
    ack: Script,
    fail: Script,
    heartbeat: Script,
    recover: Script,
    release: Script,
}

impl Scripts {
    fn load() -> Scripts {
        Scripts {
            enqueue: script(include_str!("lua/enqueue.lua")),
            reserve: script(include_str!("lua/reserve.lua")),
            ack: script(include_str!("lua/ack.lua")),
            fail: script(include_str!("lua/fail.lua")),
            heartbeat: script(include_str!("lua/heartbeat.lua")),
            recover: script(include_str!("lua/recover.lua")),
            release: script(include_str!("lua/release.lua")),
        }
    }
}

/// A handle on one queue. Cheap to clone; every clone shares one auto-reconnecting
/// multiplexed connection.
#[derive(Clone)]
pub struct Queue {
    pub(crate) conn: ConnectionManager,
    pub(crate) client: redis::Client,
    pub(crate) config: Arc<QueueConfig>,
    /// `{prefix:queue}`: every key of this queue starts with it.
    pub(crate) tag: String,
    scripts: Arc<Scripts>,
    rng: Arc<Mutex<StdRng>>,
}

impl Queue {
    /// Connects (retrying with backoff inside the connection manager) after validating the config.
    pub async fn connect(url: &str, config: QueueConfig) -> Result<Queue, QueueError> {
        config.validate().map_err(QueueError::Config)?;
        let client = redis::Client::open(url).map_err(QueueError::redis("open"))?;
        let cm_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_with_config(client.clone(), cm_config)
            .await
            .map_err(QueueError::redis("connect"))?;
        let tag = format!("{{{}:{}}}", config.prefix, config.queue);
        Ok(Queue {
            conn,
            client,
            config: Arc::new(config),
            tag,
            scripts: Arc::new(Scripts::load()),
            rng: Arc::new(Mutex::new(StdRng::from_os_rng())),
        })
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The key prefix shared by every key of this queue, e.g. `{snapsync:jobs}`.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub(crate) fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.tag)
    }

    fn invocation<'a>(&self, s: &'a Script) -> redis::ScriptInvocation<'a> {
        // KEYS[1] is only there so a cluster routes the call to the queue's slot.
        let mut inv = s.key(self.key("ready"));
        inv.arg(&self.tag);
        inv
    }

    /// Enqueues one job.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        let mut out = self.enqueue_batch(vec![job]).await?;
        out.pop().ok_or(QueueError::Reply { op: "enqueue", detail: "empty reply".into() })
    }

    /// Enqueues many jobs: 1,000 per script call, two calls in flight so the client builds
    /// the next chunk while Redis runs the current one. Calls go out in order on one
    /// connection, so Redis applies them in order.
    pub async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, QueueError> {
        let mut results = Vec::with_capacity(jobs.len());
        let chunks: Vec<&[NewJob]> = jobs.chunks(1000).collect();
        for pair in chunks.chunks(2) {
            let (ids_a, inv_a) = self.enqueue_call(pair[0]);
            match pair.get(1) {
                Some(second) => {
                    let (ids_b, inv_b) = self.enqueue_call(second);
                    let (mut ca, mut cb) = (self.conn.clone(), self.conn.clone());
                    let (ra, rb) = tokio::try_join!(inv_a.invoke_async(&mut ca), inv_b.invoke_async(&mut cb))
                        .map_err(QueueError::redis("enqueue"))?;
                    merge_enqueued(ids_a, ra, &mut results);
                    merge_enqueued(ids_b, rb, &mut results);
                }
                None => {
                    let reply =
                        inv_a.invoke_async(&mut self.conn.clone()).await.map_err(QueueError::redis("enqueue"))?;
                    merge_enqueued(ids_a, reply, &mut results);
                }
            }
        }
        Ok(results)
    }

    /// One enqueue script call for `chunk`, with the ids it will create.
    fn enqueue_call(&self, chunk: &[NewJob]) -> (Vec<JobId>, redis::ScriptInvocation<'_>) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut inv = self.invocation(&self.scripts.enqueue);
        for job in chunk {
            let id = job.id.clone().unwrap_or_else(JobId::generate);
            let max = job.max_attempts.unwrap_or_else(|| self.config.max_attempts_for(&job.kind));
            inv.arg(&id.0)
                .arg(&job.kind)
                .arg(&job.payload)
                .arg(max)
                .arg(job.delay.map_or(0, |d| d.as_millis() as u64))
                .arg(job.unique_key.as_deref().unwrap_or(""))
                .arg(self.config.unique_ttl.as_millis() as u64)
                .arg(if job.id.is_some() { "1" } else { "0" });
            ids.push(id);
        }
        (ids, inv)
    }

    /// Leases up to `k` ready jobs to `worker` (promoting due scheduled jobs first, in a
    /// bounded chunk). Nothing is reserved while the queue is paused.
    pub async fn reserve(&self, worker: &WorkerId, k: usize) -> Result<Reserved, QueueError> {
        let mut inv = self.invocation(&self.scripts.reserve);
        inv.arg(&worker.0).arg(self.config.lease.as_millis() as u64).arg(k.max(1)).arg(self.config.promote_chunk);
        let reply: Vec<Value> = inv.invoke_async(&mut self.conn.clone()).await.map_err(QueueError::redis("reserve"))?;
        if reply.len() < 2 {
            return Err(QueueError::Reply { op: "reserve", detail: format!("{} values", reply.len()) });
        }
        let next_due = int(&reply[0]);
        let mut out = Reserved {
            jobs: Vec::new(),
            next_due_in: (next_due >= 0).then(|| Duration::from_millis(next_due as u64)),
            paused: int(&reply[1]) == 1,
        };
        for f in reply[2..].chunks(5) {
            if f.len() < 5 {
                break;
            }
            out.jobs.push(Leased {
                id: JobId(string(Some(&f[0]))),
                kind: string(Some(&f[1])),
                payload: string(Some(&f[2])),
                attempt: int(&f[3]).max(0) as u32,
                max_attempts: int(&f[4]).max(0) as u32,
            });
        }
        Ok(out)
    }

    /// Marks jobs done; returns how many were still leased to `worker` (the rest had lost
    /// their lease and are left alone). Applies done-job retention, a bounded chunk per call.
    pub async fn ack(&self, worker: &WorkerId, ids: &[JobId]) -> Result<usize, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut inv = self.invocation(&self.scripts.ack);
        inv.arg(&worker.0).arg(self.config.done_keep_count).arg(self.config.done_keep_age.as_millis() as u64);
        for id in ids {
            inv.arg(&id.0);
        }
        let n: i64 = inv.invoke_async(&mut self.conn.clone()).await.map_err(QueueError::redis("ack"))?;
        Ok(n.max(0) as usize)
    }

    /// Records a failed attempt: retry later (explicit delay wins over the backoff), or dead
    /// at once for a permanent error or when attempts are used up.
    pub async fn fail(&self, worker: &WorkerId, job: &Leased, failure: Failure) -> Result<FailOutcome, QueueError> {
        let (error, delay, permanent) = match failure {
            Failure::Retry { after: Some(d), error } => (error, d, false),
            Failure::Retry { after: None, error } => {
                let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                let d = backoff(job.attempt, self.config.backoff_base, self.config.backoff_cap, &mut *rng);
                (error, d, false)
            }
            Failure::Permanent { error } => (error, Duration::ZERO, true),
        };
        let mut inv = self.invocation(&self.scripts.fail);
        inv.arg(&worker.0)
            .arg(&job.id.0)
            .arg(truncate(&error, 2000))
            .arg(delay.as_millis() as u64)
            .arg(if permanent { "1" } else { "0" })
            .arg(self.config.dead_cap);
        let n: i64 = inv.invoke_async(&mut self.conn.clone()).await.map_err(QueueError::redis("fail"))?;
        Ok(match n {
            1 => FailOutcome::Scheduled { after: delay },
            0 => FailOutcome::Dead,
            _ => FailOutcome::NotLeased,
        })
    }

    /// Renews the leases of `ids` held by this worker and records it as alive. Returns the
    /// ids it no longer holds (their lease expired and another worker may run them).
    pub async fn heartbeat(&self, worker: &WorkerInfo, ids: &[JobId]) -> Result<Vec<JobId>, QueueError> {
        let mut inv = self.invocation(&self.scripts.heartbeat);
        let info = serde_json::to_string(worker).unwrap_or_else(|_| "{}".into());
        inv.arg(&worker.id.0)
            .arg(self.config.lease.as_millis() as u64)
            .arg((self.config.lease * 3).as_millis() as u64)
            .arg(info);
        for id in ids {
            inv.arg(&id.0);
        }
        let lost: Vec<String> =
            inv.invoke_async(&mut self.conn.clone()).await.map_err(QueueError::redis("heartbeat"))?;
        Ok(lost.into_iter().map(JobId).collect())
    }

    /// Returns jobs whose lease expired to ready (or dead after max attempts); at most
    /// `limit` per call. Returns how many expired leases it handled.
    pub async fn recover_expired(&self, limit: usize) -> Result<usize, QueueError> {
        let mut inv = self.invocation(&self.scripts.recover);
        inv.arg(limit.max(1)).arg(self.config.dead_cap);
        let n: i64 = inv.invoke_async(&mut self.conn.clone()).await.map_err(QueueError::redis("recover"))?;
        Ok(n.max(0) as usize)
    }

    /// Hands prefetched jobs that never started back to ready (front of the line) without
    /// counting an attempt; a stopping worker's explicit hand-back. Returns how many were
    /// still leased to `worker` (the rest are left alone).
    pub async fn release(&self, worker: &WorkerId, ids: &[JobId]) -> Result<usize, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut inv = self.invocation(&self.scripts.release);
        inv.arg(&worker.0);
        for id in ids {
            inv.arg(&id.0);
        }
        let n: i64 = inv.invoke_async(&mut self.conn.clone()).await.map_err(QueueError::redis("release"))?;
        Ok(n.max(0) as usize)
    }

    /// Removes a stopped worker from the live-worker registry.
    pub async fn deregister(&self, worker: &WorkerId) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        pipe.zrem(self.key("workers"), &worker.0).ignore().del(self.key(&format!("worker:{}", worker.0))).ignore();
        pipe.query_async::<()>(&mut self.conn.clone()).await.map_err(QueueError::redis("deregister"))
    }

    /// A dedicated connection for blocking on the wake list.
    pub async fn waiter(&self) -> Result<Waiter, QueueError> {
        Ok(Waiter { client: self.client.clone(), key: self.key("wake"), conn: None })
    }
}

/// Blocks an idle worker until an enqueue (or resume, or recovery) pushes a wake token,
/// on its own connection so the shared one never blocks.
pub struct Waiter {
    client: redis::Client,
    key: String,
    conn: Option<redis::aio::MultiplexedConnection>,
}

impl Waiter {
    /// Waits up to `timeout` for work; true when woken by a token.
    pub async fn wait(&mut self, timeout: Duration) -> Result<bool, QueueError> {
        if self.conn.is_none() {
            let cfg = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(None);
            let conn = self
                .client
                .get_multiplexed_async_connection_with_config(&cfg)
                .await
                .map_err(QueueError::redis("connect waiter"))?;
            self.conn = Some(conn);
        }
        let Some(conn) = self.conn.as_mut() else { return Ok(false) };
        let secs = timeout.as_secs_f64().max(0.001);
        // The server times the block out; the client adds a margin in case the server died.
        let mut cmd = redis::cmd("BLPOP");
        cmd.arg(&self.key).arg(secs);
        let call = cmd.query_async::<Option<(String, String)>>(conn);
        match tokio::time::timeout(timeout + Duration::from_secs(2), call).await {
            Ok(Ok(v)) => Ok(v.is_some()),
            Ok(Err(e)) => {
                self.conn = None;
                Err(QueueError::Redis { op: "wait", source: e })
            }
            Err(_) => {
                self.conn = None;
                Ok(false)
            }
        }
    }
}

/// Every job of a call is created except those the script lists as duplicates
/// (`position, existing id` pairs, 1-based).
fn merge_enqueued(ids: Vec<JobId>, reply: Vec<Value>, out: &mut Vec<Enqueued>) {
    let base = out.len();
    out.extend(ids.into_iter().map(Enqueued::Created));
    for pair in reply.chunks(2) {
        let position = int(&pair[0]);
        if let Some(slot) = usize::try_from(position - 1).ok().and_then(|i| out.get_mut(base + i)) {
            *slot = Enqueued::Duplicate(JobId(string(pair.get(1))));
        }
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::BulkString(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0),
        Value::SimpleString(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn string(v: Option<&Value>) -> String {
    match v {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        Some(Value::Int(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
