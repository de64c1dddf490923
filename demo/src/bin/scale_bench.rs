//! `snapsync-scale-bench`: how throughput grows with worker processes on an I/O-bound backlog.
//!
//! Each run starts from nothing: a private `redis-server`, the sandbox with `latency_ms`
//! added to every Snapshots API request (a fault rule on `/**`), and a paused queue holding
//! `--jobs` `upsert_contact` jobs, each carrying its contact (so a job is one Snapshots
//! `POST /leads`, plus the owners list routing reads once a minute per process, and no
//! RingCentral call). N `snapsync-worker` processes start; once all N heartbeat, the queue is
//! resumed and the drain is timed from the first job seen leaving `ready` to the last one
//! done (the queue's counts polled every 10 ms, with a deadline). The table gives jobs per
//! second, its ratio to the one-process run, the bound that latency sets
//! (`processes × concurrency ÷ latency`), the 429s and the CPU the drain cost redis-server,
//! the workers and this process (which hosts the sandbox).
//!
//! Without `--snapshots-limit` the quotas are out of the way (1,000,000 requests a minute).
//! With it, the Snapshots quota binds (`--snapshots-limit` per `--window-secs`, the stand-in's
//! limit and the config's): throughput should stay flat at the quota, with no 429s.
//!
//! `cargo run --release -p snapsync-demo --bin snapsync-scale-bench -- --workers 1,2,4,8`

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use serde_json::{json, Value};
use snapsync::config::Config;
use snapsync_demo::bench::{self, cpu_secs, free_port, total_requests, BenchConfig};
use snapsync_demo::binaries::{self, WORKER};
use snapsync_demo::process::Proc;
use snapsync_demo::redis;
use snapsync_queue::{NewJob, Queue};
use snapsync_sandbox::{RcLimits, Sandbox, SandboxConfig};

/// The quota when `--snapshots-limit` is not given: far above what any run asks.
const OUT_OF_THE_WAY: u32 = 1_000_000;

#[derive(Parser)]
#[command(about = "Drains an upsert_contact backlog against a slow Snapshots with 1, 2, 4 and 8 worker processes")]
struct Args {
    /// Worker process counts to run, one fresh system each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    workers: Vec<usize>,
    /// `upsert_contact` jobs in the backlog.
    #[arg(long, default_value_t = 6_000)]
    jobs: usize,
    /// Milliseconds added to every Snapshots API request.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// `worker.concurrency` of each process.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Snapshots requests per window; unset: out of the way (1,000,000 per 60 s).
    #[arg(long)]
    snapshots_limit: Option<u32>,
    /// The Snapshots window in seconds when `--snapshots-limit` is set.
    #[arg(long, default_value_t = 1)]
    window_secs: u64,
    /// Do not run `cargo build` first.
    #[arg(long)]
    no_build: bool,
}

