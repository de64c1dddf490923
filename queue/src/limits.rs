//! Rate-limit budgets shared by every process: a budget (an API, its rate-limit group, the
//! credential) allows `limit` calls per `window`, and the calls of all workers and producers
//! together stay within it.
//!
//! The split (why: `docs/rate-limits.md`):
//! - **Redis holds the budget**: a sliding log of the permits granted in the last window (plus a
//!   small margin for network jitter), taken one permit per call by an atomic script
//!   (`lua/limit_take.lua`). Any window of that length holds at most `limit` permits, whichever
//!   process took them, so the server's own window — fixed or sliding, wherever it starts — never
//!   sees more. What the API's headers say (a lower limit, fewer calls remaining than the log
//!   knows of) updates the budget for everyone (`lua/limit_observe.lua`); a 429 pauses it for
//!   everyone until its `Retry-After` (`lua/limit_pause.lua`).
//! - **Each process smooths and waits locally**: a `governor` limiter per budget keeps one
//!   process from asking Redis faster than the whole budget allows, and once Redis has said
//!   "nothing before T", the process's other callers of that budget wait for T without a round
//!   trip.
//! - **Urgent callers** (a voicemail follow-up, as opposed to the thousands of calls of an
//!   initial sync) may use the last `reserve` permits of a window that bulk callers may not, so
//!   a real-time job finds a permit at once in the middle of a bulk sync. The class is set per
//!   task with [`with_class`].
//! - **A long wait is not the job's to sit through**: [`Limiter::acquire`] waits in place up to
//!   the class's `max_wait`, then answers [`LimitError::Wait`] with how long is left; the job
//!   snoozes for that (no attempt spent) and frees its worker slot.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use redis::{AsyncCommands, Script};

use crate::conn::RedisConn;

static TAKE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/limit_take.lua")));
static OBSERVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/limit_observe.lua")));
static PAUSE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/limit_pause.lua")));

/// One budget: a name unique per (API, group, credential) and its configured ceiling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Letters, digits and `_ . : -`, e.g. `ringcentral:heavy:3f2a…`.
    pub name: String,
    pub limit: u32,
    pub window: Duration,
}

impl Budget {
    pub fn new(name: impl Into<String>, limit: u32, window: Duration) -> Budget {
        Budget { name: name.into(), limit: limit.max(1), window: window.max(Duration::from_millis(1)) }
    }
}

/// Who is asking: bulk work (syncs and their fan-out) or a real-time job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Class {
    #[default]
    Urgent,
    Bulk,
}

tokio::task_local! {
    static CLASS: Class;
    static PATIENCE: Duration;
}

/// Runs `fut` waiting up to `max_wait` for each permit, whatever the class allows: for the
/// later pages of a paged read, whose progress a snooze would throw away.
pub async fn with_patience<F: std::future::Future>(max_wait: Duration, fut: F) -> F::Output {
    PATIENCE.scope(max_wait, fut).await
}

/// Runs `fut` with every permit it takes counted as `class`.
pub async fn with_class<F: std::future::Future>(class: Class, fut: F) -> F::Output {
    CLASS.scope(class, fut).await
}

/// The class of the running task ([`Class::Urgent`] outside [`with_class`]).
pub fn current_class() -> Class {
    CLASS.try_with(|c| *c).unwrap_or_default()
}

/// How the limiter waits.
#[derive(Debug, Clone)]
pub struct LimiterOptions {
    /// Longest wait a bulk caller sits through before answering [`LimitError::Wait`].
    pub max_wait_bulk: Duration,
    /// Longest wait an urgent caller sits through.
    pub max_wait_urgent: Duration,
    /// Share of each budget of 20 or more a window kept for urgent callers, in percent (at least
    /// one permit when > 0).
    pub reserve_percent: u32,
    /// Added to each window: a permit granted at the end of one window and a request arriving
    /// late must not land in the server's next window twice over. `window / 50 + min_margin`.
    pub min_margin: Duration,
}

impl Default for LimiterOptions {
    fn default() -> Self {
        LimiterOptions {
            max_wait_bulk: Duration::from_millis(500),
            max_wait_urgent: Duration::from_secs(2),
            reserve_percent: 2,
            min_margin: Duration::from_millis(50),
        }
    }
}

