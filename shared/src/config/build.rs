//! The merged tree → [`Config`], section by section. Each key is read with its default, so
//! this file is also the list of every key `config/snapsync.example.toml` documents.

use toml::Value;

use super::reader::{parse_duration, Reader, DURATION_FORM};
use super::sections::*;
use super::Config;
use crate::jobs::JobKind;

pub(crate) fn build(r: &mut Reader) -> Config {
    let d = Config::default();
    Config {
        redis: RedisConfig { url: r.secret("redis.url", DEFAULT_REDIS_URL) },
        http: HttpConfig { bind: r.socket("http.bind", d.http.bind) },
        admin: AdminConfig {
            bind: r.socket("admin.bind", d.admin.bind),
            token: r.secret("admin.token", DEFAULT_ADMIN_TOKEN),
        },
        ringcentral: RingCentralConfig {
            server_url: r.url("ringcentral.server_url", SANDBOX_RINGCENTRAL_URL),
            client_id: r.string("ringcentral.client_id", SANDBOX_CLIENT_ID),
            client_secret: r.secret("ringcentral.client_secret", SANDBOX_CLIENT_SECRET),
            auth: r.field("ringcentral.auth", AuthFlow::Jwt, false, "\"jwt\" or \"authorization_code\"", |v, _| {
                v.as_str().and_then(AuthFlow::parse)
            }),
            jwt: r.secret("ringcentral.jwt", SANDBOX_JWT),
            redirect_uri: r.url("ringcentral.redirect_uri", DEFAULT_REDIRECT_URI),
            webhook_address: r.url("ringcentral.webhook_address", DEFAULT_WEBHOOK_ADDRESS),
            verification_token: r.secret("ringcentral.verification_token", DEFAULT_VERIFICATION_TOKEN),
        },
        snapshots: SnapshotsConfig {
            base_url: r.url("snapshots.base_url", SANDBOX_SNAPSHOTS_URL),
            api_key: r.secret("snapshots.api_key", SANDBOX_SNAPSHOTS_API_KEY),
        },
        schedules: schedules(r, d.schedules),
        rate_limits: rate_limits(r, d.rate_limits),
        retry: retry(r, d.retry),
        worker: WorkerConfig {
            concurrency: r.count("worker.concurrency", d.worker.concurrency),
            prefetch: r.count("worker.prefetch", d.worker.prefetch),
            threads: r.count("worker.threads", d.worker.threads),
            lease: r.duration("worker.lease", d.worker.lease),
            shutdown_deadline: r.duration("worker.shutdown_deadline", d.worker.shutdown_deadline),
            metrics_bind: r.optional_socket("worker.metrics_bind", d.worker.metrics_bind),
        },
        queue: QueueSection {
            prefix: r.string("queue.prefix", &d.queue.prefix),
            name: r.string("queue.name", &d.queue.name),
            done_keep_age: r.duration("queue.done_keep_age", d.queue.done_keep_age),
            done_keep_count: r.count("queue.done_keep_count", d.queue.done_keep_count),
            dead_keep_age: r.duration("queue.dead_keep_age", d.queue.dead_keep_age),
            dead_cap: r.count("queue.dead_cap", d.queue.dead_cap),
            unique_ttl: r.duration("queue.unique_ttl", d.queue.unique_ttl),
        },
        mapping: MappingConfig { path: r.string("mapping.path", &d.mapping.path.to_string_lossy()).into() },
        routing: RoutingConfig { path: r.string("routing.path", &d.routing.path.to_string_lossy()).into() },
        sync: SyncConfig {
            deleted_contact_action: r.field(
                "sync.deleted_contact_action",
                d.sync.deleted_contact_action,
                false,
                "\"tag\" or \"delete\"",
                |v, _| match v.as_str() {
                    Some("tag") => Some(DeletedContactAction::Tag),
                    Some("delete") => Some(DeletedContactAction::Delete),
                    _ => None,
                },
            ),
            default_country: r.string("sync.default_country", &d.sync.default_country),
            mode: r.field("sync.mode", d.sync.mode, false, "\"test\" or \"live\"", |v, _| {
                v.as_str().and_then(Mode::from_name)
            }),
        },
        test: TestConfig {
            snapshots_url: r.url("test.snapshots_url", SANDBOX_SNAPSHOTS_URL),
            snapshots_api_key: r.secret("test.snapshots_api_key", SANDBOX_SNAPSHOTS_API_KEY),
        },
    }
}

