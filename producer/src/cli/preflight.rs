//! `snapsync preflight`: before the first sync, each thing that would stop it, checked against
//! the configured (real) services, one line each:
//!
//! ```text
//! ok    redis.persistence     appendonly yes
//! FAIL  ringcentral.login     RingCentral refused the client credentials (401 OAU-146): check ringcentral.client_id/client_secret
//! skip  ringcentral.scopes    needs a RingCentral login
//! ```
//!
//! Statuses: `ok`; `FAIL` (a first sync would fail; the line says what to fix); `warn` (works,
//! but may not be meant, or could not be checked); `skip` (depends on a check that failed).
//! The checks, in order:
//!
//! - `redis.persistence`: `CONFIG GET appendonly` and `save`: AOF on or an RDB schedule, else
//!   a restart loses the queue and the sync state. `CONFIG` renamed or refused (managed Redis
//!   often does): `warn`, "could not check". `redis.eviction`: a `maxmemory-policy` other
//!   than `noeviction` is a `warn` (queue keys could be evicted).
//! - `mode`: test or live, and where writes go (`snapsync::mode`); a test target that is the
//!   live Snapshots is a `warn`.
//! - `ringcentral.login`: a fresh JWT login with the configured credentials
//!   ([`snapsync::ringcentral::RingCentral::check_login`]: nothing stored, the token revoked
//!   at once, no backoff set for the running processes).
//! - `ringcentral.scopes`: the token's `scope` against [`REQUIRED_SCOPES`], the app
//!   permissions each job kind needs (`CallControl` only when the webhook filters include
//!   telephony sessions).
//! - `snapshots.key`: `GET /owners` with the key (401: the key is wrong).
//! - `snapshots.write`: a probe that creates nothing: `POST /leads` with an empty body. Snapshots
//!   checks the key's permission before the body, so 422 (validation) proves the key may
//!   write and 403 that it may not.
//! - `routing.owners`: every owner a routing rule names exists in Snapshots and is active, and
//!   every team has an active owner (`mapping check`'s checks; an inactive owner, a warning
//!   there, fails here: its leads would not go where the rules say).
//! - `mapping.preview`: `--preview N` (default 3) real contacts mapped and routed as a sync
//!   would (`mapping check --preview`: nothing written, no sync token stored).
//! - `ringcentral.webhook`: a short-lived subscription to `ringcentral.webhook_address` with
//!   only a renewal-reminder filter (no event reaches `serve` through it), deleted at once.
//!   RingCentral runs the validation handshake before it answers, so success proves the
//!   address reaches a running `snapsync serve` from RingCentral's side.
//!
//! Exit codes: 0 every check passed (warnings allowed); 1 a check failed (every check still
//! ran and is reported); 69 Redis cannot be reached; 78 the configuration is invalid; 70
//! anything else. No secret is printed: the checks name keys, never values.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::Map;
use snapsync::config::Config;
use snapsync::ringcentral::{RcError, RingCentral};
use snapsync::snapshots::Collection;
use snapsync::subscription::SubscriptionSpec;
use snapsync_queue::Queue;

use super::{print_json, with_queue_config, Common};

/// Exit code when a check failed.
pub const CHECK_FAILED: u8 = 1;

pub const PREFLIGHT_EXIT_CODES: &str = "\
Exit codes:
  0   every check passed (warnings allowed)
  1   a check failed (every check still ran and is reported)
  2   bad arguments
  69  Redis cannot be reached (EX_UNAVAILABLE)
  70  any other failure (EX_SOFTWARE)
  78  the configuration is invalid (EX_CONFIG)";

/// The RingCentral app permissions each job kind (and `serve`) needs.
pub const REQUIRED_SCOPES: &[(&str, &[&str])] = &[
    ("ReadAccounts", &["sync_locations", "sync_account", "sync_contacts"]),
    ("ReadContacts", &["sync_contacts", "upsert_contact"]),
    ("ReadMessages", &["voicemail_follow_up", "tag_message", "sync_messages"]),
    ("ReadCallLog", &["tag_call", "sync_calls"]),
    ("WebhookSubscriptions", &["renew_subscription", "serve"]),
];

