//! The sections of [`super::Config`]: each key is one field here, with its doc, its form and
//! check (the `form` function its serde attributes name) and, in the section's `Default`
//! just below it, its default. Adding a key is adding a field, its default and a line in
//! `config/snapsync.example.toml` and the README's table (a test keeps those three in step).
//!
//! The defaults are a local sandbox setup that runs with no credentials (the sandbox's
//! published test credentials are not secrets).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use super::extract::ENTRY;
use super::form::{self, Named};

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

/// Ceiling on `worker.concurrency`: each slot is a task holding a lease renewed by
/// heartbeats; past this a deployment wants more processes, and a bigger number is more
/// likely a typo than a plan.
pub const MAX_CONCURRENCY: u64 = 10_000;
/// `worker.prefetch`'s ceiling: the queue engine's (it would silently cap a larger one).
const MAX_PREFETCH: u64 = snapsync_queue::config::MAX_PREFETCH as u64;
const HOUR_MS: u64 = 3_600_000;

pub(crate) fn default_url(text: &str) -> Url {
    Url::parse(text).unwrap_or_else(|_| unreachable!("built-in default URLs parse"))
}

/// `[redis]`. The URL may hold a password, so the whole URL is secret; use
/// [`RedisConfig::redacted_url`] to print it.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// One server or a Redis Cluster; its passwords are secret.
    #[serde(deserialize_with = "form::redis_url", serialize_with = "form::redis_url_redacted")]
    pub url: SecretString,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig { url: SecretString::from(DEFAULT_REDIS_URL) }
    }
}

/// `[http]`: the webhook receiver's listen address.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(deserialize_with = "form::socket", serialize_with = "form::display")]
    pub bind: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { bind: DEFAULT_HTTP_BIND }
    }
}

/// `[admin]`: the admin API's listen address and bearer token.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Must differ from `http.bind` (checked in `validate`).
    #[serde(deserialize_with = "form::socket", serialize_with = "form::display")]
    pub bind: SocketAddr,
    /// At least 16 characters; the built-in one only on a loopback `bind` (`validate`).
    #[serde(deserialize_with = "form::secret", serialize_with = "form::redacted")]
    pub token: SecretString,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { bind: DEFAULT_ADMIN_BIND, token: SecretString::from(DEFAULT_ADMIN_TOKEN) }
    }
}

/// `[ringcentral]`: the API, the app credentials and how tokens are obtained, and the
/// webhook subscription.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingCentralConfig {
    #[serde(deserialize_with = "form::http_url", serialize_with = "form::url_text")]
    pub server_url: Url,
    #[serde(deserialize_with = "form::non_empty")]
    pub client_id: String,
    /// Empty for a public app (authorization code with PKCE only; `validate` checks per flow).
    #[serde(deserialize_with = "form::secret", serialize_with = "form::redacted")]
    pub client_secret: SecretString,
    /// `"jwt"`: every process logs in with `jwt`; `"authorization_code"`: an operator runs
    /// `snapsync login` (PKCE), the processes refresh the pair it stored.
    #[serde(deserialize_with = "form::named", serialize_with = "form::name")]
    pub auth: AuthFlow,
    /// Needed only with `auth = "jwt"`.
    #[serde(deserialize_with = "form::secret", serialize_with = "form::redacted")]
    pub jwt: SecretString,
    /// Where RingCentral sends the browser back to `snapsync login` (registered for the
    /// app; an http:// loopback address the command listens on, checked with `auth`).
    #[serde(deserialize_with = "form::url", serialize_with = "form::url_text")]
    pub redirect_uri: Url,
    /// The public URL RingCentral delivers webhooks to (reaches `http.bind`).
    #[serde(deserialize_with = "form::http_url", serialize_with = "form::url_text")]
    pub webhook_address: Url,
    /// Sent with the subscription; RingCentral echoes it in `Verification-Token`. 1 to 64
    /// characters (`validate`).
    #[serde(deserialize_with = "form::secret", serialize_with = "form::redacted")]
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
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotsConfig {
    #[serde(deserialize_with = "form::http_url", serialize_with = "form::url_text")]
    pub base_url: Url,
    /// Not blank (`validate`).
    #[serde(deserialize_with = "form::secret", serialize_with = "form::redacted")]
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
    /// The catch-up of inbound SMS and faxes by message-store sync (`sync_messages`).
    Messages,
    Subscriptions,
}

