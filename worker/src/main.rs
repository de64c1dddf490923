//! `snapsync-worker`: runs sync jobs from the Redis queue until SIGTERM/SIGINT. Loads the
//! typed `Config` (`--config FILE` or `SNAPSYNC_CONFIG`, then `SNAPSYNC__*` overrides), lets
//! the flags below override it, builds the clients and runs every job through
//! `jobs::dispatch`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use snapsync::config::Config;
use snapsync_queue::config::MAX_PREFETCH;
use snapsync_queue::{run, shutdown_signal, RedisBackend, WorkerOptions};
use snapsync_worker::jobs::{dispatch, Context};

/// snapsync-worker: runs sync jobs from the Redis queue.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The config file (TOML); without it, defaults and `SNAPSYNC__*` variables only.
    #[arg(long, env = "SNAPSYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Overrides `redis.url`.
    #[arg(long)]
    redis_url: Option<String>,
    /// Overrides `queue.prefix`.
    #[arg(long)]
    prefix: Option<String>,
    /// Overrides `queue.name`.
    #[arg(long)]
    queue: Option<String>,
    /// Jobs run at once, 1 to 10000 (overrides `worker.concurrency`).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Jobs reserved ahead of free slots, 1 to 10000 (overrides `worker.prefetch`).
    #[arg(long)]
    prefetch: Option<usize>,
    /// Lease of a reserved job in ms, renewed every third of it (overrides `worker.lease`).
    #[arg(long)]
    lease_ms: Option<u64>,
    /// On SIGTERM, how long running jobs may take to finish (overrides `worker.shutdown_deadline`).
    #[arg(long)]
    shutdown_secs: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(env_filter()).init();
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(url) = cli.redis_url {
        config.redis.url = url.into();
    }
    if let Some(prefix) = cli.prefix {
        config.queue.prefix = prefix;
    }
    if let Some(name) = cli.queue {
        config.queue.name = name;
    }
    if let Some(n) = cli.concurrency {
        config.worker.concurrency = n;
        // A smaller pool should not reserve the configured prefetch ahead of itself. Capped,
        // so a too-large `--concurrency` is reported as itself and not as a prefetch too.
        if cli.prefetch.is_none() {
            config.worker.prefetch = WorkerOptions::default_prefetch(n).min(MAX_PREFETCH);
        }
    }
    if let Some(n) = cli.prefetch {
        config.worker.prefetch = n;
    }
    if let Some(ms) = cli.lease_ms {
        config.worker.lease = Duration::from_millis(ms);
    }
    if let Some(secs) = cli.shutdown_secs {
        config.worker.shutdown_deadline = Duration::from_secs(secs);
    }
    // Before anything connects: a flag out of range is refused at startup, naming its key.
    config.validate()?;
    let ctx = Arc::new(Context::from_config(&config).await?);
    let options = WorkerOptions {
        concurrency: config.worker.concurrency,
        prefetch: config.worker.prefetch,
        shutdown_timeout: config.worker.shutdown_deadline,
        ..WorkerOptions::default()
    };
    let backend = RedisBackend::<serde_json::Value>::new(ctx.queue.clone(), options);
    tracing::info!(worker = %backend.handle().worker_id(), "worker starting");
    run(backend, move |payload, job| dispatch(ctx.clone(), payload, job), shutdown_signal()).await?;
    Ok(())
}

fn env_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
}
