//! # snapsync producer: the control plane
//!
//! [`run`] serves the webhook receiver and health routes on a bound listener, keeps the
//! RingCentral webhook subscription in place, and runs the scheduler, until `shutdown`
//! resolves. The `snapsync` binary (`main.rs`) only parses arguments and calls it.
//!
//! Subscription lifecycle: at start the producer calls
//! [`snapsync::subscription::ensure_exclusive`] inline (after its listener serves, since RingCentral runs the validation handshake
//! against it), retrying with backoff while RingCentral is unreachable. From then on the
//! `subscriptions` schedule and RingCentral's renewal reminder enqueue `renew_subscription`
//! jobs, whose worker handler calls the same `ensure`: renewals go through the queue's
//! retries and rate limits like every other RingCentral call.
//!
//! # Layout
//! - [`http`]: routes: `POST /webhooks/ringcentral`, `GET /healthz`, `GET /readyz`, `GET /metrics`.
//! - [`events`]: notification envelopes → jobs.
//! - [`scheduler`]: tick-keyed schedule jobs, once per tick across replicas.
//! - [`ops`]: the operator's verbs on the queue and the workers (stats, list, show with the
//!   payload redacted, retry, discard, purge, pause, resume, workers) as serializable reports,
//!   for the CLI (`snapsync queue …`, `snapsync workers`) and the admin HTTP API.

pub mod admin;
pub mod edge;
pub mod events;
pub mod http;
pub mod mapping_editor;
pub mod ops;
pub mod scheduler;
pub mod schedules;

use std::future::Future;
use std::time::Duration;