struct Run {
    workers: usize,
    secs: f64,
    jobs: u64,
    requests: u64,
    limited: u64,
    cpu_redis: f64,
    cpu_workers: f64,
    cpu_bench: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.jobs as f64 / self.secs
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.jobs == 0 || args.concurrency == 0 || args.workers.contains(&0) {
        bail!("--jobs, --concurrency and every --workers count must be at least 1");
    }
    if !args.no_build {
        eprintln!("building snapsync and snapsync-worker");
        binaries::build()?;
    }
    let (limit, window) = match args.snapshots_limit {
        Some(l) => (l, args.window_secs),
        None => (OUT_OF_THE_WAY, 60),
    };
    let mut runs: Vec<Run> = Vec::new();
    for &n in &args.workers {
        let run = one_run(&args, n, limit, window).await.with_context(|| format!("the run with {n} workers"))?;
        eprintln!(
            "{n} processes: {} jobs in {:.2} s = {:.0} jobs/s, {:.0} Snapshots requests/s, 429s {}, CPU redis {:.0}% workers {:.0}% sandbox {:.0}%",
            run.jobs,
            run.secs,
            run.rate(),
            run.requests as f64 / run.secs,
            run.limited,
            run.cpu_redis,
            run.cpu_workers,
            run.cpu_bench
        );
        runs.push(run);
    }
    let quota = match args.snapshots_limit {
        Some(l) => format!("{:.0} requests/s", f64::from(l) / args.window_secs as f64),
        None => "out of the way".into(),
    };
    println!(
        "{} jobs, {} ms added per Snapshots request, concurrency {} per process, Snapshots quota {quota}",
        args.jobs, args.latency_ms, args.concurrency
    );
    println!("| processes | time (s) | jobs/s | × 1 process | latency bound (jobs/s) | Snapshots requests/s | 429s | CPU redis-server | CPU workers | CPU sandbox + bench |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = runs.first().map_or(1.0, Run::rate);
    for r in &runs {
        let bound = (r.workers * args.concurrency) as f64 * 1000.0 / args.latency_ms.max(1) as f64;
        println!(
            "| {} | {:.2} | {:.0} | {:.2} | {:.0} | {:.0} | {} | {:.0}% | {:.0}% | {:.0}% |",
            r.workers,
            r.secs,
            r.rate(),
            r.rate() / base,
            bound,
            r.requests as f64 / r.secs,
            r.limited,
            r.cpu_redis,
            r.cpu_workers,
            r.cpu_bench
        );
    }
    Ok(())
}

/// `upsert_contact` payload `i`: a contact with its own name, email and phone.
fn payload(i: usize) -> String {
    let id = 800_000_000 + i;
    json!({
        "v": 1,
        "extension_id": "400000101",
        "contact_id": id.to_string(),
        "contact": {
            "id": id.to_string(),
            "firstName": "Bench",
            "lastName": format!("Contact{i}"),
            "company": "Scale Corp",
            "email": format!("bench.{i}@scale.example.com"),
            "businessPhone": format!("+1212{:07}", i % 10_000_000),
        },
        "site_id": "400000201",
        "read_at": "2026-01-01T00:00:00.000Z",
    })
    .to_string()
}

async fn one_run(args: &Args, workers: usize, limit: u32, window_secs: u64) -> anyhow::Result<Run> {
    let redis_port = free_port()?;
    let redis = tokio::task::spawn_blocking(move || redis::start(redis_port)).await??;
    let rc_limits = RcLimits::default();
    let sandbox = Sandbox::start(SandboxConfig {
        rc_limits,
        snapshots_rate_limit: limit,
        snapshots_window: Duration::from_secs(window_secs),
        ..SandboxConfig::default()
    })
    .await?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let faults = format!("{}/sandbox/faults", sandbox.snapshots_url());
    let added = http.post(&faults).json(&json!({"route": "/**", "latency_ms": args.latency_ms})).send().await?;
    if !added.status().is_success() {
        bail!("the latency rule was refused: {}", added.text().await.unwrap_or_default());
    }

    let dir = tempfile::Builder::new().prefix("snapsync-scale-bench-").tempdir()?;
    let toml = BenchConfig {
        redis_port,
        http_port: free_port()?,
        sandbox: &sandbox,
        rc_limits,
        rc_window_secs: 60,
        snapshots_limit: limit,
        snapshots_window_secs: window_secs,
        concurrency: args.concurrency,
    }
    .toml();
    let config_file = dir.path().join("snapsync.toml");
    std::fs::write(&config_file, &toml)?;
    let config = Config::from_toml_str(&toml, []).map_err(|e| anyhow::anyhow!("the bench config: {e:?}"))?;
    let queue = Queue::connect(&format!("redis://127.0.0.1:{redis_port}"), config.queue_config()).await?;

    // The backlog, behind a pause, so every process is up before the first job starts.
    queue.pause().await?;
    let jobs: Vec<NewJob> = (0..args.jobs).map(|i| NewJob::new("upsert_contact", payload(i))).collect();
    for chunk in jobs.chunks(1_000) {
        queue.enqueue_batch(chunk.to_vec()).await?;
    }
    let worker = binaries::locate(WORKER)?;
    let mut procs = Vec::new();
    for i in 0..workers {
        procs.push(Proc::spawn(
            &format!("worker-{i}"),
            bench::command(&worker, false, &config_file, "SCALE_BENCH_LOG"),
            &dir.path().join(format!("worker-{i}.log")),
        )?);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while queue.workers().await?.live.len() < workers {
        if let Some(p) = procs.iter_mut().find_map(|p| p.exited().map(|_| p.name.clone())) {
            bail!("{p} exited; logs in {}", dir.keep().display());
        }
        if Instant::now() > deadline {
            bail!("not all {workers} workers heartbeat within 60 s; logs in {}", dir.keep().display());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let pids: Vec<u32> = procs.iter().map(Proc::id).collect();
    let cpu = |pids: &[u32]| pids.iter().filter_map(|&p| cpu_secs(p)).sum::<f64>();
    let (redis0, workers0, bench0) = (cpu(&[redis.proc.id()]), cpu(&pids), cpu(&[std::process::id()]));
    let total = args.jobs as u64;
    queue.resume().await?;
    let resumed = Instant::now();
    let deadline = resumed + Duration::from_secs(1800);
    let mut first_start: Option<Instant> = None;
    let mut next_report = resumed + Duration::from_secs(5);
    let (end, done) = loop {
        let c = queue.counts().await?;
        let now = Instant::now();
        let finished = c.totals.done + c.totals.dead;
        if first_start.is_none() && (finished > 0 || c.totals.running > 0) {
            first_start = Some(now);
        }
        if finished >= total && c.totals.running == 0 {
            if c.totals.dead > 0 {
                bail!("{} jobs dead; logs in {}", c.totals.dead, dir.keep().display());
            }
            break (now, c.totals.done);
        }
        if now >= next_report {
            next_report += Duration::from_secs(5);
            eprintln!("  {:>5.1} s: {finished} of {total} jobs", resumed.elapsed().as_secs_f64());
        }
        if let Some(p) = procs.iter_mut().find_map(|p| p.exited().map(|_| p.name.clone())) {
            bail!("{p} exited; logs in {}", dir.keep().display());
        }
        if now > deadline {
            bail!("{finished} of {total} jobs after 30 min; logs in {}", dir.keep().display());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let secs = (end - first_start.unwrap_or(resumed)).as_secs_f64();
    let share = |used: f64| 100.0 * used / secs;
    let cpu_redis = share(cpu(&[redis.proc.id()]) - redis0);
    let cpu_workers = share(cpu(&pids) - workers0);
    let cpu_bench = share(cpu(&[std::process::id()]) - bench0);

    let sn: Value = http.get(format!("{}/sandbox/stats", sandbox.snapshots_url())).send().await?.json().await?;
    let leads = sn["writes"]["by_collection"]["leads"]["creates"].as_u64().unwrap_or(0);
    if leads != total {
        bail!("{leads} leads created for {total} jobs; logs in {}", dir.keep().display());
    }
    let limited = sn["rate_limit"]["limited"].as_u64().unwrap_or(0);
    for p in procs.iter_mut() {
        p.terminate(Duration::from_secs(15));
    }
    if std::env::var_os("SCALE_BENCH_LOG").is_some() {
        eprintln!("  logs kept in {}", dir.keep().display());
    }
    sandbox.stop().await;
    redis.stop();
    Ok(Run { workers, secs, jobs: done, requests: total_requests(&sn), limited, cpu_redis, cpu_workers, cpu_bench })
}