/// How long a check waits for a rate-limit permit the running processes share.
const PATIENCE: Duration = Duration::from_secs(30);
/// The probe subscription's lifetime, should its delete fail; its reminder never fires first.
const PROBE_TTL_SECS: u64 = 600;
const PROBE_FILTER: &str = "/restapi/v1.0/subscription/~?threshold=120&interval=60";

#[derive(Args)]
#[command(after_help = PREFLIGHT_EXIT_CODES)]
pub struct PreflightArgs {
    /// Real contacts to map and route in `mapping.preview` (0 skips it).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=250))]
    preview: u32,
    #[command(flatten)]
    common: Common,
}

#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    Warn,
    Skip,
}

impl Status {
    fn shown(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Warn => "warn",
            Status::Skip => "skip",
        }
    }
}

#[derive(Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    /// What was found and, on `FAIL`, what to fix.
    pub detail: String,
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
}

#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn add(&mut self, check: &'static str, status: Status, detail: impl Into<String>) -> Status {
        self.0.push(Check { check, status, detail: one_line(&detail.into()) });
        status
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn run(args: PreflightArgs) -> ExitCode {
    let json = args.common.json;
    let preview = args.preview;
    with_queue_config(&args.common, move |queue, config, _shown| async move {
        // Every call waits for its rate-limit permit as long as it takes (up to PATIENCE):
        // preflight runs once, by hand, beside processes that share the budgets.
        let checks = snapsync_queue::with_patience(PATIENCE, run_checks(&queue, &config, preview)).await;
        let ok = !checks.iter().any(|c| c.status == Status::Fail);
        let code = if ok { 0 } else { CHECK_FAILED };
        if json {
            print_json(&Report { ok, checks })?;
            return Ok(code);
        }
        let width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
        for c in &checks {
            println!("{:<5} {:<width$}  {}", c.status.shown(), c.check, c.detail);
        }
        let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
        if ok {
            println!("preflight ok: nothing found that would stop a first sync");
        } else {
            println!("preflight: {failed} check(s) failed");
        }
        Ok(code)
    })
}

async fn run_checks(queue: &Queue, config: &Config, preview: u32) -> Vec<Check> {
    let mut checks = Checks::default();
    redis_checks(&mut checks, queue).await;
    mode_check(&mut checks, queue, config).await;

    let redis = queue.conn().clone();
    let limiter = queue.limiter(config.rate_limits.limiter_options());
    let spec = SubscriptionSpec::new(
        config.ringcentral.webhook_address.as_str(),
        config.ringcentral.verification_token.clone(),
    );
    let rc = match snapsync::clients::ringcentral(config, redis.clone(), limiter.clone()) {
        Ok(rc) => Some(rc),
        Err(e) => {
            checks.add("ringcentral.login", Status::Fail, format!("cannot build the RingCentral client: {e}"));
            None
        }
    };
    let logged_in = match &rc {
        Some(rc) => login_checks(&mut checks, rc, &spec).await,
        None => false,
    };

    let snapshots_ok = match snapsync::clients::snapshots(config, redis, limiter) {
        Ok(client) => snapshots_checks(&mut checks, &client).await,
        Err(e) => {
            checks.add("snapshots.key", Status::Fail, format!("cannot build the Snapshots client: {e}")) == Status::Ok
        }
    };

    if snapshots_ok {
        routing_checks(&mut checks, queue, config, if logged_in { preview } else { 0 }).await;
        if !logged_in && preview > 0 {
            checks.add("mapping.preview", Status::Skip, "needs a RingCentral login");
        }
    } else {
        checks.add("routing.owners", Status::Skip, "needs a working Snapshots key");
        checks.add("mapping.preview", Status::Skip, "needs a working Snapshots key");
    }

    match (&rc, logged_in) {
        (Some(rc), true) => webhook_check(&mut checks, rc, &spec).await,
        _ => {
            checks.add("ringcentral.webhook", Status::Skip, "needs a RingCentral login");
        }
    }
    checks.0
}