use secrecy::ExposeSecret;
use snapsync::config::Config;
use snapsync::ringcentral::{RcError, RingCentral};
use snapsync::subscription::{self, SubscriptionSpec};
use snapsync_queue::{ConnOptions, Queue, QueueError, RedisConn};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why `serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot connect to redis (redis.url): {source}")]
    Queue {
        #[source]
        source: QueueError,
    },
    #[error("cannot connect to redis (redis.url): {source}")]
    Redis {
        #[source]
        source: redis::RedisError,
    },
    #[error("ringcentral client: {source}")]
    RingCentral {
        #[source]
        source: RcError,
    },
    #[error(transparent)]
    Schedule(#[from] scheduler::ScheduleError),
    #[error("cannot listen on admin.bind {bind}: {source}")]
    AdminBind {
        bind: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("http server: {source}")]
    Http {
        #[source]
        source: std::io::Error,
    },
}

/// Options of [`run_with`]; [`run`] uses the defaults.
#[derive(Clone)]
pub struct Options {
    /// Keep the webhook subscription in place at start (off for tests of other parts).
    pub subscribe: bool,
    pub clock: scheduler::Clock,
    /// The installed Prometheus recorder, served on `GET /metrics` (`None`: no such route).
    pub metrics: Option<snapsync::telemetry::Metrics>,
    /// The public listener's timeouts and connection limit.
    pub edge: edge::EdgeLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options { subscribe: true, clock: scheduler::system_clock(), metrics: None, edge: edge::EdgeLimits::default() }
    }
}

/// How long requests in flight may take to finish once `serve` is told to stop (the systemd
/// unit's `TimeoutStopSec` and Kubernetes' grace period stay above it: deploy/).
pub const DRAIN: Duration = Duration::from_secs(15);

/// Runs the producer on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish, and stops the scheduler.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    run_with(config, listener, shutdown, Options::default()).await
}

/// [`run`] with [`Options`].
pub async fn run_with(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: Options,
) -> Result<(), ServeError> {
    // A bad cron expression in the file stops the start, named by resource.
    scheduler::enabled(&config.schedules)?;
    let url = config.redis.url.expose_secret().to_owned();
    let queue = Queue::connect(&url, config.queue_config()).await.map_err(|source| ServeError::Queue { source })?;
    // `/readyz` answers within 2 s, so its PING must not wait longer.
    let conn_options = ConnOptions { response_timeout: Some(Duration::from_secs(2)), ..ConnOptions::default() };
    let redis = RedisConn::connect(&url, conn_options).await.map_err(|source| ServeError::Redis { source })?;
    let stop = CancellationToken::new();
    let admin_listener = TcpListener::bind(config.admin.bind)
        .await
        .map_err(|source| ServeError::AdminBind { bind: config.admin.bind, source })?;
    let store = schedules::ScheduleStore::new(redis.clone(), &config.queue.prefix);
    if let Err(e) = store.seed(&config.schedules, scheduler::now_ms(&options.clock)).await {
        // Not fatal: the scheduler runs on the file's rules until Redis answers.
        tracing::warn!(error = %e, "cannot seed the live schedules yet");
    }
    let admin_state = admin::AdminState {
        queue: queue.clone(),
        redis: redis.clone(),
        prefix: config.queue.prefix.clone(),
        schedules: store.clone(),
        schedules_config: config.schedules.clone(),
        token: config.admin.token.clone(),
        mapping_file: std::sync::Arc::new(mapping_editor::MappingFile::for_config(&config.mapping)),
        rc: match snapsync::clients::ringcentral(
            &config,
            redis.clone(),
            queue.limiter(config.rate_limits.limiter_options()),
        ) {
            Ok(rc) => Some(rc),
            Err(e) => {
                tracing::warn!(error = %e, "no RingCentral client for the mapping preview");
                None
            }
        },
    };
    let mut tasks =
        vec![tokio::spawn(watch_mode(redis.clone(), config.queue.prefix.clone(), config.sync.mode, stop.clone()))];
    tasks.push(tokio::spawn(scheduler::run(
        queue.clone(),
        store,
        config.schedules.clone(),
        options.clock.clone(),
        stop.clone(),
    )));
    if options.subscribe {
        // The producer's subscription calls count against the same budgets as the workers'.
        let limiter = queue.limiter(config.rate_limits.limiter_options());
        let rc = snapsync::clients::ringcentral(&config, redis.clone(), limiter)
            .map_err(|source| ServeError::RingCentral { source })?;
        let spec = SubscriptionSpec::new(
            config.ringcentral.webhook_address.as_str(),
            config.ringcentral.verification_token.clone(),
        );
        let lock = subscription::lock_key(&config.queue.prefix);
        tasks.push(tokio::spawn(keep_subscribed(rc, redis.clone(), lock, spec, stop.clone())));
    }
    let state = http::AppState {
        queue,
        redis,
        verification_token: config.ringcentral.verification_token.clone(),
        metrics: options.metrics.clone().map(http::MetricsState::new),
    };
    let addr = listener.local_addr().ok();
    let admin_addr = admin_listener.local_addr().map_or_else(|_| "?".into(), |a| a.to_string());
    tracing::info!(?addr, admin = %admin_addr, "snapsync producer serving");
    let admin_stop = stop.clone();
    tasks.push(tokio::spawn(async move {
        let served = edge::serve(
            admin_listener,
            admin::router(admin_state),
            edge::EdgeLimits::default(),
            async move { admin_stop.cancelled().await },
            DRAIN,
        )
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "admin API stopped");
        }
    }));
    let stopper = stop.clone();
    let served = edge::serve(
        listener,
        http::router(state),
        options.edge,
        async move {
            tokio::select! {
                _ = shutdown => {}
                _ = stopper.cancelled() => {}
            }
        },
        DRAIN,
    )
    .await;
    stop.cancel();
    for task in tasks {
        let _ = task.await;
    }
    tracing::info!("snapsync producer stopped");
    served.map_err(|source| ServeError::Http { source })
}

/// How often `serve` reads the mode, to log a switch (`snapsync::mode`): serve writes nothing
/// to Snapshots itself, so this is only for its log.
const MODE_POLL: Duration = Duration::from_secs(2);

/// Seeds the mode from `sync.mode` when unset, then logs it and each switch once.
async fn watch_mode(redis: RedisConn, prefix: String, initial: snapsync::mode::Mode, stop: CancellationToken) {
    let watch = snapsync::mode::Watch::default();
    if let Err(e) = snapsync::mode::seed(&redis, &prefix, initial).await {
        tracing::warn!(error = %e, "cannot seed the mode yet");
    }
    loop {
        match snapsync::mode::get(&redis, &prefix).await {
            Ok(Some(mode)) => watch.observe(mode, "serve"),
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "cannot read the mode"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(MODE_POLL) => {}
        }
    }
}

/// [`subscription::ensure_exclusive`] until it succeeds once or finds another process
/// doing it (backoff 1 s doubling to 60 s).
async fn keep_subscribed(
    rc: RingCentral,
    redis: RedisConn,
    lock: String,
    spec: SubscriptionSpec,
    stop: CancellationToken,
) {
    let mut delay = Duration::from_secs(1);
    loop {
        // Stopping does not wait for a RingCentral call (up to its 15 s timeout) to end.
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = subscription::ensure_exclusive(&rc, &redis, &lock, &spec) => r,
        };
        match result {
            Ok(Some(outcome)) => {
                tracing::info!(id = %outcome.id, action = ?outcome.action, deleted = ?outcome.deleted, "webhook subscription in place");
                return;
            }
            Ok(None) => {
                tracing::info!("another process is setting up the webhook subscription");
                return;
            }
            Err(e) => tracing::warn!(error = %e, retry_in = ?delay, "cannot set up the webhook subscription"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}
