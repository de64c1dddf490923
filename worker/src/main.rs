//! `snapsync-worker`: runs jobs from the Redis queue until SIGTERM/SIGINT. The real job
//! handlers arrive with the pipeline issue; until then every job is a no-op.

use std::time::Duration;

use clap::Parser;
use snapsync::queue::QueueConfig;
use snapsync_worker::{connect, run, shutdown_signal, JobError, JobMeta, RedisBackend, WorkerOptions};

/// snapsync-worker: runs sync jobs from the Redis queue.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[arg(long, env = "SNAPSYNC__REDIS__URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, env = "SNAPSYNC__QUEUE__PREFIX", default_value = "snapsync")]
    prefix: String,
    #[arg(long, env = "SNAPSYNC__QUEUE__NAME", default_value = "jobs")]
    queue: String,
    /// Jobs run at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Jobs reserved ahead of free slots (default: the concurrency, at least 4).
    #[arg(long)]
    prefetch: Option<usize>,
    /// Lease of a reserved job, renewed every third of it while held.
    #[arg(long, default_value_t = 15_000)]
    lease_ms: u64,
    /// On SIGTERM, how long running jobs may take to finish.
    #[arg(long, default_value_t = 30)]
    shutdown_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(env_filter()).init();
    let cli = Cli::parse();
    let config = QueueConfig {
        prefix: cli.prefix,
        queue: cli.queue,
        lease: Duration::from_millis(cli.lease_ms),
        ..QueueConfig::default()
    };
    let queue = connect(&cli.redis_url, config).await?;
    let options = WorkerOptions {
        concurrency: cli.concurrency,
        prefetch: cli.prefetch.unwrap_or_else(|| WorkerOptions::default_prefetch(cli.concurrency)),
        shutdown_timeout: Duration::from_secs(cli.shutdown_secs),
        ..WorkerOptions::default()
    };
    let backend = RedisBackend::<serde_json::Value>::new(queue, options);
    tracing::info!(worker = %backend.handle().worker_id(), "worker starting");
    run(backend, noop, shutdown_signal()).await?;
    Ok(())
}

/// Placeholder handler set: accepts every job of every kind.
async fn noop(_payload: serde_json::Value, _job: JobMeta) -> Result<(), JobError> {
    Ok(())
}

fn env_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
}