async fn redis_checks(checks: &mut Checks, queue: &Queue) {
    let mut conn = queue.conn().clone();
    let mut get = async |name: &str| -> Result<String, redis::RedisError> {
        let pairs: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query_async(&mut conn).await?;
        Ok(pairs.get(1).cloned().unwrap_or_default())
    };
    let (aof, save) = match (get("appendonly").await, get("save").await) {
        (Ok(a), Ok(s)) => (a, s),
        (Err(e), _) | (_, Err(e)) => {
            checks.add(
                "redis.persistence",
                Status::Warn,
                format!(
                    "could not check: CONFIG GET was refused ({}); CONFIG may be renamed or disabled: make sure \
                     Redis persists (appendonly yes, or a save schedule), or a restart loses the queue and sync state",
                    e.code().unwrap_or("error")
                ),
            );
            checks.add("redis.eviction", Status::Warn, "could not check maxmemory-policy (CONFIG refused)");
            return;
        }
    };
    if aof.eq_ignore_ascii_case("yes") {
        checks.add("redis.persistence", Status::Ok, "appendonly yes");
    } else if !save.trim().is_empty() {
        checks.add(
            "redis.persistence",
            Status::Ok,
            format!("RDB snapshots (save \"{save}\"); appendonly yes would lose less on a crash"),
        );
    } else {
        checks.add(
            "redis.persistence",
            Status::Fail,
            "Redis keeps nothing on disk (appendonly no, save \"\"): a restart loses the queue, schedules and sync \
             state; set appendonly yes (CONFIG SET appendonly yes, and in redis.conf)",
        );
    }
    match get("maxmemory-policy").await {
        Ok(p) if p == "noeviction" => checks.add("redis.eviction", Status::Ok, "maxmemory-policy noeviction"),
        Ok(p) => checks.add(
            "redis.eviction",
            Status::Warn,
            format!("maxmemory-policy {p}: under memory pressure Redis may evict queue keys; set noeviction"),
        ),
        Err(_) => checks.add("redis.eviction", Status::Warn, "could not check maxmemory-policy (CONFIG refused)"),
    };
}

/// `mode`: where writes go now; a test target that is the live Snapshots is a warning.
async fn mode_check(checks: &mut Checks, queue: &Queue, config: &Config) {
    use snapsync::mode::Mode;
    let (mode, from) = match snapsync::mode::get(queue.conn(), &config.queue.prefix).await {
        Ok(Some(m)) => (m, "switched with `snapsync mode`"),
        Ok(None) => (config.sync.mode, "sync.mode"),
        Err(e) => {
            checks.add("mode", Status::Warn, format!("cannot read the mode: {e}"));
            return;
        }
    };
    match mode {
        Mode::Live => checks.add(
            "mode",
            Status::Ok,
            format!("live ({from}): writes go to snapshots.base_url {}", config.snapshots.base_url),
        ),
        Mode::Test if config.test.snapshots_url == config.snapshots.base_url => checks.add(
            "mode",
            Status::Warn,
            "test, but test.snapshots_url is snapshots.base_url: test mode writes to the live Snapshots",
        ),
        Mode::Test => checks.add(
            "mode",
            Status::Ok,
            format!(
                "test ({from}): writes go to test.snapshots_url {}; `snapsync mode live` switches to snapshots.base_url \
                 (the checks below are of the live services)",
                config.test.snapshots_url
            ),
        ),
    };
}

/// How long the login check waits out RingCentral's rate limit before it reports the 429.
const LOGIN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(65);

