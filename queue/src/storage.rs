//! The queue's moves: enqueue, reserve, start, ack, fail, snooze, release, heartbeat, recover.
//! Each is one Lua script call over keys of one hash tag, every key passed in KEYS; per-job work
//! is O(1) or O(log n), commands are batched over a call's jobs, and every loop is bounded by
//! the call's arguments, so no call blocks Redis for long.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use redis::{Script, Value};

use crate::backoff::backoff;
use crate::conn::RedisConn;
use crate::keys::{check_token, Keys};
use crate::{
    Enqueued, FailOutcome, Failure, JobId, LeaseRef, LeaseToken, Leased, NewJob, QueueConfig, QueueError,
    ReserveTicket, Reserved, SnoozeOutcome, WorkerId, WorkerInfo,
};

const COMMON: &str = include_str!("lua/common.lua");

/// Most jobs one reserve call leases; a larger prefetch is filled by several calls.
pub const RESERVE_MAX: usize = 1_000;
/// Ids of discarded jobs one reserve call may skip beyond the jobs it was asked for.
pub const STALE_BUDGET: usize = 1_000;
/// Most jobs one enqueue call carries.
pub const ENQUEUE_CHUNK: usize = 1_000;
/// Most leases one start, ack, release or heartbeat call carries.
pub const SETTLE_CHUNK: usize = 1_000;

pub(crate) fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

pub(crate) struct Scripts {
    pub enqueue: Script,
    pub reserve: Script,
    pub reclaim: Script,
    pub start: Script,
    pub ack: Script,
    pub fail: Script,
    pub snooze: Script,
    pub heartbeat: Script,
    pub recover: Script,
    pub release: Script,
    pub retry: Script,
    pub discard: Script,
    pub purge: Script,
    pub pause: Script,
    pub workers: Script,
    pub oldest: Script,
}

impl Scripts {
    fn load() -> Scripts {
        Scripts {
            enqueue: script(include_str!("lua/enqueue.lua")),
            reserve: script(include_str!("lua/reserve.lua")),
            reclaim: script(include_str!("lua/reclaim.lua")),
            start: script(include_str!("lua/start.lua")),
            ack: script(include_str!("lua/ack.lua")),
            fail: script(include_str!("lua/fail.lua")),
            snooze: script(include_str!("lua/snooze.lua")),
            heartbeat: script(include_str!("lua/heartbeat.lua")),
            recover: script(include_str!("lua/recover.lua")),
            release: script(include_str!("lua/release.lua")),
            retry: script(include_str!("lua/admin_retry.lua")),
            discard: script(include_str!("lua/admin_discard.lua")),
            purge: script(include_str!("lua/admin_purge.lua")),
            pause: script(include_str!("lua/admin_pause.lua")),
            workers: script(include_str!("lua/inspect_workers.lua")),
            oldest: script(include_str!("lua/inspect_oldest.lua")),
        }
    }
}

/// A handle on one queue. Cheap to clone; every clone shares one self-healing connection.
#[derive(Clone)]
pub struct Queue {
    pub(crate) conn: RedisConn,
    pub(crate) config: Arc<QueueConfig>,
    pub(crate) keys: Arc<Keys>,
    pub(crate) scripts: Arc<Scripts>,
    rng: Arc<Mutex<StdRng>>,
}

impl Queue {
    /// Validates the config, then connects (a single Redis, or a Redis Cluster when the URL
    /// names several nodes; see [`RedisConn::connect`]).
    pub async fn connect(url: &str, config: QueueConfig) -> Result<Queue, QueueError> {
        config.validate().map_err(QueueError::Config)?;
        let conn = RedisConn::connect(url, Default::default()).await.map_err(QueueError::redis("connect"))?;
        Ok(Queue::with_conn(conn, config))
    }