/// A permit taken: hand it back to [`Limiter::settle`] with the answer's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permit {
    /// The permit's entry in the budget's log (0 = none: no budgets attached).
    entry: i64,
}

/// Why no permit was handed out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LimitError {
    /// The budget has no permit for this caller for `wait` more (paused after a 429 when
    /// `paused`): a wait, not a failure.
    #[error("rate-limit budget {budget} {}; next permit in {wait:?}", if *.paused { "paused after a 429" } else { "used up" })]
    Wait { budget: String, wait: Duration, paused: bool },
    #[error("rate-limit budget {budget}: redis: {source}")]
    Redis {
        budget: String,
        #[source]
        source: redis::RedisError,
    },
}

impl LimitError {
    pub fn wait(&self) -> Option<Duration> {
        match self {
            LimitError::Wait { wait, .. } => Some(*wait),
            LimitError::Redis { .. } => None,
        }
    }
}

/// The shared limiter of one process. Cheap to clone.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RedisConn,
    prefix: String,
    options: LimiterOptions,
    local: Mutex<HashMap<String, Arc<Local>>>,
}

/// What one process keeps of a budget.
struct Local {
    /// The governor pre-gate and the limit it was built for (over the budget's window).
    gate: Mutex<(u32, Arc<DefaultDirectRateLimiter>)>,
    /// Redis said: nothing before this (and whether it is a 429 pause), for bulk (0) and
    /// urgent (1) callers.
    blocked: Mutex<[Option<(Instant, bool)>; 2]>,
    registered: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("prefix", &self.inner.prefix).field("options", &self.inner.options).finish()
    }
}

fn gate(limit: u32, window: Duration) -> Arc<DefaultDirectRateLimiter> {
    let limit = NonZeroU32::new(limit.max(1)).unwrap_or(NonZeroU32::MIN);
    let period = (window / limit.get()).max(Duration::from_nanos(1));
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(limit)).allow_burst(limit);
    Arc::new(RateLimiter::direct(quota))
}

/// The keys of budget `name` under `prefix`: the log and the meta hash, in one cluster slot.
fn keys(prefix: &str, name: &str) -> (String, String) {
    let tag = format!("{{{prefix}:rl:{name}}}");
    (format!("{tag}:log"), format!("{tag}:meta"))
}

