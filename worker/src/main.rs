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
use snapsync_worker::jobs::{dispatch_refreshed, Context, Targets};

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
    /// Threads of the async runtime, 1 to 256 (overrides `worker.threads`).
    #[arg(long)]
    threads: Option<usize>,
    /// Lease of a reserved job in ms, renewed every third of it (overrides `worker.lease`).
    #[arg(long)]
    lease_ms: Option<u64>,
    /// On SIGTERM, how long running jobs may take to finish (overrides `worker.shutdown_deadline`).
    #[arg(long)]
    shutdown_secs: Option<u64>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address, e.g. `127.0.0.1:0`
    /// (overrides `worker.metrics_bind`).
    #[arg(long)]
    metrics_bind: Option<std::net::SocketAddr>,
    /// Log lines as `text` (colour only on a terminal) or `json` (one object per line).
    #[arg(long, value_name = "text|json", default_value = "text")]
    log_format: snapsync::logging::LogFormat,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    snapsync::logging::init(cli.log_format);
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
    if let Some(n) = cli.threads {
        config.worker.threads = n;
    }
    if let Some(ms) = cli.lease_ms {
        config.worker.lease = Duration::from_millis(ms);
    }
    if let Some(secs) = cli.shutdown_secs {
        config.worker.shutdown_deadline = Duration::from_secs(secs);
    }
    if let Some(addr) = cli.metrics_bind {
        config.worker.metrics_bind = Some(addr);
    }
    // Before anything connects: a flag out of range is refused at startup, naming its key.
    config.validate()?;
    // `worker.threads` runtime threads (one by default, see `WorkerConfig::threads`). The
    // worker itself runs as a task on them, not on this thread: with `block_on` alone, every
    // wake-up between the main future and the tasks it waits for would cross threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker.threads)
        .thread_name("snapsync-worker")
        .enable_all()
        .build()?;
    let worker = runtime.spawn(runtime_main(config));
    match runtime.block_on(worker) {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(e.into()),
    }
}

/// The worker once its config is settled: metrics, clients, the two targets, the run.
async fn runtime_main(config: Config) -> anyhow::Result<()> {
    if let Some(bind) = config.worker.metrics_bind {
        serve_metrics(bind).await?;
    }
    let ctx = Context::from_config(&config).await?;
    let queue = ctx.queue.clone();
    // The live and the test target; each job runs in the mode in force when it starts.
    let targets = Arc::new(Targets::new(ctx, &config).await?);
    let options = WorkerOptions {
        concurrency: config.worker.concurrency,
        prefetch: config.worker.prefetch,
        shutdown_timeout: config.worker.shutdown_deadline,
        ..WorkerOptions::default()
    };
    let backend = RedisBackend::<serde_json::Value>::new(queue, options);
    tracing::info!(worker = %backend.handle().worker_id(), "worker starting");
    run(
        backend,
        move |payload, job| {
            let targets = targets.clone();
            async move { dispatch_refreshed(targets.pick().await, payload, job).await }
        },
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// Installs the Prometheus recorder and serves `GET /metrics` on `bind` in the background (for
/// the life of the process: a scrape during the shutdown drain still answers).
async fn serve_metrics(bind: std::net::SocketAddr) -> anyhow::Result<()> {
    use axum::http::header::CONTENT_TYPE;
    use snapsync::telemetry;
    let metrics = telemetry::install().map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on worker.metrics_bind {bind}: {e}"))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { ([(CONTENT_TYPE, telemetry::CONTENT_TYPE)], metrics.render()) }
        }),
    );
    tracing::info!(metrics_addr = %addr, "worker serving metrics on GET /metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}
