//! `snapsync-demo`: the whole system on one machine against the sandbox, until Ctrl-C.
//! See the crate docs (`lib.rs`) and the README's "Run it" section.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use secrecy::ExposeSecret;
use snapsync::config::Config;
use snapsync_demo::binaries::{self, PRODUCER, WORKER};
use snapsync_demo::process::Proc;
use snapsync_demo::progress::{Progress, Records};
use snapsync_demo::redis;
use snapsync_queue::Queue;
use snapsync_sandbox::{Sandbox, SandboxConfig};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Runs Redis (if none answers), the sandbox, `snapsync serve` and two workers, syncs the
/// sandbox's fixture into the Snapshots stand-in and keeps syncing until Ctrl-C.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The config file (default: the repository's `config/sandbox.toml`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Worker processes to start.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// RingCentral rate-limit window in seconds, for the sandbox and the clients alike
    /// (RingCentral's is 60; a short one makes the first sync take seconds, not minutes).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    window_secs: u64,
    /// Overrides how often contacts and locations are re-synced (they have no webhook
    /// events); without it the config file's `[schedules]` apply (15 s in `config/sandbox.toml`).
    #[arg(long)]
    every: Option<String>,
    /// Do not run `cargo build` first (the binaries are already next to this one).
    #[arg(long)]
    no_build: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config_path = args.config.clone().unwrap_or_else(|| Path::new(ROOT).join("config/sandbox.toml"));
    let config = Config::load(Some(&config_path)).with_context(|| format!("config {}", config_path.display()))?;
    if !args.no_build {
        say("building snapsync and snapsync-worker");
        binaries::build()?;
    }
    let producer = binaries::locate(PRODUCER)?;
    let worker = binaries::locate(WORKER)?;
    let logs = tempfile::Builder::new().prefix("snapsync-demo-").tempdir()?;

    // Redis: reuse one that answers, else a private one on the configured port.
    let redis_url = config.redis.url.expose_secret().to_owned();
    let redis_port = url::Url::parse(&redis_url).ok().and_then(|u| u.port()).unwrap_or(6379);
    let private_redis = if redis::answers(redis_port) {
        say(&format!("redis: using the one answering on port {redis_port}"));
        None
    } else {
        let r = tokio::task::spawn_blocking(move || redis::start(redis_port)).await??;
        say(&format!("redis: started redis-server on port {redis_port} (AOF in {})", r.dir.path().display()));
        Some(r)
    };

    let window = Duration::from_secs(args.window_secs);
    let sandbox = Sandbox::bind(
        SandboxConfig { window, ..SandboxConfig::default() },
        addr_of(&config.ringcentral.server_url)?,
        addr_of(&config.snapshots.base_url)?,
    )
    .await
    .context("cannot start the sandbox on the configured ports (is another demo running?)")?;
    say(&format!("sandbox: RingCentral {} | Snapshots {}", sandbox.rc_url(), sandbox.snapshots_url()));

    let mut env = vec![
        ("SNAPSYNC__RATE_LIMITS__RINGCENTRAL__WINDOW", format!("{}s", args.window_secs)),
        ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())),
    ];
    if let Some(every) = &args.every {
        say(&format!("--every {every}: overrides the contacts and locations schedules of {}", config_path.display()));
        env.push(("SNAPSYNC__SCHEDULES__CONTACTS__EVERY", every.clone()));
        env.push(("SNAPSYNC__SCHEDULES__LOCATIONS__EVERY", every.clone()));
    }
    let command = |bin: &Path, serve: bool| {
        let mut cmd = Command::new(bin);
        if serve {
            cmd.arg("serve");
        }
        cmd.arg("--config").arg(&config_path).current_dir(ROOT).env_remove("SNAPSYNC_CONFIG");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd
    };
    let mut procs = vec![Proc::spawn("snapsync serve", command(&producer, true), &logs.path().join("serve.log"))?];
    for i in 1..=args.workers {
        let name = format!("snapsync-worker {i}");
        procs.push(Proc::spawn(&name, command(&worker, false), &logs.path().join(format!("worker-{i}.log")))?);
    }
    for p in &procs {
        say(&format!("{} (pid {}) → {}", p.name, p.id(), p.log.display()));
    }

    let queue = Queue::connect(&redis_url, config.queue_config()).await.context("cannot open the queue")?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let admin = format!("http://{}/dashboard", config.admin.bind);
    let outcome = watch(&mut procs, &queue, &http, &sandbox, &admin, &config_path).await;
    // Keep the logs when a job died: its worker's log has the whole story.
    let dead = queue.counts().await.map(|c| c.totals.dead).unwrap_or(0);

    say("stopping: SIGTERM to snapsync serve and the workers");
    for p in procs.iter_mut() {
        match p.terminate(Duration::from_secs(15)) {
            Some(status) => say(&format!("{} exited ({status})", p.name)),
            None => say(&format!("{} did not stop in 15 s; killed", p.name)),
        }
    }
    sandbox.stop().await;
    if let Some(r) = private_redis {
        r.stop();
        say("redis-server stopped");
    }
    // Keep the logs when something went wrong.
    match outcome {
        Ok(()) if dead > 0 => {
            let kept = logs.keep();
            say(&format!("stopped; {dead} job(s) died, so the logs are kept in {}", kept.display()));
            Ok(())
        }
        Ok(()) => {
            say("stopped");
            Ok(())
        }
        Err(e) => {
            let kept = logs.keep();
            Err(e.context(format!("logs kept in {}", kept.display())))
        }
    }
}

