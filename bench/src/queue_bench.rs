//! `snapsync-bench queue`: the queue benchmark with the peers' shape (bench/peers):
//! 20,000 no-op jobs with a ~200-byte JSON payload on the isolated bench Redis, FLUSHALL
//! first, the clock covering only the measured phase, and one `RESULT` line at the end.

use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use snapsync_queue::WorkerOptions;
use snapsync_queue::{Queue, QueueConfig};

use crate::bench_redis::{client_cpu_seconds, BenchRedis};
use crate::{drain_apalis, drain_storage, enqueue};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// `Queue::enqueue` awaited one job at a time.
    EnqueueSingle,
    /// `Queue::enqueue_batch` in sequential chunks of `--chunk`.
    EnqueueBatch,
    /// Fill the queue (untimed), then time one worker pool draining it until every job is acked.
    Drain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DrainPath {
    /// The real worker path: `snapsync_queue::RedisBackend` run by apalis.
    Apalis,
    /// `Queue::reserve`/`ack` called directly: the storage alone, not the worker path.
    Storage,
}

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// The bench Redis; FLUSHALLed before the run, so port 6379 is refused.
    #[arg(long, env = "BENCH_REDIS_URL", default_value = "redis://127.0.0.1:6390")]
    redis_url: String,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Jobs enqueued, or drained in the timed window.
    #[arg(long, default_value_t = 20_000)]
    jobs: u64,
    /// Handlers running at once in the drain.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Jobs per `enqueue_batch` call in enqueue-batch mode.
    #[arg(long, default_value_t = 1000)]
    chunk: u64,
    /// Drain: fill this many jobs first (untimed) and time the drain of the first `--jobs` of them.
    #[arg(long)]
    backlog: Option<u64>,
    /// Drain: which consumer drains the queue.
    #[arg(long, value_enum, default_value = "apalis")]
    path: DrainPath,
    /// Drain: jobs reserved ahead into the worker's buffer (default: the concurrency).
    #[arg(long)]
    prefetch: Option<usize>,
    /// Print Redis's per-command statistics for the timed window to stderr.
    #[arg(long)]
    commandstats: bool,
}

/// One measured run.
struct Measured {
    name: String,
    jobs: u64,
    seconds: f64,
    redis_cpu: f64,
    client_cpu: f64,
}

pub async fn run(args: QueueArgs) -> anyhow::Result<()> {
    let config = QueueConfig { prefix: "bench".into(), queue: "noop".into(), ..QueueConfig::default() };
    let mut redis = BenchRedis::connect(&args.redis_url, &format!("{{{}:{}}}", config.prefix, config.queue)).await?;
    redis.flushall().await?;
    let queue = Queue::connect(&args.redis_url, config).await.context("connecting the queue")?;

    let m = match args.mode {
        Mode::EnqueueSingle | Mode::EnqueueBatch => measure_enqueue(&args, &queue, &mut redis).await?,
        Mode::Drain => measure_drain(&args, &queue, &mut redis).await?,
    };
    if args.commandstats {
        eprintln!("{}", redis.commandstats().await?);
    }
    let per_job = |s: f64| s / m.jobs as f64 * 1e6;
    println!(
        "RESULT name={} jobs={} seconds={:.3} jobs_per_s={} redis_cpu_us_per_job={:.1} client_cpu_us_per_job={:.1}{}",
        m.name,
        m.jobs,
        m.seconds,
        (m.jobs as f64 / m.seconds).round() as u64,
        per_job(m.redis_cpu),
        per_job(m.client_cpu),
        args.backlog.map(|b| format!(" backlog={b}")).unwrap_or_default(),
    );
    Ok(())
}