/// `ringcentral.login` and `ringcentral.scopes`; true when the login worked.
async fn login_checks(checks: &mut Checks, rc: &RingCentral, spec: &SubscriptionSpec) -> bool {
    // A 429 (RingCentral's Auth group allows 5 requests a minute) is a wait, not a failed
    // check: wait its Retry-After and ask again, for up to LOGIN_PATIENCE.
    let started = std::time::Instant::now();
    let login = loop {
        match rc.check_login().await {
            Err(e) if e.status() == Some(429) && started.elapsed() < LOGIN_PATIENCE => {
                let wait = e.retry_after().unwrap_or(std::time::Duration::from_secs(5)).min(LOGIN_PATIENCE);
                tracing::info!(wait_ms = wait.as_millis() as u64, "ringcentral login rate-limited; waiting");
                tokio::time::sleep(wait).await;
            }
            other => break other,
        }
    };
    let (scopes, scopes_known) = match login {
        Ok(l) => (l.scopes, l.scopes_known),
        Err(e) => {
            checks.add("ringcentral.login", Status::Fail, login_failure(&e));
            checks.add("ringcentral.scopes", Status::Skip, "needs a RingCentral login");
            return false;
        }
    };
    let how = match rc.auth_flow() {
        snapsync::ringcentral::AuthFlow::Jwt => "logged in with ringcentral.client_id and ringcentral.jwt",
        snapsync::ringcentral::AuthFlow::AuthorizationCode => "the token pair `snapsync login` stored works",
    };
    checks.add("ringcentral.login", Status::Ok, how);
    if !scopes_known {
        checks.add(
            "ringcentral.scopes",
            Status::Warn,
            "the permissions of the stored login are not recorded: run `snapsync login` again to check them",
        );
        return true;
    }
    let mut required: Vec<(&str, Vec<&str>)> = REQUIRED_SCOPES.iter().map(|(s, jobs)| (*s, jobs.to_vec())).collect();
    if spec.event_filters.iter().any(|f| f.contains("/telephony/sessions")) {
        required.push(("CallControl", vec!["serve (telephony session events)"]));
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|(scope, _)| !scopes.iter().any(|s| s == scope))
        .map(|(scope, jobs)| format!("{scope} (needed by {})", jobs.join(", ")))
        .collect();
    if missing.is_empty() {
        let names: Vec<&str> = required.iter().map(|(s, _)| *s).collect();
        checks.add("ringcentral.scopes", Status::Ok, names.join(" "));
    } else {
        checks.add(
            "ringcentral.scopes",
            Status::Fail,
            format!(
                "the app lacks {}: add the permission(s) to the app in the RingCentral developer console \
                 (the token carries: {})",
                missing.join(", "),
                if scopes.is_empty() { "none".to_string() } else { scopes.join(" ") }
            ),
        );
    }
    true
}

fn login_failure(e: &RcError) -> String {
    let code = e.error_code().unwrap_or("");
    let status = e.status().map(|s| format!("{s} {code}")).unwrap_or_default();
    let status = status.trim();
    match e.status() {
        Some(401) => {
            format!("RingCentral refused the client credentials ({status}): check ringcentral.client_id/client_secret")
        }
        Some(400) if code == "OAU-140" || code.is_empty() => {
            format!(
                "RingCentral refused the JWT ({status}): check ringcentral.jwt (a JWT credential of this app's user)"
            )
        }
        Some(_) => format!("RingCentral refused the login ({status}): {e}"),
        None => format!("no login: {e}; check ringcentral.server_url and the network"),
    }
}

/// `snapshots.key` and `snapshots.write`; true when the key reads.
async fn snapshots_checks(checks: &mut Checks, client: &snapsync::snapshots::SnapshotsClient) -> bool {
    match client.list_owners().await {
        Ok(owners) => checks.add("snapshots.key", Status::Ok, format!("the key reads ({} owners)", owners.len())),
        Err(e) if e.status() == Some(401) => {
            checks.add("snapshots.key", Status::Fail, "Snapshots refused the API key (401): check snapshots.api_key");
            checks.add("snapshots.write", Status::Skip, "needs a working Snapshots key");
            return false;
        }
        Err(e) => {
            checks.add("snapshots.key", Status::Fail, format!("{e}; check snapshots.base_url and snapshots.api_key"));
            checks.add("snapshots.write", Status::Skip, "needs a working Snapshots key");
            return false;
        }
    };
    // An empty lead: refused by validation (422) when the key may write, with 403 when not.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let key = format!("snapsync-preflight-{}-{nanos}", std::process::id());
    let probe = client.create(Collection::Leads, &Map::new(), &key).await;
    match probe {
        Err(e) if e.status() == Some(422) => checks.add(
            "snapshots.write",
            Status::Ok,
            "the key may write (an empty lead was refused by validation, 422; nothing was created)",
        ),
        Err(e) if e.status() == Some(403) => checks.add(
            "snapshots.write",
            Status::Fail,
            "the Snapshots API key may not write (403 forbidden): set snapshots.api_key to a key with write access",
        ),
        Err(e) => checks.add("snapshots.write", Status::Fail, format!("the write probe failed: {e}")),
        Ok(record) => {
            // Not as documented: the empty lead was accepted. Take it back.
            let _ = client.delete_by_id(Collection::Leads, &record.id).await;
            checks.add(
                "snapshots.write",
                Status::Warn,
                format!("Snapshots accepted an empty lead (deleted again: {}); the key may write", record.id),
            )
        }
    };
    true
}

