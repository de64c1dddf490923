//! Webhook subscriptions (ringcentral.md §3.1): the store and the Subscription API routes
//! `POST/GET /restapi/v1.0/subscription`, `GET/PUT/DELETE /subscription/{id}` and
//! `POST /subscription/{id}/renew`. Creation runs the validation handshake
//! ([`super::webhooks`]); notifications go out through [`super::delivery`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::directory::rc_time;
use super::event_filters::{self, Owner};
use super::guard::{self, Caller};
use super::rate_limit::Group;
use super::{errors, webhooks, RcState};

pub use super::delivery::{notify, DeliverySettings};

/// `expiresIn` when the request has none (§3.1: about 7 days).
pub const DEFAULT_EXPIRES_IN: u64 = 604_800;
/// The largest `expiresIn` of a WebHook subscription (10 years); larger requests are clamped.
pub const MAX_EXPIRES_IN: u64 = 315_360_000;
/// Subscriptions per (extension, app) (§3.1).
pub const MAX_PER_OWNER: usize = 30;

/// `Blacklisted` subscriptions keep why and when.
#[derive(Debug, Clone)]
pub struct Blacklisted {
    pub at: OffsetDateTime,
    pub reason: String,
}

/// One webhook subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub account_id: u64,
    pub extension_id: u64,
    pub client_id: String,
    /// Normalised filters, query strings kept.
    pub filters: Vec<String>,
    pub address: String,
    pub verification_token: Option<String>,
    pub created: OffsetDateTime,
    pub expires: OffsetDateTime,
    /// The requested TTL, reused by renewals.
    pub ttl: u64,
    pub blacklisted: Option<Blacklisted>,
    /// Consecutive failed deliveries and when the first of them failed.
    pub failures: u32,
    pub first_failure: Option<OffsetDateTime>,
    /// When the last renewal reminder went out.
    pub last_reminder: Option<OffsetDateTime>,
}

impl Subscription {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires <= now
    }

    fn owned_by(&self, caller: &Caller) -> bool {
        self.extension_id == caller.extension_id && self.client_id == caller.client_id
    }

    fn renew(&mut self, now: OffsetDateTime) {
        self.expires = now + time::Duration::seconds(self.ttl as i64);
        self.last_reminder = None;
    }

    /// The `SubscriptionInfo` body (never the verification token).
    pub fn info(&self, base_url: &str, now: OffsetDateTime) -> Value {
        let left = (self.expires - now).whole_seconds().max(0);
        let mut v = json!({
            "uri": format!("{base_url}/restapi/v1.0/subscription/{}", self.id),
            "id": self.id,
            "eventFilters": self.filters,
            "disabledFilters": [],
            "expirationTime": rc_time(self.expires),
            "expiresIn": left,
            "status": if self.blacklisted.is_some() { "Blacklisted" } else { "Active" },
            "creationTime": rc_time(self.created),
            "deliveryMode": { "transportType": "WebHook", "address": self.address, "encryption": false },
        });
        if let Some(b) = &self.blacklisted {
            v["blacklistedData"] = json!({ "blacklistedAt": rc_time(b.at), "reason": b.reason });
        }
        v
    }
}

/// All subscriptions, delivery settings and the record of deliveries.
#[derive(Default)]
pub struct Subscriptions {
    pub by_id: HashMap<String, Subscription>,
    pub settings: DeliverySettings,
    pub deliveries: Vec<Value>,
}

impl Subscriptions {
    /// A live (unexpired) subscription of the caller.
    fn live_mut(&mut self, id: &str, caller: &Caller, now: OffsetDateTime) -> Result<&mut Subscription, Response> {
        match self.by_id.get_mut(id) {
            Some(s) if s.owned_by(caller) && !s.is_expired(now) => Ok(s),
            _ => Err(errors::not_found("subscriptionId", id)),
        }
    }

