//! Fault injection, per route, for both stand-ins.
//!
//! A rule names a route pattern and what to do to requests that match it:
//! - `statuses`: a sequence of forced statuses, one per matching request, in order; after
//!   the sequence is used up, requests pass;
//! - `error_rate` (0..1): the chance that a request is answered `error_status` (503 unless set);
//! - `latency_ms`: added delay before the request is handled (or answered with a fault);
//! - `storm_secs`: for this long after the rule is added, every match gets 429;
//! - `outage_secs`: for this long after the rule is added, every match gets `error_status`
//!   (an API that is down for a while, as opposed to `error_rate`'s scattered errors);
//! - `after`: the first `after` matching requests pass untouched (no latency, no fault), so a
//!   rule can fail a sequence's later calls only (a sync's second page, say);
//! - `retry_after`: the `Retry-After` seconds sent with forced 429 and 503 answers (1 unless
//!   set; `0` sends none, as a server that gives no hint).
//!
//! Patterns are `"METHOD /path"` or just `"/path"`; `*` matches one path segment and a
//! trailing `**` matches the rest. Rules are managed through `POST/GET/DELETE /sandbox/faults`
//! on each server; the `/sandbox/` routes themselves are never faulted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One fault rule, as posted to `/sandbox/faults`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRule {
    pub route: String,
    #[serde(default)]
    pub statuses: Vec<u16>,
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub storm_secs: f64,
    #[serde(default)]
    pub outage_secs: f64,
    /// `Retry-After` seconds sent with forced 429/503 answers (default 1; 0 = none).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Matching requests that pass untouched before the rule applies.
    #[serde(default)]
    pub after: u64,
}

fn default_error_status() -> u16 {
    503
}

impl FaultRule {
    fn validate(&self) -> Result<(), String> {
        if self.route.trim().is_empty() {
            return Err("route must not be empty: use \"/path\" or \"GET /path/*/x\"".into());
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!("error_rate must be between 0 and 1, got {}", self.error_rate));
        }
        for s in self.statuses.iter().chain(std::iter::once(&self.error_status)) {
            if StatusCode::from_u16(*s).is_err() || *s < 200 {
                return Err(format!("status {s} is not an HTTP status between 200 and 999"));
            }
        }
        if self.storm_secs < 0.0 || !self.storm_secs.is_finite() {
            return Err("storm_secs must be a non-negative number".into());
        }
        if self.outage_secs < 0.0 || !self.outage_secs.is_finite() {
            return Err("outage_secs must be a non-negative number".into());
        }
        Ok(())
    }
}

/// A forced answer the server must render in its own error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forced {
    pub status: StatusCode,
    /// `Retry-After` seconds to send (for 429 and 503).
    pub retry_after: Option<u64>,
}

struct ActiveRule {
    id: u64,
    rule: FaultRule,
    method: Option<Method>,
    segments: Vec<String>,
    next_status: usize,
    storm_until: Option<Instant>,
    outage_until: Option<Instant>,
    hits: u64,
}

impl ActiveRule {
    fn matches(&self, method: &Method, path: &str) -> bool {
        if let Some(m) = &self.method {
            if m != method {
                return false;
            }
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut i = 0;
        for (n, seg) in self.segments.iter().enumerate() {
            if seg == "**" && n == self.segments.len() - 1 {
                return true;
            }
            match parts.get(i) {
                Some(p) if seg == "*" || seg == p => i += 1,
                _ => return false,
            }
        }
        i == parts.len()
    }
}

/// The fault rules of one server.
pub struct Faults {
    inner: Mutex<FaultsInner>,
}

struct FaultsInner {
    rules: Vec<ActiveRule>,
    next_id: u64,
    rng: StdRng,
}

impl Faults {
    pub fn new(seed: u64) -> Arc<Faults> {
        Arc::new(Faults {
            inner: Mutex::new(FaultsInner { rules: Vec::new(), next_id: 1, rng: StdRng::seed_from_u64(seed) }),
        })
    }

