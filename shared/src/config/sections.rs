//! The sections of [`super::Config`] and their defaults: a local sandbox setup that runs
//! with no credentials (the sandbox's published test credentials are not secrets).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::jobs::JobKind;
pub use crate::ringcentral::AuthFlow;

/// Private Redis for local runs. Never 6379: the machine's shared Redis must not be a
/// default that a test or a demo could write into.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:16379";
/// The RingCentral stand-in (`snapsync-sandbox`).
pub const SANDBOX_RINGCENTRAL_URL: &str = "http://127.0.0.1:18080";
/// The Snapshots stand-in (`snapsync-sandbox`).
pub const SANDBOX_SNAPSHOTS_URL: &str = "http://127.0.0.1:18081";
/// The sandbox app's credentials (mirrors `snapsync_sandbox::credentials`; a test checks).
pub const SANDBOX_CLIENT_ID: &str = "sandbox-client-id";
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-client-secret";
pub const SANDBOX_JWT: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzYW5kYm94LWFkbWluIn0.sandbox";
/// The sandbox app's first registered redirect URI (RingCentral's console suggests the same).
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:5000/oauth2callback";
pub const SANDBOX_SNAPSHOTS_API_KEY: &str = "sandbox-snapshots-key";
/// Local-only defaults; `validate` refuses the admin one on a non-loopback bind.
pub const DEFAULT_ADMIN_TOKEN: &str = "sandbox-admin-token";
pub const DEFAULT_VERIFICATION_TOKEN: &str = "sandbox-verification-token";
/// Where the webhook receiver listens by default, and the path RingCentral posts to.
pub const DEFAULT_HTTP_BIND: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8090);
pub const DEFAULT_ADMIN_BIND: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8091);
pub const DEFAULT_WEBHOOK_ADDRESS: &str = "http://127.0.0.1:8090/webhooks/ringcentral";

pub(crate) fn default_url(text: &str) -> Url {
    Url::parse(text).unwrap_or_else(|_| unreachable!("built-in default URLs parse"))
}

/// `[redis]`. The URL may hold a password, so the whole URL is secret; use
/// [`RedisConfig::redacted_url`] to print it.
#[derive(Clone)]
pub struct RedisConfig {
    pub url: SecretString,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig { url: SecretString::from(DEFAULT_REDIS_URL) }
    }
}

/// `[http]`: the webhook receiver's listen address.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { bind: DEFAULT_HTTP_BIND }
    }
}

/// `[admin]`: the admin API's listen address and bearer token.
#[derive(Clone)]
pub struct AdminConfig {
    pub bind: SocketAddr,
    pub token: SecretString,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { bind: DEFAULT_ADMIN_BIND, token: SecretString::from(DEFAULT_ADMIN_TOKEN) }
    }
}

/// `[ringcentral]`: the API, the app credentials and how tokens are obtained, and the
/// webhook subscription.
#[derive(Clone)]
pub struct RingCentralConfig {
    pub server_url: Url,
    pub client_id: String,
    /// Empty for a public app (authorization code with PKCE only).
    pub client_secret: SecretString,
    /// `"jwt"`: every process logs in with `jwt`; `"authorization_code"`: an operator runs
    /// `snapsync login` (PKCE), the processes refresh the pair it stored.
    pub auth: AuthFlow,
    /// Needed only with `auth = "jwt"`.
    pub jwt: SecretString,
    /// Where RingCentral sends the browser back to `snapsync login` (registered for the
    /// app; an http:// loopback address the command listens on).
    pub redirect_uri: Url,
    /// The public URL RingCentral delivers webhooks to (reaches `http.bind`).
    pub webhook_address: Url,
    /// Sent with the subscription; RingCentral echoes it in `Verification-Token`.
    pub verification_token: SecretString,
}

impl Default for RingCentralConfig {
    fn default() -> Self {
        RingCentralConfig {
            server_url: default_url(SANDBOX_RINGCENTRAL_URL),
            client_id: SANDBOX_CLIENT_ID.into(),
            client_secret: SecretString::from(SANDBOX_CLIENT_SECRET),
            auth: AuthFlow::Jwt,
            jwt: SecretString::from(SANDBOX_JWT),
            redirect_uri: default_url(DEFAULT_REDIRECT_URI),
            webhook_address: default_url(DEFAULT_WEBHOOK_ADDRESS),
            verification_token: SecretString::from(DEFAULT_VERIFICATION_TOKEN),
        }
    }
}

/// `[snapshots]`: the Snapshots API and its key.
#[derive(Clone)]
pub struct SnapshotsConfig {
    pub base_url: Url,
    pub api_key: SecretString,
}

