//! The producer's HTTP routes: `POST /webhooks/ringcentral`, `GET /healthz`, `GET /readyz`,
//! and `GET /metrics` (Prometheus, `docs/metrics.md`) when a recorder is installed.
//!
//! The webhook answers 200 only after Redis holds the job (or already held it: a re-sent
//! `uuid` is a dedup no-op), 503 with `Retry-After` when Redis cannot be reached so
//! RingCentral re-sends, 401 on a missing or wrong `Verification-Token` (compared in
//! constant time), 413 above [`BODY_LIMIT`], 400 on a body that is not a notification.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use snapsync::telemetry::{self, Metrics};
use snapsync_queue::inspect::JobState;
use snapsync_queue::{Enqueued, Queue, RedisConn};
use subtle::ConstantTimeEq;

use crate::events::{self, Mapped};

/// Notifications are a few KiB; anything near this is not one.
pub const BODY_LIMIT: usize = 256 * 1024;
/// A webhook waits at most this for Redis before answering 503 (RingCentral's delivery
/// timeout is longer, and it re-sends on any non-2xx).
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// The handshake's echo header and the webhook path.
pub const VALIDATION_TOKEN: &str = "validation-token";
pub const VERIFICATION_TOKEN: &str = "verification-token";
pub const WEBHOOK_PATH: &str = "/webhooks/ringcentral";

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub queue: Queue,
    /// A connection for `/readyz`'s PING. It heals itself after any Redis error (a refused
    /// password included), so `/readyz` turns 200 again once Redis is fixed.
    pub redis: RedisConn,
    pub verification_token: SecretString,
    /// `GET /metrics` is served when set.
    pub metrics: Option<MetricsState>,
}

/// The recorder, and the kinds seen so far (a kind whose jobs are all gone reads 0, not its
/// last value).
#[derive(Clone)]
pub struct MetricsState {
    metrics: Metrics,
    kinds: Arc<Mutex<BTreeSet<String>>>,
}

impl MetricsState {
    pub fn new(metrics: Metrics) -> MetricsState {
        MetricsState { metrics, kinds: Arc::default() }
    }
}

/// The queue and budget reads of one scrape wait at most this for Redis.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(3);

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route(WEBHOOK_PATH, post(webhook).layer(middleware::from_fn(count_webhook)))
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(readyz));
    if state.metrics.is_some() {
        router = router.route("/metrics", get(metrics));
    }
    // (`edge::serve` turns axum's own plain-text refusals into JSON, for every route.)
    router.layer(DefaultBodyLimit::max(BODY_LIMIT)).with_state(state)
}

/// A value a caller sent, fit for a log line: control characters (CR, LF, ESC, …) written
/// as escapes, at most [`LOGGED_CHARS`] characters.
pub fn clean(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == LOGGED_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The longest caller-sent value a log line carries.
pub const LOGGED_CHARS: usize = 200;

/// Refused webhooks (missing or wrong token) are counted and logged at most once per
/// [`REFUSAL_LOG_EVERY`], with the count since the last line: a flood of them does not
/// flood the log.
static REFUSED: AtomicU64 = AtomicU64::new(0);
static REFUSAL_LOGGED_AT: AtomicU64 = AtomicU64::new(0);
pub const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

fn note_refusal() {
    REFUSED.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let last = REFUSAL_LOGGED_AT.load(Ordering::Relaxed);
    let due = last == 0 || now.saturating_sub(last) >= REFUSAL_LOG_EVERY.as_millis() as u64;
    if due && REFUSAL_LOGGED_AT.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        let refused = REFUSED.swap(0, Ordering::Relaxed);
        tracing::warn!(refused, "webhooks refused: missing or wrong Verification-Token (logged at most once a minute)");
    }
}

