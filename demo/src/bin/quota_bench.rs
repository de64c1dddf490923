//! `snapsync-quota-bench`: how close a sync of 10,000 contacts comes to the time the rate
//! limits allow, with 1, 2 and 4 worker processes.
//!
//! Each run starts from nothing: a private `redis-server`, the sandbox with 10,000 personal
//! contacts and compressed windows, `snapsync serve` and N `snapsync-worker` processes (the
//! release binaries when this runs with `--release`). It times the initial sync until every
//! lead is in the Snapshots stand-in, then reads the stand-ins' counters: the calls made per
//! budget (each RingCentral group, the Snapshots key), the ideal time the quotas allow —
//! `calls ÷ limit × window`, the largest over the budgets — their ratio (ideal ÷ measured;
//! 1.0 = as fast as the quotas allow) and the 429s. `docs/benchmarks.md` keeps a table.
//!
//! `cargo run --release -p snapsync-demo --bin snapsync-quota-bench -- --workers 1,2,4`

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use serde_json::Value;
use snapsync_demo::bench::{self, free_port, total_requests, BenchConfig};
use snapsync_demo::binaries::{self, PRODUCER, WORKER};
use snapsync_demo::process::Proc;
use snapsync_demo::redis;
use snapsync_sandbox::{RcLimits, Sandbox, SandboxConfig};

#[derive(Parser)]
#[command(about = "Syncs 10,000 contacts with 1, 2 and 4 workers; prints time, ideal time, ratio and 429s")]
struct Args {
    /// Worker process counts to run, one fresh system each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    workers: Vec<usize>,
    /// Personal contacts in the sandbox.
    #[arg(long, default_value_t = 10_000)]
    contacts: usize,
    /// Snapshots requests per window (the stand-in's limit and the config's).
    #[arg(long, default_value_t = 1_250)]
    snapshots_limit: u32,
    /// Rate-limit window of both stand-ins, in seconds.
    #[arg(long, default_value_t = 5)]
    window_secs: u64,
    /// Worker slots per process.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Do not run `cargo build` first.
    #[arg(long)]
    no_build: bool,
}

struct Run {
    workers: usize,
    secs: f64,
    ideal: f64,
    bound_by: String,
    limited: u64,
    snapshots_calls: u64,
    leads: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.no_build {
        eprintln!("building snapsync and snapsync-worker");
        binaries::build()?;
    }
    let mut runs = Vec::new();
    for &n in &args.workers {
        let run = one_run(&args, n).await.with_context(|| format!("the run with {n} workers"))?;
        eprintln!(
            "{} workers: {:.1} s, ideal {:.1} s ({}), ratio {:.2}, 429s {}",
            run.workers,
            run.secs,
            run.ideal,
            run.bound_by,
            run.ideal / run.secs,
            run.limited
        );
        runs.push(run);
    }
    println!("| workers | time (s) | ideal (s) | bound by | ratio | 429s | Snapshots requests per lead |");
    println!("|---:|---:|---:|---|---:|---:|---:|");
    for r in &runs {
        println!(
            "| {} | {:.1} | {:.1} | {} | {:.2} | {} | {:.2} |",
            r.workers,
            r.secs,
            r.ideal,
            r.bound_by,
            r.ideal / r.secs,
            r.limited,
            r.snapshots_calls as f64 / r.leads.max(1) as f64
        );
    }
    Ok(())
}

async fn one_run(args: &Args, workers: usize) -> anyhow::Result<Run> {
    let window = Duration::from_secs(args.window_secs);
    let redis_port = free_port()?;
    let redis = tokio::task::spawn_blocking(move || redis::start(redis_port)).await??;
    let rc_limits = RcLimits::default();
    let sandbox = Sandbox::start(SandboxConfig {
        contacts: Some(args.contacts),
        window,
        rc_limits,
        snapshots_rate_limit: args.snapshots_limit,
        snapshots_window: window,
        ..SandboxConfig::default()
    })
    .await?;
    let dir = tempfile::Builder::new().prefix("snapsync-quota-bench-").tempdir()?;
    let config = BenchConfig {
        redis_port,
        http_port: free_port()?,
        sandbox: &sandbox,
        rc_limits,
        rc_window_secs: args.window_secs,
        snapshots_limit: args.snapshots_limit,
        snapshots_window_secs: args.window_secs,
        concurrency: args.concurrency,
    };
    let config_file = dir.path().join("snapsync.toml");
    std::fs::write(&config_file, config.toml())?;
    let producer = binaries::locate(PRODUCER)?;
    let worker = binaries::locate(WORKER)?;
    let command = |bin: &Path, serve: bool| bench::command(bin, serve, &config_file, "QUOTA_BENCH_LOG");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let expected = snapsync_demo::progress::expected_leads(&sandbox) as u64;
    let started = Instant::now();
    let mut procs = vec![Proc::spawn("serve", command(&producer, true), &dir.path().join("serve.log"))?];
    for i in 0..workers {
        procs.push(Proc::spawn(
            &format!("worker-{i}"),
            command(&worker, false),
            &dir.path().join(format!("worker-{i}.log")),
        )?);
    }
    let snap_stats = format!("{}/sandbox/stats", sandbox.snapshots_url());
    let deadline = started + Duration::from_secs(1800);
    let mut next_report = started + Duration::from_secs(5);
    let secs = loop {
        let stats: Value = http.get(&snap_stats).send().await?.json().await?;
        let leads = stats["writes"]["by_collection"]["leads"]["creates"].as_u64().unwrap_or(0);
        if leads >= expected {
            break started.elapsed().as_secs_f64();
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(5);
            eprintln!("  {:>5.1} s: {leads} of {expected} leads", started.elapsed().as_secs_f64());
        }
        if let Some(p) = procs.iter_mut().find_map(|p| p.exited().map(|_| p.name.clone())) {
            bail!("{p} exited; logs in {}", dir.keep().display());
        }
        if Instant::now() > deadline {
            bail!("{leads} of {expected} leads after 30 min; logs in {}", dir.keep().display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rc: Value = http.get(format!("{}/sandbox/stats", sandbox.rc_url())).send().await?.json().await?;
    let sn: Value = http.get(&snap_stats).send().await?.json().await?;
    for p in procs.iter_mut() {
        p.terminate(Duration::from_secs(15));
    }
    if std::env::var_os("QUOTA_BENCH_LOG").is_some() {
        eprintln!("  logs kept in {}", dir.keep().display());
    }
    sandbox.stop().await;
    redis.stop();

    // The ideal time per budget: calls ÷ limit × window; the sync can go no faster than the
    // slowest budget allows.
    let w = window.as_secs_f64();
    let snapshots_calls = total_requests(&sn);
    let mut ideal = (snapshots_calls as f64 / f64::from(args.snapshots_limit) * w, "snapshots".to_string());
    for (group, g) in rc["groups"].as_object().into_iter().flatten() {
        let calls = g["admitted"].as_u64().unwrap_or(0) as f64;
        let limit = g["limit"].as_f64().unwrap_or(1.0).max(1.0);
        let t = calls / limit * w;
        if t > ideal.0 {
            ideal = (t, format!("ringcentral {group}"));
        }
    }
    let limited = rc["limited_total"].as_u64().unwrap_or(0) + sn["rate_limit"]["limited"].as_u64().unwrap_or(0);
    Ok(Run { workers, secs, ideal: ideal.0, bound_by: ideal.1, limited, snapshots_calls, leads: expected })
}