impl Default for SnapshotsConfig {
    fn default() -> Self {
        SnapshotsConfig {
            base_url: default_url(SANDBOX_SNAPSHOTS_URL),
            api_key: SecretString::from(SANDBOX_SNAPSHOTS_API_KEY),
        }
    }
}

/// The resources synced on a schedule, each a `[schedules.<name>]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Locations,
    Accounts,
    Contacts,
    /// The catch-up of ended calls by call-log sync (`sync_calls`).
    Calls,
    Subscriptions,
}

impl Resource {
    pub const ALL: [Resource; 5] =
        [Resource::Locations, Resource::Accounts, Resource::Contacts, Resource::Calls, Resource::Subscriptions];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Locations => "locations",
            Resource::Accounts => "accounts",
            Resource::Contacts => "contacts",
            Resource::Calls => "calls",
            Resource::Subscriptions => "subscriptions",
        }
    }
}

/// When a scheduled sync runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `every = "5m"`: a fixed interval.
    Every(Duration),
    /// `cron = "*/15 * * * *"`: an expression already checked to parse with `croner`.
    Cron(String),
}

/// `[schedules.<resource>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    pub enabled: bool,
    pub schedule: Schedule,
}

/// `[schedules]`: one entry per [`Resource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulesConfig {
    pub locations: ScheduleConfig,
    pub accounts: ScheduleConfig,
    pub contacts: ScheduleConfig,
    /// The call-log catch-up: calls whose telephony event never came.
    pub calls: ScheduleConfig,
    /// Renewing the webhook subscription before it expires.
    pub subscriptions: ScheduleConfig,
}

impl SchedulesConfig {
    pub fn get(&self, resource: Resource) -> &ScheduleConfig {
        match resource {
            Resource::Locations => &self.locations,
            Resource::Accounts => &self.accounts,
            Resource::Contacts => &self.contacts,
            Resource::Calls => &self.calls,
            Resource::Subscriptions => &self.subscriptions,
        }
    }

    pub(crate) fn get_mut(&mut self, resource: Resource) -> &mut ScheduleConfig {
        match resource {
            Resource::Locations => &mut self.locations,
            Resource::Accounts => &mut self.accounts,
            Resource::Contacts => &mut self.contacts,
            Resource::Calls => &mut self.calls,
            Resource::Subscriptions => &mut self.subscriptions,
        }
    }
}

impl Default for SchedulesConfig {
    fn default() -> Self {
        let every = |secs| ScheduleConfig { enabled: true, schedule: Schedule::Every(Duration::from_secs(secs)) };
        SchedulesConfig {
            locations: every(3600),
            accounts: every(3600),
            contacts: every(900),
            calls: every(900),
            subscriptions: every(3600),
        }
    }
}

/// `[rate_limits]`: client-side budgets, per API and (for RingCentral) per usage group,
/// shared by every process through Redis, and how long a job waits for a permit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitsConfig {
    pub ringcentral: RingCentralLimits,
    pub snapshots: SnapshotsLimits,
    /// Longest wait for a permit inside a bulk job (syncs and their fan-out); a longer one
    /// snoozes the job and frees its worker slot.
    pub max_wait: Duration,
    /// The same for real-time jobs (a voicemail follow-up).
    pub urgent_max_wait: Duration,
    /// Share of every budget of 20 or more calls a window only real-time jobs may use, in
    /// percent (0–50).
    pub urgent_reserve_percent: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            ringcentral: RingCentralLimits::default(),
            snapshots: SnapshotsLimits::default(),
            max_wait: Duration::from_millis(500),
            urgent_max_wait: Duration::from_secs(2),
            urgent_reserve_percent: 2,
        }
    }
}

impl RateLimitsConfig {
    /// The limiter's options from these settings.
    pub fn limiter_options(&self) -> snapsync_queue::LimiterOptions {
        snapsync_queue::LimiterOptions {
            max_wait_bulk: self.max_wait,
            max_wait_urgent: self.urgent_max_wait,
            reserve_percent: self.urgent_reserve_percent,
            ..snapsync_queue::LimiterOptions::default()
        }
    }
}

/// `[rate_limits.ringcentral]`: requests per `window` for each RingCentral usage group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingCentralLimits {
    pub light: u32,
    pub medium: u32,
    pub heavy: u32,
    pub auth: u32,
    pub window: Duration,
}

impl Default for RingCentralLimits {
    /// RingCentral's published per-user limits.
    fn default() -> Self {
        RingCentralLimits { light: 50, medium: 40, heavy: 10, auth: 5, window: Duration::from_secs(60) }
    }
}

/// `[rate_limits.snapshots]`: requests per `window` for the API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotsLimits {
    pub requests: u32,
    pub window: Duration,
}

impl Default for SnapshotsLimits {
    fn default() -> Self {
        SnapshotsLimits { requests: 600, window: Duration::from_secs(60) }
    }
}