/// `Content-Type: application/json` (parameters such as `charset` allowed).
fn json_content(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// `snapsync_webhook_requests_total{status}`: every answer of the webhook route, refusals by
/// the body limit included.
async fn count_webhook(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    metrics::counter!("snapsync_webhook_requests_total", "status" => resp.status().as_u16().to_string()).increment(1);
    resp
}

/// Refreshes the queue and budget gauges from Redis, then renders every metric. A Redis that
/// does not answer leaves the gauges at their last values and counts a scrape error.
async fn metrics(State(state): State<AppState>) -> Response {
    let Some(m) = &state.metrics else { return StatusCode::NOT_FOUND.into_response() };
    if let Err(e) = tokio::time::timeout(SCRAPE_TIMEOUT, refresh_gauges(&state.queue, m)).await.unwrap_or_else(|_| {
        Err(snapsync_queue::QueueError::Reply { op: "metrics", detail: "no answer from redis in time".into() })
    }) {
        tracing::warn!(error = %e, "metrics: cannot read the queue; gauges keep their last values");
        metrics::counter!("snapsync_metrics_refresh_errors_total").increment(1);
    }
    ([(header::CONTENT_TYPE, telemetry::CONTENT_TYPE)], m.metrics.render()).into_response()
}

async fn refresh_gauges(queue: &Queue, m: &MetricsState) -> Result<(), snapsync_queue::QueueError> {
    let counts = queue.counts().await?;
    let due = queue.due().await?;
    let budgets = queue.budgets().await?;
    let kinds: Vec<String> = {
        let mut seen = m.kinds.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend(counts.by_kind.keys().cloned());
        seen.iter().cloned().collect()
    };
    for kind in kinds {
        let c = counts.by_kind.get(&kind).copied().unwrap_or_default();
        for state in JobState::ALL {
            metrics::gauge!("snapsync_queue_jobs", "state" => state.as_str(), "kind" => kind.clone())
                .set(c.get(state) as f64);
        }
    }
    metrics::gauge!("snapsync_queue_due_jobs", "state" => "scheduled").set(due.scheduled as f64);
    metrics::gauge!("snapsync_queue_due_jobs", "state" => "snoozed").set(due.snoozed as f64);
    metrics::gauge!("snapsync_queue_paused").set(if counts.paused { 1.0 } else { 0.0 });
    for b in budgets {
        let name = || b.name.clone();
        metrics::gauge!("snapsync_rate_limit_budget_limit", "budget" => name()).set(f64::from(b.limit));
        metrics::gauge!("snapsync_rate_limit_budget_used", "budget" => name()).set(f64::from(b.used));
        metrics::gauge!("snapsync_rate_limit_budget_window_seconds", "budget" => name())
            .set(b.window_ms as f64 / 1000.0);
        metrics::gauge!("snapsync_rate_limit_budget_paused_seconds", "budget" => name())
            .set(b.paused_for_ms as f64 / 1000.0);
        // Totals kept in Redis for all processes together: counters set to the stored value.
        metrics::counter!("snapsync_rate_limit_budget_granted_total", "budget" => name()).absolute(b.granted);
        metrics::counter!("snapsync_rate_limit_budget_waits_total", "budget" => name()).absolute(b.waits);
        metrics::counter!("snapsync_rate_limit_budget_pauses_total", "budget" => name()).absolute(b.pauses);
    }
    Ok(())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn token_ok(headers: &HeaderMap, expected: &SecretString) -> bool {
    headers
        .get(VERIFICATION_TOKEN)
        .is_some_and(|got| bool::from(got.as_bytes().ct_eq(expected.expose_secret().as_bytes())))
}

async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(validation) = headers.get(VALIDATION_TOKEN) {
        // The handshake on subscribe: echo the token, 200, a tiny response (RingCentral
        // refuses one over 1 KiB). A wrong verification token is still refused.
        if headers.contains_key(VERIFICATION_TOKEN) && !token_ok(&headers, &state.verification_token) {
            return error(StatusCode::UNAUTHORIZED, "wrong Verification-Token");
        }
        let mut resp = StatusCode::OK.into_response();
        resp.headers_mut().insert(VALIDATION_TOKEN, validation.clone());
        return resp;
    }
    if !token_ok(&headers, &state.verification_token) {
        note_refusal();
        return error(StatusCode::UNAUTHORIZED, "missing or wrong Verification-Token");
    }
    if !json_content(&headers) {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected Content-Type: application/json");
    }
    let envelope = match events::parse(&body) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let job = match events::map(&envelope) {
        Ok(Mapped::Job(job)) => job,
        Ok(Mapped::Ignored(why)) => {
            tracing::info!(uuid = %clean(&envelope.uuid), event = %clean(&envelope.event), why, "notification ignored");
            return (StatusCode::OK, Json(json!({ "ignored": why }))).into_response();
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let kind = job.kind.clone();
    match tokio::time::timeout(ENQUEUE_TIMEOUT, state.queue.enqueue(job)).await {
        Ok(Ok(outcome)) => {
            let duplicate = matches!(outcome, Enqueued::Duplicate(_));
            tracing::info!(uuid = %clean(&envelope.uuid), kind, job = %outcome.id().0, duplicate, "notification enqueued");
            (StatusCode::OK, Json(json!({ "job": outcome.id().0, "duplicate": duplicate }))).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(uuid = %clean(&envelope.uuid), error = %e, "cannot enqueue notification; answering 503");
            unavailable()
        }
        Err(_) => {
            tracing::error!(uuid = %clean(&envelope.uuid), "redis did not answer in time; answering 503");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    let mut resp = error(StatusCode::SERVICE_UNAVAILABLE, "job queue unavailable; re-send later");
    resp.headers_mut().insert("retry-after", HeaderValue::from_static("5"));
    resp
}

async fn readyz(State(state): State<AppState>) -> Response {
    let mut conn = state.redis.clone();
    let cmd = redis::cmd("PING");
    let ping = cmd.query_async::<String>(&mut conn);
    match tokio::time::timeout(PING_TIMEOUT, ping).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n").into_response(),
        // The detail goes to the log only: a probe's body is no place for Redis's words.
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readyz: redis PING failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "redis unavailable")
        }
        Err(_) => {
            tracing::warn!(timeout = ?PING_TIMEOUT, "readyz: no answer to redis PING");
            error(StatusCode::SERVICE_UNAVAILABLE, "redis unavailable")
        }
    }
}