fn registry(prefix: &str) -> String {
    format!("{prefix}:rl:budgets")
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

impl Limiter {
    /// A limiter whose budgets live under `{prefix}:rl:…` in the Redis behind `conn`.
    pub fn new(conn: RedisConn, prefix: impl Into<String>, options: LimiterOptions) -> Limiter {
        Limiter { inner: Arc::new(Inner { conn, prefix: prefix.into(), options, local: Mutex::new(HashMap::new()) }) }
    }

    fn margin(&self, window: Duration) -> Duration {
        window / 50 + self.inner.options.min_margin
    }

    fn local(&self, budget: &Budget) -> Arc<Local> {
        let mut map = self.inner.local.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(budget.name.clone())
            .or_insert_with(|| {
                Arc::new(Local {
                    gate: Mutex::new((budget.limit, gate(budget.limit, budget.window))),
                    blocked: Mutex::new([None, None]),
                    registered: std::sync::atomic::AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// One permit of `budget` for the running task's class ([`current_class`]): at once when
    /// the budget has one, after a wait of at most the class's `max_wait`, else
    /// [`LimitError::Wait`] with how long is left.
    pub async fn acquire(&self, budget: &Budget) -> Result<Permit, LimitError> {
        let class = current_class();
        let urgent = class == Class::Urgent;
        let class_wait = if urgent { self.inner.options.max_wait_urgent } else { self.inner.options.max_wait_bulk };
        let max_wait = PATIENCE.try_with(|p| *p).map_or(class_wait, |p| p.max(class_wait));
        let local = self.local(budget);
        self.register(budget, &local).await;
        let started = Instant::now();
        let slot = usize::from(urgent);
        let wait_or_give_up = |wait: Duration, paused: bool| {
            if started.elapsed() + wait > max_wait {
                Err(LimitError::Wait { budget: budget.name.clone(), wait, paused })
            } else {
                Ok(wait)
            }
        };
        loop {
            // Redis said "not before T" to this process already: wait for T here.
            let blocked = local.blocked.lock().unwrap_or_else(|e| e.into_inner())[slot];
            if let Some((until, paused)) = blocked {
                let now = Instant::now();
                if until > now {
                    let wait = wait_or_give_up(until - now, paused)?;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            if !urgent {
                let gate = local.gate.lock().unwrap_or_else(|e| e.into_inner()).1.clone();
                if let Err(not_until) = gate.check() {
                    let wait = not_until.wait_time_from(governor::clock::Clock::now(gate.clock()));
                    let wait = wait_or_give_up(wait, false)?;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let (log, meta) = keys(&self.inner.prefix, &budget.name);
            let margin = self.margin(budget.window);
            let mut conn = self.inner.conn.clone();
            let reply: redis::RedisResult<(i64, i64, i64, i64, i64)> = TAKE
                .key(&log)
                .key(&meta)
                .arg(budget.limit)
                .arg(ms(budget.window))
                .arg(ms(margin))
                // The reserve is the script's to work out: it knows the limit in force.
                .arg(self.inner.options.reserve_percent.min(50))
                .arg(if urgent { "1" } else { "0" })
                .invoke_async(&mut conn)
                .await;
            let (granted, wait_ms, limit, used, entry) =
                reply.map_err(|source| LimitError::Redis { budget: budget.name.clone(), source })?;
            self.follow_limit(budget, &local, limit);
            if granted == 1 {
                return Ok(Permit { entry });
            }
            let wait = Duration::from_millis(wait_ms.max(1) as u64);
            let paused = used < 0;
            // As the budget's `waits` field counts them (Redis said "not yet"). Budget names
            // are fixed per deployment and carry a hash, never a credential.
            metrics::counter!("snapsync_rate_limit_waits_total", "budget" => budget.name.clone()).increment(1);
            {
                let until = Instant::now() + wait;
                let later = |cur: Option<(Instant, bool)>| match cur {
                    Some((u, p)) if u >= until => Some((u, p)),
                    _ => Some((until, paused)),
                };
                let mut b = local.blocked.lock().unwrap_or_else(|e| e.into_inner());
                b[slot] = Some((until, paused));
                // A pause stops both classes, and a window full for urgent callers is full for
                // bulk ones too; a window full for bulk callers says nothing of the reserve.
                if paused || urgent {
                    b[0] = later(b[0]);
                }
                if paused {
                    b[1] = later(b[1]);
                }
            }
            let wait = wait_or_give_up(wait, paused)?;
            // Spread: the callers woken by one freed permit should not all ask at once.
            let jitter = Duration::from_micros(rand::random::<u64>() % 2_000);
            tokio::time::sleep(wait + jitter).await;
        }
    }

    /// Rebuilds the governor gate when the effective limit changed (learned from headers).
    fn follow_limit(&self, budget: &Budget, local: &Local, limit: i64) {
        let limit = u32::try_from(limit.max(1)).unwrap_or(budget.limit);
        let mut g = local.gate.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 != limit {
            *g = (limit, gate(limit, budget.window));
        }
    }

    async fn register(&self, budget: &Budget, local: &Local) {
        use std::sync::atomic::Ordering;
        if local.registered.load(Ordering::Relaxed) {
            return;
        }
        let mut conn = self.inner.conn.clone();
        let added: redis::RedisResult<i64> = conn.sadd(registry(&self.inner.prefix), &budget.name).await;
        if added.is_ok() {
            local.registered.store(true, Ordering::Relaxed);
        }
    }

    /// What an answer's rate-limit headers said: the server's `limit` (a lower one than
    /// configured becomes the budget's limit for every process), the calls `remaining` in its
    /// window (fewer than the log knows of → the difference is added) and its `window`.
    pub async fn observe(
        &self,
        budget: &Budget,
        limit: Option<u32>,
        remaining: Option<u32>,
        window: Option<Duration>,
    ) -> Result<(), LimitError> {
        self.settle(budget, Permit::default(), limit, remaining, window).await
    }

    /// The answer to the call `permit` was taken for came back (whatever it said): the permit
    /// counts from now (the server counted the call no later than it answered), and the
    /// budget follows the answer's headers as in [`Limiter::observe`].
    pub async fn settle(
        &self,
        budget: &Budget,
        permit: Permit,
        limit: Option<u32>,
        remaining: Option<u32>,
        window: Option<Duration>,
    ) -> Result<(), LimitError> {
        if limit.is_none() && window.is_none() && permit.entry == 0 {
            return Ok(());
        }
        let (log, meta) = keys(&self.inner.prefix, &budget.name);
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut conn = self.inner.conn.clone();
        let added: i64 = OBSERVE
            .key(&log)
            .key(&meta)
            .arg(opt(limit.map(u64::from)))
            .arg(opt(remaining.map(u64::from)))
            .arg(opt(window.map(ms)))
            .arg(ms(budget.window))
            .arg(ms(self.margin(budget.window)))
            .arg(if permit.entry > 0 { permit.entry.to_string() } else { String::new() })
            .invoke_async(&mut conn)
            .await
            .map_err(|source| LimitError::Redis { budget: budget.name.clone(), source })?;
        if added > 0 {
            tracing::debug!(budget = %budget.name, added, "the server counts more calls than the budget's log; caught up");
        }
        if let Some(limit) = limit {
            if limit < budget.limit {
                let local = self.local(budget);
                self.follow_limit(budget, &local, i64::from(limit));
            }
        }
        Ok(())
    }

    /// A 429: `budget` is paused for every process for `wait` (a longer pause already set stays).
    pub async fn pause(&self, budget: &Budget, wait: Duration) -> Result<Duration, LimitError> {
        let (_, meta) = keys(&self.inner.prefix, &budget.name);
        let mut conn = self.inner.conn.clone();
        let left: i64 = PAUSE
            .key(&meta)
            .arg(ms(wait).max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(|source| LimitError::Redis { budget: budget.name.clone(), source })?;
        let left = Duration::from_millis(left.max(0) as u64);
        metrics::counter!("snapsync_rate_limit_pauses_total", "budget" => budget.name.clone()).increment(1);
        let local = self.local(budget);
        let until = Instant::now() + left;
        *local.blocked.lock().unwrap_or_else(|e| e.into_inner()) = [Some((until, true)), Some((until, true))];
        tracing::warn!(budget = %budget.name, pause = ?left, "rate limit hit (429); budget paused for every process");
        Ok(left)
    }
}

/// One budget as the inspection API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BudgetStats {
    pub name: String,
    /// The limit in force: the configured one, or a lower one the server's headers named.
    pub limit: u32,
    pub configured_limit: u32,
    /// The window the budget counts in (configured, or longer if the server said so), in ms.
    pub window_ms: u64,
    /// Permits handed out within the last window (plus margin).
    pub used: u32,
    /// Permits handed out since the budget was first used.
    pub granted: u64,
    /// Times a caller was told to wait (a full window or a pause).
    pub waits: u64,
    /// 429s that paused the budget.
    pub pauses: u64,
    /// Calls the server counted that the log did not know of (other clients, a lowered limit).
    pub synced: u64,
    /// Left of the current pause, in ms (0 = not paused).
    pub paused_for_ms: u64,
}

/// Every budget used under `prefix`, sorted by name.
pub async fn budgets(conn: &RedisConn, prefix: &str) -> redis::RedisResult<Vec<BudgetStats>> {
    let mut conn = conn.clone();
    let mut names: Vec<String> = conn.smembers(registry(prefix)).await?;
    names.sort();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await?;
    let now = secs * 1000 + micros / 1000;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let (log, meta) = keys(prefix, &name);
        let m: HashMap<String, String> = conn.hgetall(&meta).await?;
        let num = |k: &str| m.get(k).and_then(|v| v.parse::<u64>().ok());
        let configured = num("cfg_limit").unwrap_or(0);
        let limit = num("learned_limit").map_or(configured, |l| l.min(configured.max(1)));
        let span = num("span").unwrap_or(0);
        let used: u64 = conn.zcount(&log, now.saturating_sub(span), "+inf").await?;
        let window = num("cfg_window").unwrap_or(0).max(num("learned_window").unwrap_or(0));
        out.push(BudgetStats {
            name,
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            configured_limit: u32::try_from(configured).unwrap_or(u32::MAX),
            window_ms: window,
            used: u32::try_from(used).unwrap_or(u32::MAX),
            granted: num("granted").unwrap_or(0),
            waits: num("waits").unwrap_or(0),
            pauses: num("pauses").unwrap_or(0),
            synced: num("synced").unwrap_or(0),
            paused_for_ms: num("paused_until").map_or(0, |p| p.saturating_sub(now)),
        });
    }
    Ok(out)
}