    /// A queue over an existing connection (the config is validated by [`Queue::connect`] only).
    pub fn with_conn(conn: RedisConn, config: QueueConfig) -> Queue {
        let keys = Keys::new(&config.prefix, &config.queue);
        Queue {
            conn,
            config: Arc::new(config),
            keys: Arc::new(keys),
            scripts: Arc::new(Scripts::load()),
            rng: Arc::new(Mutex::new(StdRng::from_os_rng())),
        }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The connection this queue uses (shared; cheap to clone).
    pub fn conn(&self) -> &RedisConn {
        &self.conn
    }

    /// The hash tag every key of this queue starts with, e.g. `{snapsync:jobs}`.
    pub fn tag(&self) -> &str {
        self.keys.tag()
    }

    /// The queue's keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The SHA1 under which a script is sent (`EVALSHA`), by file name without `.lua`
    /// (`reserve`, `ack`, ...): lets a test recognise a call on the wire.
    pub fn script_sha(&self, name: &str) -> Option<String> {
        let s = &self.scripts;
        let script = match name {
            "enqueue" => &s.enqueue,
            "reserve" => &s.reserve,
            "reclaim" => &s.reclaim,
            "start" => &s.start,
            "ack" => &s.ack,
            "fail" => &s.fail,
            "snooze" => &s.snooze,
            "heartbeat" => &s.heartbeat,
            "recover" => &s.recover,
            "release" => &s.release,
            _ => return None,
        };
        Some(script.get_hash().to_string())
    }

    /// An invocation with the fixed keys, then `extra` keys.
    pub(crate) fn call<'a>(&self, s: &'a Script, extra: &[String]) -> redis::ScriptInvocation<'a> {
        let mut inv = s.prepare_invoke();
        for k in self.keys.fixed() {
            inv.key(k);
        }
        for k in extra {
            inv.key(k);
        }
        inv
    }

    pub(crate) fn conn_mut(&self) -> RedisConn {
        self.conn.clone()
    }

    /// Enqueues one job.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        let mut out = self.enqueue_batch(vec![job]).await?;
        out.pop().ok_or(QueueError::Reply { op: "enqueue", detail: "empty reply".into() })
    }

    /// Enqueues many jobs: [`ENQUEUE_CHUNK`] per script call, two calls in flight so the client
    /// builds the next chunk while Redis runs the current one. Calls go out in order on one
    /// connection, so Redis applies them in order. Every job is checked first (kind, id): an
    /// invalid one fails the whole call before anything is written.
    pub async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, QueueError> {
        for job in &jobs {
            check_token("job kind", &job.kind).map_err(QueueError::Invalid)?;
            if let Some(id) = &job.id {
                check_token("job id", &id.0).map_err(QueueError::Invalid)?;
            }
        }
        let mut results = Vec::with_capacity(jobs.len());
        let chunks: Vec<&[NewJob]> = jobs.chunks(ENQUEUE_CHUNK).collect();
        for pair in chunks.chunks(2) {
            let (ids_a, keys_a, args_a) = self.enqueue_args(pair[0]);
            let inv_a = self.enqueue_call(&keys_a, &args_a);
            match pair.get(1) {
                Some(second) => {
                    let (ids_b, keys_b, args_b) = self.enqueue_args(second);
                    let inv_b = self.enqueue_call(&keys_b, &args_b);
                    let (mut ca, mut cb) = (self.conn_mut(), self.conn_mut());
                    let (ra, rb) = tokio::try_join!(inv_a.invoke_async(&mut ca), inv_b.invoke_async(&mut cb))
                        .map_err(QueueError::redis("enqueue"))?;
                    merge_enqueued(ids_a, ra, &mut results);
                    merge_enqueued(ids_b, rb, &mut results);
                }
                None => {
                    let reply = inv_a.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("enqueue"))?;
                    merge_enqueued(ids_a, reply, &mut results);
                }
            }
        }
        Ok(results)
    }

    fn enqueue_call<'a>(&'a self, keys: &[String], args: &[String]) -> redis::ScriptInvocation<'a> {
        let mut inv = self.call(&self.scripts.enqueue, keys);
        for a in args {
            inv.arg(a);
        }
        inv
    }

    /// The ids, extra keys (unique keys) and arguments of one enqueue call.
    fn enqueue_args(&self, chunk: &[NewJob]) -> (Vec<JobId>, Vec<String>, Vec<String>) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut keys = Vec::new();
        let mut args = Vec::with_capacity(1 + chunk.len() * 8);
        args.push(self.config.unique_ttl.as_millis().to_string());
        for job in chunk {
            let id = job.id.clone().unwrap_or_else(JobId::generate);
            let max = job.max_attempts.unwrap_or_else(|| self.config.max_attempts_for(&job.kind)).max(1);
            let unique = match &job.unique_key {
                Some(u) => {
                    let (key, stored) = self.keys.unique(u);
                    keys.push(key);
                    stored
                }
                None => String::new(),
            };
            args.extend([
                id.0.clone(),
                job.kind.clone(),
                job.payload.clone(),
                max.to_string(),
                job.delay.map_or(0, |d| d.as_millis() as u64).to_string(),
                if job.id.is_some() { "1" } else { "0" }.to_string(),
                unique,
                if job.front { "1" } else { "0" }.to_string(),
            ]);
            ids.push(id);
        }
        (ids, keys, args)
    }

    /// Leases up to `k` ready jobs (at most [`RESERVE_MAX`]) to `worker`, promoting due
    /// scheduled and snoozed jobs first in bounded chunks. Nothing is reserved while paused.
    /// The jobs are not charged an attempt until [`Queue::start`]. `ticket` names this call: if
    /// its reply is lost, [`Queue::reclaim`] with the same ticket hands its leases back.
    pub async fn reserve(&self, worker: &WorkerId, k: usize, ticket: &ReserveTicket) -> Result<Reserved, QueueError> {
        let mut inv = self.call(&self.scripts.reserve, &[self.keys.receipt(&worker.0)]);
        inv.arg(&worker.0)
            .arg(self.config.lease.as_millis() as u64)
            .arg(k.clamp(1, RESERVE_MAX))
            .arg(self.config.promote_chunk)
            .arg(STALE_BUDGET)
            .arg(&ticket.0)
            .arg((self.config.lease * 2).as_millis() as u64);
        let reply: Vec<Value> = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("reserve"))?;
        if reply.len() < 3 {
            return Err(QueueError::Reply { op: "reserve", detail: format!("{} values", reply.len()) });
        }
        let next_due = int(&reply[0]);
        let mut out = Reserved {
            jobs: Vec::new(),
            next_due_in: (next_due >= 0).then(|| Duration::from_millis(next_due as u64)),
            paused: int(&reply[1]) == 1,
            more: int(&reply[2]) == 1,
        };
        for f in reply[3..].chunks_exact(7) {
            out.jobs.push(Leased {
                id: JobId(string(&f[0])),
                lease: LeaseToken(int(&f[1]).max(0) as u64),
                attempt: int(&f[2]).max(0) as u32,
                max_attempts: int(&f[3]).max(0) as u32,
                kind: string(&f[4]),
                payload: string(&f[5]),
                created_ms: int(&f[6]).max(0) as u64,
            });
        }
        Ok(out)
    }

    /// After a reserve whose reply was lost: hands back, uncharged, the leases that reserve
    /// made (if it ran), so none is left that nobody heartbeats. Idempotent. Returns how many.
    pub async fn reclaim(&self, worker: &WorkerId, ticket: &ReserveTicket) -> Result<usize, QueueError> {
        let mut inv = self.call(&self.scripts.reclaim, &[self.keys.receipt(&worker.0)]);
        inv.arg(&ticket.0);
        let n: i64 = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("reclaim"))?;
        Ok(n.max(0) as usize)
    }

    /// The runs of these leased jobs begin: each is marked started (charged when it ends). Returns, per lease
    /// in order, the attempt number of the run, or `None` when the lease is no longer held
    /// (the job must not run).
    pub async fn start(&self, leases: &[LeaseRef]) -> Result<Vec<Option<u32>>, QueueError> {
        let replies: Vec<Vec<i64>> = self.per_chunk(&self.scripts.start, "start", &[], leases).await?;
        Ok(replies.into_iter().flatten().map(|a| (a > 0).then_some(a as u32)).collect())
    }

    /// Marks done the jobs still leased under the tokens given (a stale run's ack changes
    /// nothing); returns how many took. Applies done-job retention, a bounded chunk per call.
    pub async fn ack(&self, leases: &[LeaseRef]) -> Result<usize, QueueError> {
        let head = [self.config.done_keep_count, self.config.done_keep_age.as_millis() as u64];
        let got: Vec<i64> = self.per_chunk(&self.scripts.ack, "ack", &head, leases).await?;
        Ok(got.into_iter().map(|n| n.max(0) as usize).sum())
    }

    /// One call of `script` per [`SETTLE_CHUNK`] leases: the `head` arguments, then an `id,
    /// token` pair per lease. The replies, one per call.
    async fn per_chunk<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        op: &'static str,
        head: &[u64],
        leases: &[LeaseRef],
    ) -> Result<Vec<T>, QueueError> {
        let mut replies = Vec::with_capacity(leases.len().div_ceil(SETTLE_CHUNK));
        for chunk in leases.chunks(SETTLE_CHUNK) {
            let mut inv = self.call(script, &[]);
            for a in head {
                inv.arg(*a);
            }
            for l in chunk {
                inv.arg(&l.id.0).arg(l.lease.0);
            }
            replies.push(inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis(op))?);
        }
        Ok(replies)
    }

    /// The backoff after failed attempt `attempt` under this queue's policy.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        backoff(attempt, self.config.backoff_base, self.config.backoff_cap, &mut *rng)
    }

    /// Records a failed run of `lease`, attempt `attempt`: retry later (an explicit delay wins
    /// over the backoff), or dead at once for a permanent error or when attempts are used up.
    pub async fn fail(&self, lease: &LeaseRef, attempt: u32, failure: Failure) -> Result<FailOutcome, QueueError> {
        let (error, delay, permanent) = match failure {
            Failure::Retry { after: Some(d), error } => (error, d, false),
            Failure::Retry { after: None, error } => (error, self.backoff(attempt), false),
            Failure::Permanent { error } => (error, Duration::ZERO, true),
        };
        let mut inv = self.call(&self.scripts.fail, &[]);
        inv.arg(&lease.id.0)
            .arg(lease.lease.0)
            .arg(truncate(&error, 2000))
            .arg(delay.as_millis() as u64)
            .arg(if permanent { "1" } else { "0" })
            .arg(self.config.dead_cap)
            .arg(self.config.dead_keep_age.as_millis() as u64);
        let n: i64 = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("fail"))?;
        Ok(fail_outcome(n, delay))
    }

    /// Puts a running job back for `delay` without spending an attempt (a rate-limit wait, a
    /// `Retry-After`, a record another run is writing). Past the job's snooze bound
    /// (`max_snoozed` in all) the snooze is recorded as a failed attempt instead.
    pub async fn snooze(
        &self,
        lease: &LeaseRef,
        attempt: u32,
        delay: Duration,
        reason: &str,
    ) -> Result<SnoozeOutcome, QueueError> {
        let fail_delay = self.backoff(attempt).max(delay);
        let mut inv = self.call(&self.scripts.snooze, &[]);
        inv.arg(&lease.id.0)
            .arg(lease.lease.0)
            .arg(delay.as_millis() as u64)
            .arg(truncate(reason, 500))
            .arg(self.config.max_snoozed.as_millis() as u64)
            .arg(fail_delay.as_millis() as u64)
            .arg(self.config.dead_cap)
            .arg(self.config.dead_keep_age.as_millis() as u64);
        let n: i64 = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("snooze"))?;
        Ok(match n {
            2 => SnoozeOutcome::Snoozed { after: delay },
            -1 => SnoozeOutcome::NotLeased,
            n => SnoozeOutcome::BoundPassed(fail_outcome(n, fail_delay)),
        })
    }

    /// Renews the leases held under these tokens and records the worker as alive. Returns the
    /// tokens of the leases it no longer holds (expired and recovered, discarded, retried by
    /// an operator): their runs must stop.
    pub async fn heartbeat(&self, worker: &WorkerInfo, leases: &[LeaseRef]) -> Result<Vec<LeaseToken>, QueueError> {
        let info = serde_json::to_string(worker).unwrap_or_else(|_| "{}".into());
        let stale = self.config.lease * crate::live_workers::GONE_AFTER_LEASES;
        let mut lost = Vec::new();
        // One call per chunk; the first also refreshes the worker's registry record, listing
        // its chunk's jobs (so at most SETTLE_CHUNK of them) as in flight.
        let chunks: Vec<&[LeaseRef]> =
            if leases.is_empty() { vec![&[]] } else { leases.chunks(SETTLE_CHUNK).collect() };
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut inv = self.call(&self.scripts.heartbeat, &[]);
            inv.arg(&worker.id.0)
                .arg(self.config.lease.as_millis() as u64)
                .arg(stale.as_millis() as u64)
                .arg(&info)
                .arg(if i == 0 { "1" } else { "0" });
            for l in chunk {
                inv.arg(&l.id.0).arg(l.lease.0);
            }
            let got: Vec<u64> = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("heartbeat"))?;
            lost.extend(got.into_iter().map(LeaseToken));
        }
        Ok(lost)
    }

    /// Returns jobs whose lease expired to ready (or dead once a started run used the last
    /// attempt); at most `limit` per call. Also applies age retention to done and dead jobs
    /// (bounded), so an idle queue sheds them too. Returns how many expired leases it handled.
    pub async fn recover_expired(&self, limit: usize) -> Result<usize, QueueError> {
        let mut inv = self.call(&self.scripts.recover, &[]);
        inv.arg(limit.clamp(1, RESERVE_MAX))
            .arg(self.config.dead_cap)
            .arg(self.config.dead_keep_age.as_millis() as u64)
            .arg(self.config.done_keep_count)
            .arg(self.config.done_keep_age.as_millis() as u64);
        let n: i64 = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("recover"))?;
        Ok(n.max(0) as usize)
    }

    /// Hands leased jobs back to the front of ready without charging them: prefetched jobs
    /// that never started, and runs cut by a shutdown. Returns how many were still held.
    pub async fn release(&self, leases: &[LeaseRef]) -> Result<usize, QueueError> {
        let got: Vec<i64> = self.per_chunk(&self.scripts.release, "release", &[], leases).await?;
        Ok(got.into_iter().map(|n| n.max(0) as usize).sum())
    }

    /// Removes a stopped worker from the live-worker registry.
    pub async fn deregister(&self, worker: &WorkerId) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        pipe.zrem(self.keys.get("workers"), &worker.0).ignore().hdel(self.keys.get("winfo"), &worker.0).ignore();
        pipe.query_async::<()>(&mut self.conn_mut()).await.map_err(QueueError::redis("deregister"))
    }

    /// A waiter on its own connection, for blocking until work arrives.
    pub fn waiter(&self) -> Waiter {
        Waiter { conn: self.conn.clone(), key: self.keys.get("wake").to_string(), blocking: None }
    }
}

