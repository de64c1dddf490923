//! [`Context`]: what every handler uses — the RingCentral and Snapshots clients, the
//! mapping and routing files, the queue (for fan-out) and Redis — built once per worker
//! process from the typed `Config`. Files are checked and clients built before the first
//! job runs, so a bad mapping file stops the worker at startup, not job by job.
//!
//! The mapping is live: a mapping saved through the admin API (the dashboard's editor,
//! `snapsync::mapping::store`) overrides the file, and [`Context::refresh_mapping`], run
//! before every job, picks up a newly saved one with one Redis read. Handlers take
//! [`Context::mapping`] (an `Arc` of the mapping in force) once per job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use snapsync::config::{Config, SyncConfig};
use snapsync::mapping::{LiveMapping, Mapping, MappingError};
use snapsync::ringcentral::{RcError, RingCentral};
use snapsync::routing::{Router, RoutingError, Rules};
use snapsync::snapshots::{Owner, SnapshotsClient, SnapshotsError};
use snapsync::subscription::SubscriptionSpec;
use snapsync_queue::{ConnOptions, Queue, QueueError, RedisConn};
use tokio::sync::Mutex;

/// How long the `/owners` list is reused before it is read again: routing needs it for
/// every new lead, and owners change rarely.
const OWNERS_TTL: Duration = Duration::from_secs(60);

/// Why the worker could not get ready.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot connect to redis at {url}: {source}")]
    Redis {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("cannot open the queue: {0}")]
    Queue(#[from] QueueError),
    #[error("ringcentral client: {0}")]
    RingCentral(#[from] RcError),
    #[error("snapshots client: {0}")]
    Snapshots(#[from] SnapshotsError),
    #[error("mapping file: {0}")]
    Mapping(#[from] MappingError),
    #[error("routing file: {0}")]
    Routing(#[from] RoutingError),
}

/// The clients and files the handlers share. Cheap to share behind an `Arc`.
pub struct Context {
    pub rc: RingCentral,
    pub snapshots: SnapshotsClient,
    /// The mapping in force: [`Context::mapping`].
    /// Shared with the test target's context, so both use the mapping in force.
    live_mapping: Arc<LiveMapping>,
    pub router: Router,
    pub queue: Queue,
    pub redis: RedisConn,
    /// The deployment's key prefix (`queue.prefix`): every snapsync key starts with it.
    pub prefix: String,
    /// The prefix of this target's write state (`snapsync::mode::state_prefix`): `prefix`
    /// for the live Snapshots, `{prefix}:test` for the test one. [`Context::key`] uses it.
    pub state_prefix: String,
    pub sync: SyncConfig,
    /// The webhook subscription `renew_subscription` keeps alive (the producer's too).
    pub subscription: SubscriptionSpec,
    owners: Mutex<Option<(Instant, Arc<Vec<Owner>>)>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("rc", &self.rc)
            .field("snapshots", &self.snapshots)
            .field("mapping", &self.mapping().file())
            .field("router", &self.router)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Loads the mapping and routing files, connects to Redis (retrying while it is away,
    /// as the queue does) and builds both clients.
    pub async fn from_config(config: &Config) -> Result<Context, SetupError> {
        let (mapping, builtin) = Mapping::for_config(&config.mapping)?;
        if builtin {
            tracing::info!("no mapping file at the default path; using the built-in default mapping");
        }
        let (rules, builtin) = Rules::for_config(&config.routing)?;
        if builtin {
            tracing::info!("no routing file at the default path; using the built-in default rules");
        }
        let url = config.redis.url.expose_secret().to_owned();
        let queue = snapsync_queue::connect(&url, config.queue_config()).await?;
        let redacted = config.redis.redacted_url();
        // The queue just connected, so Redis is there; from here on the connection heals itself.
        let redis = RedisConn::connect(&url, ConnOptions::default())
            .await
            .map_err(|source| SetupError::Redis { url: redacted, source })?;
        let prefix = config.queue.prefix.clone();
        // Every call of both clients takes a permit of a budget shared by all processes.
        let limiter = queue.limiter(config.rate_limits.limiter_options());
        let rc = snapsync::clients::ringcentral(config, redis.clone(), limiter.clone())?;
        let snapshots = snapsync::clients::snapshots(config, redis.clone(), limiter)?;
        let router = Router::new(rules, redis.clone(), prefix.clone());
        let live_mapping = Arc::new(LiveMapping::new(mapping, redis.clone(), &prefix));
        live_mapping.refresh().await;
        if live_mapping.version() == 0 {
            tracing::info!(file = %live_mapping.current().file(), "mapping: the file (no mapping saved through the admin API)");
        }
        Ok(Context {
            rc,
            snapshots,
            live_mapping,
            router,
            queue,
            redis,
            state_prefix: prefix.clone(),
            prefix,
            sync: config.sync.clone(),
            subscription: SubscriptionSpec::new(
                config.ringcentral.webhook_address.as_str(),
                config.ringcentral.verification_token.clone(),
            ),
            owners: Mutex::new(None),
        })
    }

    /// The mapping in force (the saved one, else the file's). Take it once per job.
    pub fn mapping(&self) -> Arc<Mapping> {
        self.live_mapping.current()
    }

    /// Picks up a mapping saved since the last job (one Redis read; a failure keeps the
    /// mapping in force). [`crate::jobs::dispatch`] calls it before every job.
    pub async fn refresh_mapping(&self) {
        self.live_mapping.refresh().await;
    }

    /// Snapshots' owners, read at most once per minute per process.
    pub async fn owners(&self) -> Result<Arc<Vec<Owner>>, SnapshotsError> {
        let mut cached = self.owners.lock().await;
        if let Some((at, owners)) = cached.as_ref() {
            if at.elapsed() < OWNERS_TTL {
                return Ok(owners.clone());
            }
        }
        let owners = Arc::new(self.snapshots.list_owners().await?);
        *cached = Some((Instant::now(), owners.clone()));
        Ok(owners)
    }

    /// The same context writing to the test Snapshots (`[test]`), with its own write state
    /// and sync tokens (`snapsync::mode`); the queue, Redis, login and budgets are shared.
    pub fn for_test_target(&self, config: &Config) -> Result<Context, SetupError> {
        let state_prefix = snapsync::mode::state_prefix(&self.prefix, snapsync::mode::Mode::Test);
        let limiter = self.queue.limiter(config.rate_limits.limiter_options());
        let snapshots = snapsync::clients::test_snapshots(config, self.redis.clone(), limiter, state_prefix.clone())?;
        Ok(Context {
            rc: self.rc.clone().with_sync_namespace(snapsync::mode::TEST_SYNC_NAMESPACE),
            snapshots,
            live_mapping: self.live_mapping.clone(),
            router: self.router.clone(),
            queue: self.queue.clone(),
            redis: self.redis.clone(),
            prefix: self.prefix.clone(),
            state_prefix,
            sync: self.sync.clone(),
            subscription: self.subscription.clone(),
            owners: Mutex::new(None),
        })
    }

    /// A Redis key of this target's state: `{state_prefix}:<rest>`.
    pub fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.state_prefix)
    }
}