async fn measure_enqueue(args: &QueueArgs, queue: &Queue, redis: &mut BenchRedis) -> anyhow::Result<Measured> {
    let name = match args.mode {
        Mode::EnqueueSingle => "snapsync.enqueue.single".to_string(),
        _ => format!("snapsync.enqueue.batch{}", args.chunk),
    };
    let (cpu0, t0) = start(redis, args.commandstats).await?;
    let created = match args.mode {
        Mode::EnqueueSingle => enqueue::single(queue, args.jobs).await?,
        _ => enqueue::batch(queue, args.jobs, args.chunk).await?,
    };
    let seconds = t0.elapsed().as_secs_f64();
    let (redis_cpu, client_cpu) = stop(redis, cpu0).await?;
    let ready = redis.depth().await?.ready;
    if created != args.jobs || ready != args.jobs {
        bail!("verification failed: expected {} jobs ready, created {created}, ready {ready}", args.jobs);
    }
    Ok(Measured { name, jobs: args.jobs, seconds, redis_cpu, client_cpu })
}

async fn measure_drain(args: &QueueArgs, queue: &Queue, redis: &mut BenchRedis) -> anyhow::Result<Measured> {
    let backlog = args.backlog.unwrap_or(args.jobs).max(args.jobs);
    let filled = enqueue::fill(queue, backlog).await?;
    if filled != backlog || redis.depth().await?.ready != backlog {
        bail!("fill failed: {filled} of {backlog} jobs enqueued");
    }
    let prefetch = args.prefetch.unwrap_or_else(|| WorkerOptions::default_prefetch(args.concurrency)).max(1);
    let mut name = match args.path {
        DrainPath::Apalis => format!("snapsync.drain.c{}", args.concurrency),
        DrainPath::Storage => format!("snapsync.drain_storage.c{}", args.concurrency),
    };
    if args.prefetch.is_some() {
        name.push_str(&format!(".prefetch{prefetch}"));
    }
    if backlog > args.jobs {
        name.push_str(&format!(".backlog{backlog}"));
    }

    let (cpu0, t0) = start(redis, args.commandstats).await?;
    let (acked, seconds, redis_cpu, client_cpu) = match args.path {
        DrainPath::Storage => {
            let acked = drain_storage::drain(queue.clone(), args.concurrency, prefetch, args.jobs).await?;
            let seconds = t0.elapsed().as_secs_f64();
            let (redis_cpu, client_cpu) = stop(redis, cpu0).await?;
            (acked, seconds, redis_cpu, client_cpu)
        }
        DrainPath::Apalis => {
            let pool =
                drain_apalis::drain(queue.clone(), redis, args.concurrency, prefetch, backlog, args.jobs).await?;
            let seconds = t0.elapsed().as_secs_f64();
            let (redis_cpu, client_cpu) = stop(redis, cpu0).await?;
            // Untimed: the graceful stop hands back what the pool still holds.
            let ran = pool.stop().await?;
            (ran, seconds, redis_cpu, client_cpu)
        }
    };

    // Every job acked: nothing dead, and (without a backlog) nothing left anywhere.
    let depth = redis.depth().await?;
    let left = backlog - args.jobs;
    if acked < args.jobs || depth.dead != 0 || (left == 0 && depth.pending() != 0) {
        bail!("verification failed: acked {acked} of {}, queue after the run: {depth:?}", args.jobs);
    }
    Ok(Measured { name, jobs: args.jobs, seconds, redis_cpu, client_cpu })
}

/// Starts the timed window: Redis and client CPU clocks, then the wall clock.
async fn start(redis: &mut BenchRedis, reset_stats: bool) -> anyhow::Result<((f64, f64), Instant)> {
    if reset_stats {
        redis.reset_stats().await?;
    }
    Ok(((redis.cpu_seconds().await?, client_cpu_seconds()), Instant::now()))
}

async fn stop(redis: &mut BenchRedis, cpu0: (f64, f64)) -> anyhow::Result<(f64, f64)> {
    let client = client_cpu_seconds() - cpu0.1;
    Ok((redis.cpu_seconds().await? - cpu0.0, client))
}
