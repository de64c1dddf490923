//! Notification delivery: [`notify`] fans an event out to matching subscriptions, each POST
//! runs on its own task, its outcome is recorded, and a subscription whose deliveries keep
//! failing is blacklisted (ringcentral.md §3.4). A background tick sends renewal reminders
//! (§3.5). Control routes let tests see and steer all of it:
//!
//! - `GET /sandbox/deliveries` → `[{subscriptionId, event, uuid, status, at}]` (`status` is the
//!   receiver's HTTP status, or a string when there was no answer); `DELETE` clears it.
//! - `PUT /sandbox/subscriptions/settings` `{handshake_timeout_ms?, delivery_timeout_ms?,
//!   blacklist_after_failures?, blacklist_after_secs?}` → the settings now in force.
//! - `POST /sandbox/subscriptions/{id}/expire` → the subscription's info, now expired.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::directory::rc_time;
use super::subscriptions::Blacklisted;
use super::webhooks::{self, Outcome};
use super::{errors, event_filters, RcState};

/// How often the renewal-reminder tick looks at subscriptions.
const REMINDER_TICK: Duration = Duration::from_millis(200);
/// Delivery records kept for `GET /sandbox/deliveries`.
const MAX_RECORDED: usize = 10_000;

/// Knobs tests turn through `PUT /sandbox/subscriptions/settings`.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// Budget of the validation handshake (RingCentral: 3 s).
    pub handshake_timeout: Duration,
    /// Budget of one notification POST (RingCentral: the same 3 s).
    pub delivery_timeout: Duration,
    /// A subscription is blacklisted after this many consecutive failed deliveries...
    pub blacklist_after_failures: u32,
    /// ...spanning at least this long (RingCentral: about 10 minutes).
    pub blacklist_after: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            handshake_timeout: Duration::from_secs(3),
            delivery_timeout: Duration::from_secs(3),
            blacklist_after_failures: 10,
            blacklist_after: Duration::from_secs(600),
        }
    }
}

/// One notification to send.
struct Target {
    subscription_id: String,
    owner_id: u64,
    address: String,
    verification_token: Option<String>,
    /// The subscription's normalised filter that matched (query kept): the envelope's `event`.
    event: String,
}

/// Fires an event: every active, unexpired subscription with a filter matching `event` (a
/// normalised filter path with real ids, e.g. `/restapi/v1.0/account/4000/extension/4001/voicemail`)
/// gets a notification with `body`. Returns at once; the POSTs run on their own tasks.
pub fn notify(state: &Arc<RcState>, event: &str, body: Value) {
    let now = OffsetDateTime::now_utc();
    let targets: Vec<Target> = {
        let subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        subs.by_id
            .values()
            .filter(|s| s.blacklisted.is_none() && !s.is_expired(now))
            .filter_map(|s| {
                let filter = s.filters.iter().find(|f| event_filters::matches(f, event))?;
                Some(Target {
                    subscription_id: s.id.clone(),
                    owner_id: s.extension_id,
                    address: s.address.clone(),
                    verification_token: s.verification_token.clone(),
                    event: filter.clone(),
                })
            })
            .collect()
    };
    for target in targets {
        dispatch(state, target, body.clone());
    }
}

fn dispatch(state: &Arc<RcState>, target: Target, body: Value) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(subscription = %target.subscription_id, "no runtime to deliver a notification on");
        return;
    };
    let state = state.clone();
    handle.spawn(async move {
        let uuid = uuid::Uuid::new_v4().to_string();
        let envelope = json!({
            "uuid": uuid,
            "event": target.event,
            "timestamp": rc_time(OffsetDateTime::now_utc()),
            "subscriptionId": target.subscription_id,
            "ownerId": target.owner_id.to_string(),
            "body": body,
        });
        let timeout = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner()).settings.delivery_timeout;
        let outcome =
            webhooks::deliver(&state.http, &target.address, target.verification_token.as_deref(), &envelope, timeout)
                .await;
        record(&state, &target, &uuid, &outcome);
    });
}

/// Notes a delivery and updates the subscription's health.
fn record(state: &RcState, target: &Target, uuid: &str, outcome: &Outcome) {
    let now = OffsetDateTime::now_utc();
    let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    let status = match outcome {
        Outcome::Status(s) => json!(s),
        Outcome::Failed(d) => json!(d),
    };
    subs.deliveries.push(json!({
        "subscriptionId": target.subscription_id,
        "event": target.event,
        "uuid": uuid,
        "status": status,
        "at": rc_time(now),
    }));
    // A long-running sandbox (the demo) keeps only the most recent records.
    if subs.deliveries.len() > MAX_RECORDED {
        let excess = subs.deliveries.len() - MAX_RECORDED;
        subs.deliveries.drain(..excess);
    }
    let settings = subs.settings;
    let Some(sub) = subs.by_id.get_mut(&target.subscription_id) else {
        return;
    };
    if outcome.is_success() {
        sub.failures = 0;
        sub.first_failure = None;
        return;
    }
    sub.failures += 1;
    let first = *sub.first_failure.get_or_insert(now);
    let span = (now - first).whole_milliseconds().max(0) as u128;
    if sub.blacklisted.is_none()
        && sub.failures >= settings.blacklist_after_failures
        && span >= settings.blacklist_after.as_millis()
    {
        tracing::info!(subscription = %sub.id, failures = sub.failures, "subscription blacklisted");
        sub.blacklisted = Some(Blacklisted { at: now, reason: outcome.reason() });
    }
}