impl Resource {
    pub const ALL: [Resource; 6] = [
        Resource::Locations,
        Resource::Accounts,
        Resource::Contacts,
        Resource::Calls,
        Resource::Messages,
        Resource::Subscriptions,
    ];

    /// The interval of a schedule that sets neither `every` nor `cron`.
    pub fn default_every(self) -> Duration {
        match self {
            Resource::Locations | Resource::Accounts | Resource::Subscriptions => Duration::from_secs(3600),
            Resource::Contacts | Resource::Calls | Resource::Messages => Duration::from_secs(900),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Locations => "locations",
            Resource::Accounts => "accounts",
            Resource::Contacts => "contacts",
            Resource::Calls => "calls",
            Resource::Messages => "messages",
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

/// `[schedules]`: one entry per [`Resource`]; a section that sets neither `every` nor `cron`
/// runs every [`Resource::default_every`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulesConfig {
    #[serde(deserialize_with = "schedule_locations", serialize_with = "schedule_text")]
    pub locations: ScheduleConfig,
    #[serde(deserialize_with = "schedule_accounts", serialize_with = "schedule_text")]
    pub accounts: ScheduleConfig,
    #[serde(deserialize_with = "schedule_contacts", serialize_with = "schedule_text")]
    pub contacts: ScheduleConfig,
    /// The call-log catch-up: calls whose telephony event never came.
    #[serde(deserialize_with = "schedule_calls", serialize_with = "schedule_text")]
    pub calls: ScheduleConfig,
    /// The message-store catch-up: inbound SMS and faxes whose event never came.
    #[serde(deserialize_with = "schedule_messages", serialize_with = "schedule_text")]
    pub messages: ScheduleConfig,
    /// Renewing the webhook subscription before it expires.
    #[serde(deserialize_with = "schedule_subscriptions", serialize_with = "schedule_text")]
    pub subscriptions: ScheduleConfig,
}

/// `[schedules.<resource>]` as written: `every` or `cron`, not both; an empty string counts
/// as unset so an environment variable can clear the file's choice
/// (`SNAPSYNC__SCHEDULES__CONTACTS__CRON=`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleText {
    #[serde(default = "yes", deserialize_with = "form::boolean")]
    enabled: bool,
    #[serde(default, deserialize_with = "every")]
    every: Option<Duration>,
    #[serde(default, deserialize_with = "cron")]
    cron: Option<String>,
}

fn yes() -> bool {
    true
}

fn every<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let value = toml::Value::deserialize(d)?;
    if value.as_str().is_some_and(|s| s.trim().is_empty()) {
        return Ok(None);
    }
    form::at_least_1s(value).map(Some).map_err(|e: toml::de::Error| serde::de::Error::custom(e.message()))
}

fn cron<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = toml::Value::deserialize(d)?;
    let text = value.as_str().map(str::trim);
    match text {
        Some("") => Ok(None),
        Some(text) if text.parse::<croner::Cron>().is_ok() => Ok(Some(text.to_owned())),
        _ => Err(serde::de::Error::custom(format!(
            "{} is not valid: expected a cron expression like \"*/15 * * * *\" (minute hour day-of-month month day-of-week)",
            form::render(&value)
        ))),
    }
}