/// Prints progress every second until the first sync has settled, then the summary; from
/// then on a line for each record that changed in Snapshots, and at any time a line for each
/// job that died, with its reason. Returns on Ctrl-C/SIGTERM or when a child dies.
async fn watch(
    procs: &mut [Proc],
    queue: &Queue,
    http: &reqwest::Client,
    sandbox: &Sandbox,
    admin: &str,
    config_path: &Path,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut initial_done = false;
    let mut idle_polls = 0;
    let mut dead_seen = std::collections::HashSet::new();
    let mut records: Option<Records> = None;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = tick.tick() => {}
        }
        for p in procs.iter_mut() {
            if let Some(status) = p.exited() {
                anyhow::bail!("{} exited unexpectedly ({status}); its log:\n{}", p.name, tail(&p.log_text()));
            }
        }
        let now = Progress::read(queue, http, &sandbox.snapshots_url()).await;
        let secs = started.elapsed().as_secs();
        for line in snapsync_demo::progress::new_dead_jobs(queue, &mut dead_seen).await {
            println!("[{secs:>4}s] {line}");
        }
        if !initial_done {
            println!("[{secs:>4}s] {now}");
            // Settled: the three syncs have run and the queue stayed empty for two polls.
            idle_polls = if now.idle() && now.done >= 3 && now.leads > 0 { idle_polls + 1 } else { 0 };
            if idle_polls >= 2 {
                initial_done = true;
                summary(&now, secs, sandbox, admin, config_path);
                records = Records::read(http, &sandbox.snapshots_url()).await;
            }
        } else if let Some(latest) = Records::read(http, &sandbox.snapshots_url()).await {
            if let Some(before) = &records {
                for line in before.changes(&latest) {
                    println!("[{secs:>4}s] {line}");
                }
            }
            records = Some(latest);
        }
    }
}

fn summary(p: &Progress, secs: u64, sandbox: &Sandbox, admin: &str, config_path: &Path) {
    let rc = sandbox.rc_url();
    println!();
    println!("== initial sync done in {secs} s ==");
    println!(
        "   Snapshots now holds {} locations, {} accounts, {} leads, {} activities",
        p.locations, p.accounts, p.leads, p.activities
    );
    println!("   jobs: {} done, {} dead", p.done, p.dead);
    println!("   dashboard: {admin} (token: `admin.token` in {})", config_path.display());
    println!("   the queue from a shell: snapsync queue stats --config {}", config_path.display());
    println!();
    println!("Make a change in the sandbox and watch it arrive (Ctrl-C stops everything):");
    println!("  curl -s -XPOST {rc}/sandbox/extensions/400000101/contacts -H 'content-type: application/json' \\");
    println!("       -d '{{\"firstName\":\"Nora\",\"lastName\":\"Quist\",\"company\":\"Acme Corp\",\"email\":\"nora@acme.example.com\"}}'");
    println!("  curl -s -XPATCH {rc}/sandbox/sites/400000202 -H 'content-type: application/json' -d '{{\"name\":\"NYC Office\"}}'");
    println!("  curl -s -XPOST {rc}/sandbox/voicemail -H 'content-type: application/json' -d '{{}}'");
    println!(
        "  curl -s -XPOST {rc}/sandbox/calls/end -H 'content-type: application/json' -d '{{\"from\":{{\"phoneNumber\":\"+12125550142\"}}}}'"
    );
    println!(
        "  curl -s -XPOST {rc}/sandbox/messages -H 'content-type: application/json' -d '{{\"type\":\"SMS\",\"text\":\"hello\"}}'"
    );
    println!();
}

fn addr_of(url: &url::Url) -> anyhow::Result<std::net::SocketAddr> {
    let addrs = url.socket_addrs(|| None).with_context(|| format!("no address in {url}"))?;
    addrs.into_iter().next().with_context(|| format!("no address in {url}"))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn say(line: &str) {
    println!("snapsync-demo: {line}");
}