/// `every` or `cron`, not both; an empty string counts as unset so an environment variable
/// can clear the file's choice (`SNAPSYNC__SCHEDULES__CONTACTS__CRON=`).
fn schedules(r: &mut Reader, mut schedules: SchedulesConfig) -> SchedulesConfig {
    for resource in Resource::ALL {
        let section = format!("schedules.{}", resource.as_str());
        let entry = schedules.get_mut(resource);
        entry.enabled = r.boolean(&format!("{section}.enabled"), entry.enabled);
        let blank = |v: &Value| v.as_str().is_some_and(|s| s.trim().is_empty());
        let every = r.optional(&format!("{section}.every"), false, DURATION_FORM, |v, _| {
            if blank(v) {
                Some(None)
            } else {
                v.as_str().and_then(parse_duration).map(Some)
            }
        });
        let cron = r.optional(
            &format!("{section}.cron"),
            false,
            "a cron expression like \"*/15 * * * *\" (minute hour day-of-month month day-of-week)",
            |v, _| {
                let text = v.as_str()?.trim();
                if text.is_empty() {
                    return Some(None);
                }
                text.parse::<croner::Cron>().ok().map(|_| Some(text.to_owned()))
            },
        );
        match (every.flatten(), cron.flatten()) {
            (Some(_), Some(_)) => r.report(
                &section,
                "sets both `every` and `cron`: expected one of them (set the other to \"\" to clear it)".into(),
            ),
            (Some(every), None) => entry.schedule = Schedule::Every(every),
            (None, Some(cron)) => entry.schedule = Schedule::Cron(cron),
            (None, None) => {}
        }
    }
    schedules
}

fn rate_limits(r: &mut Reader, d: RateLimitsConfig) -> RateLimitsConfig {
    let rc = d.ringcentral;
    let sn = d.snapshots;
    RateLimitsConfig {
        ringcentral: RingCentralLimits {
            light: r.count("rate_limits.ringcentral.light", rc.light),
            medium: r.count("rate_limits.ringcentral.medium", rc.medium),
            heavy: r.count("rate_limits.ringcentral.heavy", rc.heavy),
            auth: r.count("rate_limits.ringcentral.auth", rc.auth),
            window: r.duration("rate_limits.ringcentral.window", rc.window),
        },
        snapshots: SnapshotsLimits {
            requests: r.count("rate_limits.snapshots.requests", sn.requests),
            window: r.duration("rate_limits.snapshots.window", sn.window),
        },
        max_wait: r.duration("rate_limits.max_wait", d.max_wait),
        urgent_max_wait: r.duration("rate_limits.urgent_max_wait", d.urgent_max_wait),
        urgent_reserve_percent: r.count("rate_limits.urgent_reserve_percent", d.urgent_reserve_percent),
    }
}

fn retry(r: &mut Reader, d: RetryConfig) -> RetryConfig {
    let mut per_kind = d.max_attempts_per_kind;
    // Looked up so an empty `[retry.max_attempts_per_kind]` is a known section.
    r.lookup("retry.max_attempts_per_kind");
    for kind in JobKind::ALL {
        if let Some(n) = r.optional_count(&format!("retry.max_attempts_per_kind.{}", kind.as_str())) {
            per_kind.insert(kind, n);
        }
    }
    RetryConfig {
        base: r.duration("retry.base", d.base),
        cap: r.duration("retry.cap", d.cap),
        max_attempts: r.count("retry.max_attempts", d.max_attempts),
        max_attempts_per_kind: per_kind,
        max_snoozed: r.duration("retry.max_snoozed", d.max_snoozed),
    }
}