fn schedule_locations<'de, D: Deserializer<'de>>(d: D) -> Result<ScheduleConfig, D::Error> {
    schedule(d, Resource::Locations)
}
fn schedule_accounts<'de, D: Deserializer<'de>>(d: D) -> Result<ScheduleConfig, D::Error> {
    schedule(d, Resource::Accounts)
}
fn schedule_contacts<'de, D: Deserializer<'de>>(d: D) -> Result<ScheduleConfig, D::Error> {
    schedule(d, Resource::Contacts)
}
fn schedule_calls<'de, D: Deserializer<'de>>(d: D) -> Result<ScheduleConfig, D::Error> {
    schedule(d, Resource::Calls)
}
fn schedule_messages<'de, D: Deserializer<'de>>(d: D) -> Result<ScheduleConfig, D::Error> {
    schedule(d, Resource::Messages)
}
fn schedule_subscriptions<'de, D: Deserializer<'de>>(d: D) -> Result<ScheduleConfig, D::Error> {
    schedule(d, Resource::Subscriptions)
}

fn schedule<'de, D: Deserializer<'de>>(d: D, resource: Resource) -> Result<ScheduleConfig, D::Error> {
    let text = ScheduleText::deserialize(d)?;
    let schedule = match (text.every, text.cron) {
        (Some(_), Some(_)) => {
            return Err(serde::de::Error::custom(
                "sets both `every` and `cron`: expected one of them (set the other to \"\" to clear it)",
            ))
        }
        (Some(every), None) => Schedule::Every(every),
        (None, Some(cron)) => Schedule::Cron(cron),
        (None, None) => Schedule::Every(resource.default_every()),
    };
    Ok(ScheduleConfig { enabled: text.enabled, schedule })
}

fn schedule_text<S: Serializer>(entry: &ScheduleConfig, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut out = s.serialize_struct("ScheduleConfig", 2)?;
    out.serialize_field("enabled", &entry.enabled)?;
    match &entry.schedule {
        Schedule::Every(every) => out.serialize_field("every", &humantime::format_duration(*every).to_string())?,
        Schedule::Cron(cron) => out.serialize_field("cron", cron)?,
    }
    out.end()
}

impl SchedulesConfig {
    pub fn get(&self, resource: Resource) -> &ScheduleConfig {
        match resource {
            Resource::Locations => &self.locations,
            Resource::Accounts => &self.accounts,
            Resource::Contacts => &self.contacts,
            Resource::Calls => &self.calls,
            Resource::Messages => &self.messages,
            Resource::Subscriptions => &self.subscriptions,
        }
    }
}

impl Default for SchedulesConfig {
    fn default() -> Self {
        let entry = |r: Resource| ScheduleConfig { enabled: true, schedule: Schedule::Every(r.default_every()) };
        SchedulesConfig {
            locations: entry(Resource::Locations),
            accounts: entry(Resource::Accounts),
            contacts: entry(Resource::Contacts),
            calls: entry(Resource::Calls),
            messages: entry(Resource::Messages),
            subscriptions: entry(Resource::Subscriptions),
        }
    }
}

/// `[rate_limits]`: client-side budgets, per API and (for RingCentral) per usage group,
/// shared by every process through Redis, and how long a job waits for a permit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Longest wait for a permit inside a bulk job (syncs and their fan-out); a longer one
    /// snoozes the job and frees its worker slot. At most 60s.
    #[serde(deserialize_with = "form::permit_wait", serialize_with = "form::duration_text")]
    pub max_wait: Duration,
    /// The same for real-time jobs (a voicemail follow-up).
    #[serde(deserialize_with = "form::permit_wait", serialize_with = "form::duration_text")]
    pub urgent_max_wait: Duration,
    /// Share of every budget of 20 or more calls a window only real-time jobs may use, in
    /// percent (0–50).
    #[serde(deserialize_with = "form::count_in::<_, _, 0, 50>")]
    pub urgent_reserve_percent: u32,
    pub ringcentral: RingCentralLimits,
    pub snapshots: SnapshotsLimits,
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingCentralLimits {
    #[serde(deserialize_with = "form::positive")]
    pub light: u32,
    #[serde(deserialize_with = "form::positive")]
    pub medium: u32,
    #[serde(deserialize_with = "form::positive")]
    pub heavy: u32,
    #[serde(deserialize_with = "form::positive")]
    pub auth: u32,
    #[serde(deserialize_with = "form::at_least_1s", serialize_with = "form::duration_text")]
    pub window: Duration,
}