    /// Adds a rule; returns its id.
    pub fn add(&self, rule: FaultRule) -> Result<u64, String> {
        rule.validate()?;
        let (method, path) = match rule.route.trim().split_once(' ') {
            Some((m, p)) => {
                let m = Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("route {:?}: {m:?} is not an HTTP method", rule.route))?;
                (Some(m), p.trim().to_string())
            }
            None => (None, rule.route.trim().to_string()),
        };
        let segments = path.trim_matches('/').split('/').map(str::to_string).collect();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let id = inner.next_id;
        inner.next_id += 1;
        let until = |secs: f64| (secs > 0.0).then(|| Instant::now() + Duration::from_secs_f64(secs));
        let (storm_until, outage_until) = (until(rule.storm_secs), until(rule.outage_secs));
        inner.rules.push(ActiveRule { id, rule, method, segments, next_status: 0, storm_until, outage_until, hits: 0 });
        Ok(id)
    }

    pub fn clear(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).rules.clear();
    }

    /// The rules with how often each matched and how many forced statuses remain.
    pub fn list(&self) -> serde_json::Value {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let rules: Vec<_> = inner
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "rule": r.rule,
                    "hits": r.hits,
                    "statuses_left": r.rule.statuses.len() - r.next_status,
                })
            })
            .collect();
        serde_json::json!({ "rules": rules })
    }

    /// What to do with one request: an added delay, and maybe a forced answer.
    pub fn decide(&self, method: &Method, path: &str) -> (Duration, Option<Forced>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let FaultsInner { rules, rng, .. } = &mut *inner;
        let mut delay = Duration::ZERO;
        let mut forced = None;
        let now = Instant::now();
        for r in rules.iter_mut().filter(|r| r.matches(method, path)) {
            r.hits += 1;
            if r.hits <= r.rule.after {
                continue;
            }
            delay += Duration::from_millis(r.rule.latency_ms);
            if forced.is_some() {
                continue;
            }
            let retry_after = match r.rule.retry_after {
                Some(0) => None,
                other => Some(other.unwrap_or(1)),
            };
            if let Some(&status) = r.rule.statuses.get(r.next_status) {
                r.next_status += 1;
                forced = Some(Forced {
                    status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    retry_after,
                });
            } else if r.storm_until.is_some_and(|until| now < until) {
                forced = Some(Forced { status: StatusCode::TOO_MANY_REQUESTS, retry_after });
            } else if r.outage_until.is_some_and(|until| now < until)
                || (r.rule.error_rate > 0.0 && rng.random::<f64>() < r.rule.error_rate)
            {
                let status = StatusCode::from_u16(r.rule.error_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                forced = Some(Forced { status, retry_after });
            }
        }
        (delay, forced)
    }
}

/// Renders a forced answer in a server's own error format.
pub type Render = fn(Forced) -> Response;

/// State of the fault middleware: the rules and the server's renderer.
#[derive(Clone)]
pub struct FaultLayerState {
    pub faults: Arc<Faults>,
    pub render: Render,
}

/// Middleware: applies latency and forced answers to every route but `/sandbox/...`.
pub async fn middleware(State(st): State<FaultLayerState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/sandbox/") {
        return next.run(req).await;
    }
    let (delay, forced) = st.faults.decide(req.method(), req.uri().path());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match forced {
        Some(f) => {
            let mut resp = (st.render)(f);
            if let Some(secs) = f.retry_after {
                if matches!(f.status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
                    resp.headers_mut().insert("retry-after", secs.into());
                }
            }
            resp
        }
        None => next.run(req).await,
    }
}