/// Sends the renewal reminders that are due; called by the tick.
fn send_reminders(state: &Arc<RcState>) {
    let now = OffsetDateTime::now_utc();
    let mut due: Vec<(Target, i64)> = Vec::new();
    {
        let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        for s in subs.by_id.values_mut() {
            if s.blacklisted.is_some() || s.is_expired(now) {
                continue;
            }
            let left = (s.expires - now).whole_seconds();
            let Some((filter, r)) = s.filters.iter().find_map(|f| Some((f.clone(), event_filters::reminder(f)?)))
            else {
                continue;
            };
            let interval = time::Duration::seconds(r.interval as i64);
            let inside = left <= r.threshold as i64;
            let waited = s.last_reminder.is_none_or(|at| now - at >= interval);
            if inside && waited {
                s.last_reminder = Some(now);
                due.push((
                    Target {
                        subscription_id: s.id.clone(),
                        owner_id: s.extension_id,
                        address: s.address.clone(),
                        verification_token: s.verification_token.clone(),
                        event: filter,
                    },
                    left,
                ));
            }
        }
    }
    for (target, left) in due {
        dispatch(state, target, json!({ "expiresIn": left }));
    }
}

/// Starts the reminder tick; it stops once the state is dropped.
fn spawn_reminder_tick(state: &Arc<RcState>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<RcState> = Arc::downgrade(state);
    handle.spawn(async move {
        let mut tick = tokio::time::interval(REMINDER_TICK);
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else {
                return;
            };
            send_reminders(&state);
        }
    });
}

/// The `/sandbox/` control routes of delivery; also starts the renewal-reminder tick.
pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    spawn_reminder_tick(state);
    Router::new()
        .route("/sandbox/deliveries", get(list_deliveries).delete(clear_deliveries))
        .route("/sandbox/subscriptions/settings", put(change_settings))
        .route("/sandbox/subscriptions/{id}/expire", post(expire))
}

async fn list_deliveries(State(state): State<Arc<RcState>>) -> Json<Value> {
    let subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    Json(Value::Array(subs.deliveries.clone()))
}

async fn clear_deliveries(State(state): State<Arc<RcState>>) -> StatusCode {
    state.subscriptions.lock().unwrap_or_else(|e| e.into_inner()).deliveries.clear();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsChange {
    handshake_timeout_ms: Option<u64>,
    delivery_timeout_ms: Option<u64>,
    blacklist_after_failures: Option<u32>,
    blacklist_after_secs: Option<f64>,
}

fn settings_json(s: &DeliverySettings) -> Value {
    json!({
        "handshake_timeout_ms": s.handshake_timeout.as_millis() as u64,
        "delivery_timeout_ms": s.delivery_timeout.as_millis() as u64,
        "blacklist_after_failures": s.blacklist_after_failures,
        "blacklist_after_secs": s.blacklist_after.as_secs_f64(),
    })
}

async fn change_settings(
    State(state): State<Arc<RcState>>,
    body: Result<Json<SettingsChange>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let change = match body {
        Ok(Json(c)) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({ "error": e.body_text() }))).into_response(),
    };
    let secs = change.blacklist_after_secs;
    if secs.is_some_and(|s| !s.is_finite() || s < 0.0) || change.blacklist_after_failures == Some(0) {
        let error = "blacklist_after_secs must be a non-negative number and blacklist_after_failures at least 1";
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
    }
    let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    let s = &mut subs.settings;
    if let Some(ms) = change.handshake_timeout_ms {
        s.handshake_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = change.delivery_timeout_ms {
        s.delivery_timeout = Duration::from_millis(ms);
    }
    if let Some(n) = change.blacklist_after_failures {
        s.blacklist_after_failures = n;
    }
    if let Some(secs) = secs {
        s.blacklist_after = Duration::from_secs_f64(secs);
    }
    Json(settings_json(s)).into_response()
}

async fn expire(State(state): State<Arc<RcState>>, Path(id): Path<String>) -> Response {
    let now = OffsetDateTime::now_utc();
    let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    match subs.by_id.get_mut(&id) {
        Some(s) => {
            s.expires = now - time::Duration::milliseconds(1);
            Json(s.info(&state.base_url, now)).into_response()
        }
        None => errors::not_found("subscriptionId", &id),
    }
}