impl Default for RingCentralLimits {
    /// RingCentral's published per-user limits.
    fn default() -> Self {
        RingCentralLimits { light: 50, medium: 40, heavy: 10, auth: 5, window: Duration::from_secs(60) }
    }
}

/// `[rate_limits.snapshots]`: requests per `window` for the API key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotsLimits {
    #[serde(deserialize_with = "form::positive")]
    pub requests: u32,
    #[serde(deserialize_with = "form::at_least_1s", serialize_with = "form::duration_text")]
    pub window: Duration,
}

impl Default for SnapshotsLimits {
    fn default() -> Self {
        SnapshotsLimits { requests: 600, window: Duration::from_secs(60) }
    }
}

/// `[retry]`: backoff and attempts; `[retry.max_attempts_per_kind]` overrides per job kind.
/// The ranges of these keys are the queue engine's own (`QueueConfig::validate`, called by
/// `validate`), so they have one source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(deserialize_with = "form::duration", serialize_with = "form::duration_text")]
    pub base: Duration,
    /// At least `base`.
    #[serde(deserialize_with = "form::duration", serialize_with = "form::duration_text")]
    pub cap: Duration,
    #[serde(deserialize_with = "form::count")]
    pub max_attempts: u32,
    /// How long a job's snoozes (waits that are not failures, like a rate-limit pause) may
    /// add up to; past it a snooze counts as a failed attempt.
    #[serde(deserialize_with = "form::duration", serialize_with = "form::duration_text")]
    pub max_snoozed: Duration,
    #[serde(deserialize_with = "per_kind", serialize_with = "per_kind_text")]
    pub max_attempts_per_kind: HashMap<JobKind, u32>,
}

/// `[retry.max_attempts_per_kind]`: job kind → attempts. A bad entry is named by its kind
/// (the `ENTRY` marks tell the loader which entry, which serde's path cannot).
fn per_kind<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<JobKind, u32>, D::Error> {
    use serde::de::Error;
    let value = toml::Value::deserialize(d)?;
    let Some(table) = value.as_table() else {
        return Err(D::Error::custom(format!(
            "{} is not valid: expected a section, [retry.max_attempts_per_kind]",
            form::render(&value)
        )));
    };
    let names: Vec<&'static str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut out = HashMap::new();
    for (name, n) in table {
        let Some(kind) = JobKind::from_name(name) else {
            let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            return Err(D::Error::custom(format!(
                "{ENTRY}{name}{ENTRY}unknown field `{name}`, expected one of {list}"
            )));
        };
        let n = form::count(n.clone())
            .map_err(|e: toml::de::Error| D::Error::custom(format!("{ENTRY}{name}{ENTRY}{}", e.message())))?;
        out.insert(kind, n);
    }
    Ok(out)
}