async fn routing_checks(checks: &mut Checks, queue: &Queue, config: &Config, preview: u32) {
    let (report, _rules) = match super::mapping::check(queue, config, preview).await {
        Ok(r) => r,
        Err(f) => {
            checks.add("routing.owners", Status::Fail, f.message);
            return;
        }
    };
    let (contacts, owners): (Vec<&String>, Vec<&String>) =
        report.problems.iter().partition(|p| p.starts_with("contact "));
    let mut owner_lines: Vec<String> = owners.iter().map(|s| s.to_string()).collect();
    owner_lines.extend(report.warnings.iter().map(|w| format!("{w}: activate the owner or change the rule")));
    if owner_lines.is_empty() {
        checks.add(
            "routing.owners",
            Status::Ok,
            format!("every owner and team of {} is active in Snapshots ({} owners)", report.routing, report.owners),
        );
    } else {
        checks.add("routing.owners", Status::Fail, owner_lines.join("; "));
    }
    if preview == 0 {
        return;
    }
    if !owner_lines.is_empty() && !owners.is_empty() {
        checks.add("mapping.preview", Status::Skip, "fix routing.owners first");
    } else if !contacts.is_empty() {
        let lines: Vec<&str> = contacts.iter().map(|s| s.as_str()).collect();
        checks.add("mapping.preview", Status::Fail, format!("{} (mapping {})", lines.join("; "), report.mapping));
    } else {
        checks.add(
            "mapping.preview",
            Status::Ok,
            format!(
                "{} real contacts mapped and routed (nothing written; `snapsync mapping check --preview N` shows them)",
                report.previews.len()
            ),
        );
    }
}

async fn webhook_check(checks: &mut Checks, rc: &RingCentral, spec: &SubscriptionSpec) {
    let address = spec.address.as_str();
    let token = secrecy::ExposeSecret::expose_secret(&spec.verification_token).to_string();
    let created =
        rc.create_subscription(&[PROBE_FILTER.to_string()], address, Some(&token), Some(PROBE_TTL_SECS)).await;
    let sub = match created {
        Ok(s) => s,
        Err(e) => {
            let code = e.error_code().unwrap_or("");
            let why = match code {
                "SUB-521" => "RingCentral could not reach it (SUB-521: refused, timed out or not 200)",
                "SUB-520" => "it answered without echoing Validation-Token (SUB-520): is it a `snapsync serve`?",
                "SUB-525" => "its answer to the handshake was invalid (SUB-525)",
                _ => "",
            };
            let detail = if why.is_empty() {
                format!("creating a test subscription to {address} failed: {e}")
            } else {
                format!(
                    "ringcentral.webhook_address {address}: {why}; it must reach a running `snapsync serve` \
                     (http.bind) from the internet: check the address, DNS, TLS and the firewall"
                )
            };
            checks.add("ringcentral.webhook", Status::Fail, detail);
            return;
        }
    };
    match rc.delete_subscription(&sub.id).await {
        // 404: `serve`'s own subscription upkeep removed it first.
        Ok(()) | Err(RcError::Api { status: 404, .. }) => checks.add(
            "ringcentral.webhook",
            Status::Ok,
            format!("{address} passed RingCentral's validation handshake (test subscription created and deleted)"),
        ),
        Err(e) => checks.add(
            "ringcentral.webhook",
            Status::Warn,
            format!(
                "{address} passed the handshake, but the test subscription {} could not be deleted ({e}); it expires \
                 in {PROBE_TTL_SECS}s",
                sub.id
            ),
        ),
    };
}