/// Blocks an idle worker until an enqueue (or resume, or recovery, or a retry) pushes a wake
/// token, on a connection of its own so the shared one never blocks.
pub struct Waiter {
    conn: RedisConn,
    key: String,
    blocking: Option<RedisConn>,
}

impl Waiter {
    /// Waits up to `timeout` for work; true when woken by a token.
    pub async fn wait(&mut self, timeout: Duration) -> Result<bool, QueueError> {
        if self.blocking.is_none() {
            self.blocking = Some(self.conn.dedicated().await.map_err(QueueError::redis("connect waiter"))?);
        }
        let Some(conn) = self.blocking.as_mut() else { return Ok(false) };
        let secs = timeout.as_secs_f64().max(0.001);
        // The server times the block out; the client adds a margin in case the server died.
        let mut cmd = redis::cmd("BLPOP");
        cmd.arg(&self.key).arg(secs);
        let call = cmd.query_async::<Option<(String, String)>>(conn);
        match tokio::time::timeout(timeout + Duration::from_secs(2), call).await {
            Ok(Ok(v)) => Ok(v.is_some()),
            Ok(Err(e)) => {
                self.blocking = None;
                Err(QueueError::Redis { op: "wait", source: e })
            }
            Err(_) => {
                self.blocking = None;
                Ok(false)
            }
        }
    }

    /// Drops the blocking connection: an abandoned `BLPOP` still blocks it server-side, so the
    /// next wait must not queue behind it.
    pub fn reset(&mut self) {
        self.blocking = None;
    }
}

fn fail_outcome(n: i64, delay: Duration) -> FailOutcome {
    match n {
        1 => FailOutcome::Scheduled { after: delay },
        0 => FailOutcome::Dead,
        _ => FailOutcome::NotLeased,
    }
}

/// Every job of a call is created except those the script lists as duplicates
/// (`position, existing id` pairs, 1-based).
fn merge_enqueued(ids: Vec<JobId>, reply: Vec<Value>, out: &mut Vec<Enqueued>) {
    let base = out.len();
    out.extend(ids.into_iter().map(Enqueued::Created));
    for pair in reply.chunks_exact(2) {
        let position = int(&pair[0]);
        if let Some(slot) = usize::try_from(position - 1).ok().and_then(|i| out.get_mut(base + i)) {
            *slot = Enqueued::Duplicate(JobId(string(&pair[1])));
        }
    }
}

pub(crate) fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::BulkString(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0),
        Value::SimpleString(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

pub(crate) fn string(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