fn per_kind_text<S: Serializer>(per_kind: &HashMap<JobKind, u32>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut out = s.serialize_map(Some(per_kind.len()))?;
    for kind in JobKind::ALL.iter().filter(|k| per_kind.contains_key(k)) {
        out.serialize_entry(kind.as_str(), &per_kind[kind])?;
    }
    out.end()
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs one process runs at once.
    #[serde(deserialize_with = "form::count_in::<_, _, 1, MAX_CONCURRENCY>")]
    pub concurrency: usize,
    /// Jobs one reserve call leases ahead of the free slots.
    #[serde(deserialize_with = "form::count_in::<_, _, 1, MAX_PREFETCH>")]
    pub prefetch: usize,
    /// Threads of the worker's async runtime. A worker's jobs wait on Redis and HTTP nearly all
    /// the time, so one thread carries hundreds of jobs a second, and every reply is handled on
    /// the thread that polls the sockets: with more threads, each of a job's dozen round trips
    /// wakes a sleeping thread across cores (a futex wake and a context switch), which costs
    /// more CPU than the job's own work and adds to every round trip when processes share
    /// cores. Scale out with processes; raise this for a process that should use more cores.
    #[serde(deserialize_with = "form::count_in::<_, _, 1, 256>")]
    pub threads: usize,
    /// A reserved job's lease; a crashed worker's job returns within 1.5 × lease. Its range
    /// is the queue engine's.
    #[serde(deserialize_with = "form::duration", serialize_with = "form::duration_text")]
    pub lease: Duration,
    /// How long a stopping worker lets running jobs finish.
    #[serde(deserialize_with = "form::duration_in::<_, 1, HOUR_MS>", serialize_with = "form::duration_text")]
    pub shutdown_deadline: Duration,
    /// Where to serve `GET /metrics` (Prometheus); `None` (the default, or `""`) serves nothing.
    #[serde(deserialize_with = "form::optional_socket", serialize_with = "form::optional_socket_text")]
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
/// Ranges and forms of the names are the queue engine's (`QueueConfig::validate`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    #[serde(deserialize_with = "form::string")]
    pub prefix: String,
    #[serde(deserialize_with = "form::string")]
    pub name: String,
    #[serde(deserialize_with = "form::duration", serialize_with = "form::duration_text")]
    pub done_keep_age: Duration,
    #[serde(deserialize_with = "form::count")]
    pub done_keep_count: u64,
    /// Dead jobs expire after this long, and past `dead_cap` the oldest go first.
    #[serde(deserialize_with = "form::duration", serialize_with = "form::duration_text")]
    pub dead_keep_age: Duration,
    #[serde(deserialize_with = "form::count")]
    pub dead_cap: u64,
    #[serde(deserialize_with = "form::duration", serialize_with = "form::duration_text")]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingConfig {
    #[serde(deserialize_with = "form::path", serialize_with = "form::path_text")]
    pub path: PathBuf,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig { path: PathBuf::from("mapping/default.toml") }
    }
}

/// `[routing]`: the owner-routing rules file (relative paths are from the working directory).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    #[serde(deserialize_with = "form::path", serialize_with = "form::path_text")]
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

impl Named for DeletedContactAction {
    const EXPECTED: &'static str = "\"tag\" or \"delete\"";
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "tag" => Some(DeletedContactAction::Tag),
            "delete" => Some(DeletedContactAction::Delete),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Named for Mode {
    const EXPECTED: &'static str = "\"test\" or \"live\"";
    fn from_name(name: &str) -> Option<Self> {
        Mode::from_name(name)
    }
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Named for AuthFlow {
    const EXPECTED: &'static str = "\"jwt\" or \"authorization_code\"";
    fn from_name(name: &str) -> Option<Self> {
        AuthFlow::parse(name)
    }
    fn name(self) -> &'static str {
        self.as_str()
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    #[serde(deserialize_with = "form::named", serialize_with = "form::name")]
    pub deleted_contact_action: DeletedContactAction,
    /// ISO 3166-1 alpha-2 code used for phone numbers without a country prefix.
    #[serde(deserialize_with = "form::country")]
    pub default_country: String,
    /// The mode a deployment starts in: it seeds `{prefix}:mode` in Redis when that is unset;
    /// from then on `snapsync mode live|test` switches it (see `snapsync::mode`).
    #[serde(deserialize_with = "form::named", serialize_with = "form::name")]
    pub mode: Mode,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig { deleted_contact_action: DeletedContactAction::Tag, default_country: "US".into(), mode: Mode::Live }
    }
}

/// `[test]`: the Snapshots that test mode writes to (defaults: the local sandbox's).
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestConfig {
    #[serde(deserialize_with = "form::http_url", serialize_with = "form::url_text")]
    pub snapshots_url: Url,
    /// Not blank (`validate`).
    #[serde(deserialize_with = "form::secret", serialize_with = "form::redacted")]
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