/// `/sandbox/faults` routes over a server's rules.
pub fn routes<S: Clone + Send + Sync + 'static>(faults: Arc<Faults>) -> Router<S> {
    let list_faults = faults.clone();
    let clear_faults = faults.clone();
    Router::new().route(
        "/sandbox/faults",
        get(move || {
            let f = list_faults.clone();
            async move { Json(f.list()) }
        })
        .post(move |body: Result<Json<FaultRule>, axum::extract::rejection::JsonRejection>| {
            let f = faults.clone();
            async move {
                let Json(rule) = match body {
                    Ok(b) => b,
                    Err(e) => {
                        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e.body_text() })))
                            .into_response()
                    }
                };
                match f.add(rule) {
                    Ok(id) => (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response(),
                    Err(msg) => (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": msg }))).into_response(),
                }
            }
        })
        .delete(move || {
            let f = clear_faults.clone();
            async move {
                f.clear();
                StatusCode::NO_CONTENT
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(route: &str) -> FaultRule {
        FaultRule {
            route: route.into(),
            statuses: vec![],
            error_rate: 0.0,
            error_status: 503,
            latency_ms: 0,
            storm_secs: 0.0,
            outage_secs: 0.0,
            retry_after: None,
            after: 0,
        }
    }

    #[test]
    fn an_outage_answers_its_status_until_it_ends_with_or_without_retry_after() {
        let f = Faults::new(1);
        f.add(FaultRule { outage_secs: 3600.0, retry_after: Some(0), ..rule("/leads/**") }).unwrap();
        for _ in 0..5 {
            let forced = f.decide(&Method::GET, "/leads/x").1.expect("down");
            assert_eq!((forced.status.as_u16(), forced.retry_after), (503, None));
        }
        let g = Faults::new(1);
        g.add(FaultRule { outage_secs: 0.000_001, ..rule("/x") }).unwrap();
        std::thread::sleep(Duration::from_millis(1)); // the outage's own length, not a synchronisation
        assert!(g.decide(&Method::GET, "/x").1.is_none(), "over after its seconds");
        let h = Faults::new(1);
        h.add(FaultRule { statuses: vec![503], ..rule("/x") }).unwrap();
        assert_eq!(h.decide(&Method::GET, "/x").1.expect("forced").retry_after, Some(1), "1 s by default");
    }

    #[test]
    fn patterns_match_segments() {
        let f = Faults::new(1);
        f.add(FaultRule { statuses: vec![500], ..rule("GET /restapi/v1.0/account/*/sites") }).unwrap();
        assert!(f.decide(&Method::POST, "/restapi/v1.0/account/~/sites").1.is_none());
        assert!(f.decide(&Method::GET, "/restapi/v1.0/account/~/sites/1").1.is_none());
        assert_eq!(f.decide(&Method::GET, "/restapi/v1.0/account/~/sites").1.unwrap().status, 500);
        let g = Faults::new(1);
        g.add(FaultRule { statuses: vec![502], ..rule("/leads/**") }).unwrap();
        assert_eq!(g.decide(&Method::PATCH, "/leads/lead_1").1.unwrap().status, 502);
    }

    #[test]
    fn statuses_come_in_order_then_pass() {
        let f = Faults::new(1);
        f.add(FaultRule { statuses: vec![500, 429, 503], ..rule("/x") }).unwrap();
        let seen: Vec<_> = (0..4).map(|_| f.decide(&Method::GET, "/x").1.map(|x| x.status.as_u16())).collect();
        assert_eq!(seen, vec![Some(500), Some(429), Some(503), None]);
    }

    #[test]
    fn a_rule_with_after_lets_that_many_requests_pass_first() {
        let f = Faults::new(1);
        f.add(FaultRule { statuses: vec![400, 400], after: 2, ..rule("/x") }).unwrap();
        let seen: Vec<_> = (0..5).map(|_| f.decide(&Method::GET, "/x").1.map(|x| x.status.as_u16())).collect();
        assert_eq!(seen, vec![None, None, Some(400), Some(400), None]);
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        let f = Faults::new(1);
        assert!(f.add(FaultRule { error_rate: 2.0, ..rule("/x") }).unwrap_err().contains("error_rate"));
        assert!(f.add(rule(" ")).unwrap_err().contains("route"));
        assert!(f.add(FaultRule { statuses: vec![42], ..rule("/x") }).unwrap_err().contains("42"));
    }

    #[test]
    fn error_rate_is_roughly_honoured() {
        let f = Faults::new(7);
        f.add(FaultRule { error_rate: 0.5, ..rule("/x") }).unwrap();
        let n = (0..1000).filter(|_| f.decide(&Method::GET, "/x").1.is_some()).count();
        assert!((400..600).contains(&n), "{n} of 1000 faulted at rate 0.5");
    }
}