    fn live_count(&self, caller: &Caller, now: OffsetDateTime) -> usize {
        self.by_id.values().filter(|s| s.owned_by(caller) && !s.is_expired(now)).count()
    }
}

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    Router::new()
        .route(
            "/restapi/v1.0/subscription",
            guard::api(state, Group::Medium, post(create)).merge(guard::api(state, Group::Light, get(list))),
        )
        .route(
            "/restapi/v1.0/subscription/{id}",
            guard::api(state, Group::Light, get(read)).merge(guard::api(
                state,
                Group::Medium,
                axum::routing::put(update).delete(remove),
            )),
        )
        .route("/restapi/v1.0/subscription/{id}/renew", guard::api(state, Group::Light, post(renew)))
}

/// The parts of a create/update body, validated.
struct Request {
    filters: Option<Vec<String>>,
    address: Option<String>,
    verification_token: Option<String>,
    expires_in: u64,
}

fn parse_body(body: &Bytes, creating: bool) -> Result<Request, Response> {
    let v: Value = if body.iter().all(|b| b.is_ascii_whitespace()) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|_| errors::api_error(StatusCode::BAD_REQUEST, "CMN-103", "Request body is not valid JSON"))?
    };
    let filters = match v.get("eventFilters") {
        None | Some(Value::Null) if !creating => None,
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) if !s.trim().is_empty() => out.push(s.to_string()),
                    _ => {
                        return Err(errors::param_error(
                            StatusCode::BAD_REQUEST,
                            "SUB-508",
                            "Invalid event filters",
                            "eventFilters",
                            Some(&item.to_string()),
                        ))
                    }
                }
            }
            Some(out)
        }
        other => {
            let raw = other.map(|o| o.to_string()).unwrap_or_default();
            return Err(errors::invalid_param("eventFilters", &raw));
        }
    };
    let mode = v.get("deliveryMode");
    let (address, verification_token) = match mode {
        None | Some(Value::Null) if !creating => (None, None),
        Some(Value::Object(m)) => {
            match m.get("transportType").and_then(Value::as_str) {
                Some(t) if t.eq_ignore_ascii_case("WebHook") => {}
                None if !creating => {}
                other => return Err(errors::invalid_param("deliveryMode.transportType", other.unwrap_or(""))),
            }
            let address = m.get("address").and_then(Value::as_str).unwrap_or("");
            let ok = url::Url::parse(address)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(errors::invalid_param("deliveryMode.address", address));
            }
            // The current DOCS page calls it `validationToken`; accept both names (§3.3).
            let token = m.get("verificationToken").or_else(|| m.get("validationToken")).and_then(Value::as_str);
            (Some(address.to_string()), token.map(str::to_string))
        }
        _ => return Err(errors::invalid_param("deliveryMode.address", "")),
    };
    let expires_in = match v.get("expiresIn") {
        None | Some(Value::Null) => DEFAULT_EXPIRES_IN,
        Some(e) => match e.as_u64() {
            Some(n) if n >= 1 => n.min(MAX_EXPIRES_IN),
            _ => return Err(errors::invalid_param("expiresIn", &e.to_string())),
        },
    };
    Ok(Request { filters, address, verification_token, expires_in })
}