/// `[retry]`: backoff and attempts; `[retry.max_attempts_per_kind]` overrides per job kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
    pub max_attempts_per_kind: HashMap<JobKind, u32>,
    /// How long a job's snoozes (waits that are not failures, like a rate-limit pause) may
    /// add up to; past it a snooze counts as a failed attempt.
    pub max_snoozed: Duration,
}

impl Default for RetryConfig {
    /// The queue engine's defaults, so the two cannot drift apart.
    fn default() -> Self {
        let q = snapsync_queue::QueueConfig::default();
        RetryConfig {
            base: q.backoff_base,
            cap: q.backoff_cap,
            max_attempts: q.default_max_attempts,
            max_attempts_per_kind: HashMap::new(),
            max_snoozed: q.max_snoozed,
        }
    }
}

/// `[worker]`: one worker process's knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    pub concurrency: usize,
    pub prefetch: usize,
    /// Threads of the worker's async runtime. A worker's jobs wait on Redis and HTTP nearly all
    /// the time, so one thread carries hundreds of jobs a second, and every reply is handled on
    /// the thread that polls the sockets: with more threads, each of a job's dozen round trips
    /// wakes a sleeping thread across cores (a futex wake and a context switch), which costs
    /// more CPU than the job's own work and adds to every round trip when processes share
    /// cores. Scale out with processes; raise this for a process that should use more cores.
    pub threads: usize,
    /// A reserved job's lease; a crashed worker's job returns within 1.5 × lease.
    pub lease: Duration,
    pub shutdown_deadline: Duration,
    /// Where to serve `GET /metrics` (Prometheus); `None` (the default, or `""`) serves nothing.
    pub metrics_bind: Option<SocketAddr>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 16,
            prefetch: 16,
            threads: 1,
            lease: Duration::from_secs(15),
            shutdown_deadline: Duration::from_secs(30),
            metrics_bind: None,
        }
    }
}

/// `[queue]`: key names and retention of the Redis queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSection {
    pub prefix: String,
    pub name: String,
    pub done_keep_age: Duration,
    pub done_keep_count: u64,
    /// Dead jobs expire after this long, and past `dead_cap` the oldest go first.
    pub dead_keep_age: Duration,
    pub dead_cap: u64,
    pub unique_ttl: Duration,
}

impl Default for QueueSection {
    fn default() -> Self {
        let q = snapsync_queue::QueueConfig::default();
        QueueSection {
            prefix: q.prefix,
            name: q.queue,
            done_keep_age: q.done_keep_age,
            done_keep_count: q.done_keep_count,
            dead_keep_age: q.dead_keep_age,
            dead_cap: q.dead_cap,
            unique_ttl: q.unique_ttl,
        }
    }
}

/// `[mapping]`: the field-mapping file (relative paths are from the working directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    pub path: PathBuf,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig { path: PathBuf::from("mapping/default.toml") }
    }
}

/// `[routing]`: the owner-routing rules file (relative paths are from the working directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    pub path: PathBuf,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig { path: PathBuf::from("routing/default.toml") }
    }
}

/// What to do in Snapshots when a RingCentral contact is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletedContactAction {
    /// Keep the record and tag it as deleted upstream (nothing is lost by default).
    #[default]
    Tag,
    Delete,
}

impl DeletedContactAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletedContactAction::Tag => "tag",
            DeletedContactAction::Delete => "delete",
        }
    }
}

/// Where the jobs write: the live Snapshots (`[snapshots]`) or the test one (`[test]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every job runs end to end, its writes go to the test Snapshots (`[test]`).
    Test,
    /// Writes go to `[snapshots]`.
    #[default]
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    pub fn from_name(name: &str) -> Option<Mode> {
        match name {
            "test" => Some(Mode::Test),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

/// `[sync]`: choices of the sync itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    pub deleted_contact_action: DeletedContactAction,
    /// ISO 3166-1 alpha-2 code used for phone numbers without a country prefix.
    pub default_country: String,
    /// The mode a deployment starts in: it seeds `{prefix}:mode` in Redis when that is unset;
    /// from then on `snapsync mode live|test` switches it (see `snapsync::mode`).
    pub mode: Mode,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig { deleted_contact_action: DeletedContactAction::Tag, default_country: "US".into(), mode: Mode::Live }
    }
}

/// `[test]`: the Snapshots that test mode writes to (defaults: the local sandbox's).
#[derive(Clone)]
pub struct TestConfig {
    pub snapshots_url: Url,
    pub snapshots_api_key: SecretString,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            snapshots_url: default_url(SANDBOX_SNAPSHOTS_URL),
            snapshots_api_key: SecretString::from(SANDBOX_SNAPSHOTS_API_KEY),
        }
    }
}