/// Normalises every filter for the caller and the subscription `id`.
fn normalise_all(
    state: &RcState,
    caller: &Caller,
    id: &str,
    filters: &[String],
    ttl: u64,
) -> Result<Vec<String>, Response> {
    let owner = Owner { account_id: caller.account_id, extension_id: caller.extension_id, subscription_id: id.into() };
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let has = |ext: u64| dir.has_extension(ext);
    let mut out: Vec<String> = Vec::with_capacity(filters.len());
    for f in filters {
        let n = event_filters::normalise(f, &owner, &has, ttl)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

fn limit_exceeded() -> Response {
    errors::api_error(StatusCode::FORBIDDEN, "SUB-505", "Subscriptions limit exceeded")
}

async fn create(State(state): State<Arc<RcState>>, Extension(caller): Extension<Caller>, body: Bytes) -> Response {
    let req = match parse_body(&body, true) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let id = uuid::Uuid::new_v4().to_string();
    let filters = match normalise_all(&state, &caller, &id, req.filters.as_deref().unwrap_or(&[]), req.expires_in) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let address = req.address.unwrap_or_default();
    let timeout = {
        let subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        // Checked before the handshake too, so a full owner does not get a validation request.
        if subs.live_count(&caller, OffsetDateTime::now_utc()) >= MAX_PER_OWNER {
            return limit_exceeded();
        }
        subs.settings.handshake_timeout
    };
    if let Err(e) = webhooks::handshake(&state.http, &address, req.verification_token.as_deref(), timeout).await {
        return e.response();
    }
    let now = OffsetDateTime::now_utc();
    let sub = Subscription {
        id: id.clone(),
        account_id: caller.account_id,
        extension_id: caller.extension_id,
        client_id: caller.client_id.clone(),
        filters,
        address,
        verification_token: req.verification_token,
        created: now,
        expires: now + time::Duration::seconds(req.expires_in as i64),
        ttl: req.expires_in,
        blacklisted: None,
        failures: 0,
        first_failure: None,
        last_reminder: None,
    };
    let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    if subs.live_count(&caller, now) >= MAX_PER_OWNER {
        return limit_exceeded();
    }
    let info = sub.info(&state.base_url, now);
    subs.by_id.insert(id, sub);
    Json(info).into_response()
}

async fn list(State(state): State<Arc<RcState>>, Extension(caller): Extension<Caller>) -> Response {
    let now = OffsetDateTime::now_utc();
    let subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    let mut mine: Vec<&Subscription> =
        subs.by_id.values().filter(|s| s.owned_by(&caller) && !s.is_expired(now)).collect();
    mine.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    let records: Vec<Value> = mine.iter().map(|s| s.info(&state.base_url, now)).collect();
    Json(json!({ "uri": format!("{}/restapi/v1.0/subscription", state.base_url), "records": records })).into_response()
}

async fn read(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    match subs.live_mut(&id, &caller, now) {
        Ok(s) => Json(s.info(&state.base_url, now)).into_response(),
        Err(resp) => resp,
    }
}

async fn renew(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    match subs.live_mut(&id, &caller, now) {
        // Renewal extends the expiry but never lifts a blacklisting (§3.4: recreate instead).
        Ok(s) => {
            s.renew(now);
            Json(s.info(&state.base_url, now)).into_response()
        }
        Err(resp) => resp,
    }
}

async fn update(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let current = {
        let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        match subs.live_mut(&id, &caller, now) {
            Ok(s) => s.clone(),
            Err(resp) => return resp,
        }
    };
    let req = match parse_body(&body, false) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let filters = match &req.filters {
        Some(f) => normalise_all(&state, &caller, &id, f, req.expires_in),
        None => Ok(current.filters.clone()),
    };
    let filters = match filters {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    // A new address (or token) has to pass the handshake again before it is used.
    if let Some(address) = &req.address {
        let timeout = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner()).settings.handshake_timeout;
        if let Err(e) = webhooks::handshake(&state.http, address, req.verification_token.as_deref(), timeout).await {
            return e.response();
        }
    }
    let now = OffsetDateTime::now_utc();
    let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    let s = match subs.live_mut(&id, &caller, now) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    s.filters = filters;
    if let Some(address) = req.address {
        s.address = address;
        s.verification_token = req.verification_token;
    }
    s.ttl = req.expires_in;
    s.renew(now);
    Json(s.info(&state.base_url, now)).into_response()
}

async fn remove(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let mut subs = state.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(resp) = subs.live_mut(&id, &caller, now) {
        return resp;
    }
    subs.by_id.remove(&id);
    StatusCode::NO_CONTENT.into_response()
}
