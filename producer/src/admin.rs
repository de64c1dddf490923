//! The admin HTTP API on `admin.bind`: the operator CLI's verbs as JSON.
//!
//! Every `/admin/...` route but the OpenAPI document wants `Authorization: Bearer <admin.token>`
//! (compared in constant time); configuration validation refuses the built-in token on a
//! non-loopback bind, so an admin API reachable from elsewhere always has a token of its own.
//! Errors are `{"error": "..."}` with a fixed message per failure: Redis's words, internal
//! errors and secrets go to the log only. Bodies above [`BODY_LIMIT`] are refused.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use snapsync::config::SchedulesConfig;
use snapsync_queue::{JobId, JobState, Queue};
use subtle::ConstantTimeEq;

use crate::mapping_editor::{self, MappingFile};
use crate::ops;
use crate::scheduler::unix_ms as now_ms;
use crate::schedules::{self, ScheduleChangeError, ScheduleStore};

/// Admin requests are small JSON documents.
pub const BODY_LIMIT: usize = 16 * 1024;

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub queue: Queue,
    /// For the sync results (`snapsync::sync_results`), under `prefix`.
    pub redis: snapsync_queue::RedisConn,
    pub prefix: String,
    pub schedules: ScheduleStore,
    pub schedules_config: SchedulesConfig,
    pub token: SecretString,
    /// `mapping.path`: in force while no mapping is saved.
    pub mapping_file: std::sync::Arc<MappingFile>,
    /// For the mapping editor's preview on real records; `None` when the client cannot be
    /// built from the configuration (the preview then answers 503).
    pub rc: Option<snapsync::ringcentral::RingCentral>,
}

/// A mapping is larger than the other admin requests.
pub const MAPPING_BODY_LIMIT: usize = 256 * 1024;

pub fn router(state: AdminState) -> Router {
    let api = Router::new()
        .route("/admin/queue/stats", get(queue_stats))
        .route("/admin/queue/pause", post(queue_pause))
        .route("/admin/queue/resume", post(queue_resume))
        .route("/admin/jobs", get(jobs_list))
        .route("/admin/jobs/retry-dead", post(jobs_retry_dead))
        .route("/admin/jobs/{id}", get(job_show))
        .route("/admin/jobs/{id}/retry", post(job_retry))
        .route("/admin/jobs/{id}/discard", post(job_discard))
        .route("/admin/throughput", get(throughput))
        .route("/admin/syncs", get(syncs))
        .route("/admin/workers", get(workers))
        .route("/admin/budgets", get(budgets))
        .route("/admin/schedules", get(schedules_list))
        .route("/admin/schedules/{resource}", put(schedule_set))
        .route("/admin/schedules/{resource}/pause", post(schedule_pause))
        .route("/admin/schedules/{resource}/resume", post(schedule_resume))
        .route("/admin/schedules/{resource}/run", post(schedule_run))
        .merge(
            Router::new()
                .route("/admin/mapping", get(mapping_show).put(mapping_save))
                .route("/admin/mapping/preview", post(mapping_preview))
                .route("/admin/mapping/history", get(mapping_history))
                .route("/admin/mapping/restore", post(mapping_restore))
                .layer(DefaultBodyLimit::max(MAPPING_BODY_LIMIT)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/dashboard") }))
        .route("/dashboard", get(dashboard_page))
        .route("/dashboard/app.js", get(dashboard_script))
        .route("/dashboard/mapping.js", get(dashboard_mapping_script))
        .route("/admin/openapi.json", get(openapi))
        .merge(api)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such admin route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Axum's own refusals (a body over the limit, a method not allowed, a body that is not
/// JSON) are plain text; every admin error is JSON, with a fixed message.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "expected Content-Type: application/json",
        StatusCode::REQUEST_TIMEOUT => "the request did not complete in time",
        s if s.is_client_error() => "bad request",
        _ => "internal error",
    };
    let mut out = error(status, message);
    if let Some(allow) = resp.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

pub fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// A Redis failure: logged with its detail, answered with none.
fn unavailable(what: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "admin API: {what} failed");
    error(StatusCode::SERVICE_UNAVAILABLE, "job queue unavailable")
}

async fn require_token(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
    });
    let ok = given.as_deref().is_some_and(|t| bool::from(t.as_bytes().ct_eq(state.token.expose_secret().as_bytes())));
    if ok {
        return next.run(req).await;
    }
    let message = if given.is_none() { "missing bearer token" } else { "wrong bearer token" };
    let mut resp = error(StatusCode::UNAUTHORIZED, message);
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

async fn queue_stats(State(s): State<AdminState>) -> Response {
    match ops::stats(&s.queue).await {
        Ok(stats) => Json(stats).into_response(),
        Err(e) => unavailable("queue stats", &e),
    }
}

async fn queue_pause(State(s): State<AdminState>) -> Response {
    match ops::pause(&s.queue).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => unavailable("queue pause", &e),
    }
}

async fn queue_resume(State(s): State<AdminState>) -> Response {
    match ops::resume(&s.queue).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => unavailable("queue resume", &e),
    }
}

async fn workers(State(s): State<AdminState>) -> Response {
    match ops::workers(&s.queue).await {
        Ok(w) => Json(w).into_response(),
        Err(e) => unavailable("workers", &e),
    }
}

async fn budgets(State(s): State<AdminState>) -> Response {
    match s.queue.budgets().await {
        Ok(b) => Json(json!({ "budgets": b })).into_response(),
        Err(e) => unavailable("budgets", &e),
    }
}

async fn schedules_list(State(s): State<AdminState>) -> Response {
    match s.schedules.list(&s.schedules_config, now_ms()).await {
        Ok(list) => Json(json!({ "schedules": list })).into_response(),
        Err(e) => unavailable("schedules", &e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    every: Option<String>,
    cron: Option<String>,
}

fn change_error(e: ScheduleChangeError) -> Response {
    match e {
        ScheduleChangeError::Redis(e) => unavailable("schedule change", &e),
        ScheduleChangeError::UnknownResource(_) => error(StatusCode::NOT_FOUND, &e.to_string()),
        other => error(StatusCode::UNPROCESSABLE_ENTITY, &other.to_string()),
    }
}

async fn schedule_set(
    State(s): State<AdminState>,
    Path(resource): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let r = match schedules::resource(&resource) {
        Ok(r) => r,
        Err(e) => return change_error(e),
    };
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected a JSON body {\"every\": \"15m\"} or {\"cron\": \"*/15 * * * *\"}",
        );
    };
    let body: ScheduleBody = match serde_json::from_value(body) {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "expected a JSON body {\"every\": \"15m\"} or {\"cron\": \"*/15 * * * *\"}",
            )
        }
    };
    if body.every.is_some() == body.cron.is_some() {
        return error(StatusCode::BAD_REQUEST, "give exactly one of \"every\" and \"cron\"");
    }
    match s.schedules.set(r, body.every.as_deref(), body.cron.as_deref(), "api", now_ms()).await {
        Ok(rule) => {
            tracing::info!(resource = r.as_str(), rule = %rule.describe(), "schedule changed through the admin API");
            Json(json!({ "resource": r.as_str(), "schedule": rule })).into_response()
        }
        Err(e) => change_error(e),
    }
}

async fn set_enabled(s: AdminState, resource: String, enabled: bool) -> Response {
    let r = match schedules::resource(&resource) {
        Ok(r) => r,
        Err(e) => return change_error(e),
    };
    match s.schedules.set_enabled(r, enabled, &s.schedules_config, "api", now_ms()).await {
        Ok(rule) => Json(json!({ "resource": r.as_str(), "schedule": rule })).into_response(),
        Err(e) => unavailable("schedule change", &e),
    }
}

async fn schedule_pause(State(s): State<AdminState>, Path(resource): Path<String>) -> Response {
    set_enabled(s, resource, false).await
}

async fn schedule_resume(State(s): State<AdminState>, Path(resource): Path<String>) -> Response {
    set_enabled(s, resource, true).await
}

async fn schedule_run(State(s): State<AdminState>, Path(resource): Path<String>) -> Response {
    let r = match schedules::resource(&resource) {
        Ok(r) => r,
        Err(e) => return change_error(e),
    };
    match s.queue.enqueue(crate::scheduler::manual_job(r)).await {
        Ok(outcome) => Json(json!({ "resource": r.as_str(), "job": outcome.id().0 })).into_response(),
        Err(e) => unavailable("schedule run", &e),
    }
}

/// The dashboard: one page and its script, compiled into the binary (no CDN). The page holds
/// no data; it asks for the token and reads everything through the API above.
const DASHBOARD_HTML: &str = include_str!("dashboard/index.html");
const DASHBOARD_JS: &str = include_str!("dashboard/app.js");
const DASHBOARD_MAPPING_JS: &str = include_str!("dashboard/mapping.js");

fn static_headers(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 3] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        // Only this origin's script and styles; no frames, no other origin.
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
            ),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ]
}

async fn dashboard_page() -> Response {
    (static_headers("text/html; charset=utf-8"), DASHBOARD_HTML).into_response()
}

async fn dashboard_script() -> Response {
    (static_headers("text/javascript; charset=utf-8"), DASHBOARD_JS).into_response()
}

async fn dashboard_mapping_script() -> Response {
    (static_headers("text/javascript; charset=utf-8"), DASHBOARD_MAPPING_JS).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn jobs_list(
    State(s): State<AdminState>,
    query: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(axum::extract::Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "bad query: expected state, kind, limit, cursor");
    };
    let state = match q.state.as_deref().unwrap_or("ready").parse::<JobState>() {
        Ok(st) => st,
        Err(_) => {
            return error(StatusCode::BAD_REQUEST, "state must be ready, scheduled, running, snoozed, dead or done")
        }
    };
    let offset = match q.cursor.as_deref().map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "cursor must be the next_cursor of an earlier page"),
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    match ops::list(&s.queue, state, q.kind.as_deref().filter(|k| !k.is_empty()), offset, limit).await {
        Ok(listing) => Json(listing).into_response(),
        Err(e) => unavailable("job list", &e),
    }
}

fn job_id(id: &str) -> Option<JobId> {
    let ok =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| JobId(id.to_owned()))
}

async fn job_show(State(s): State<AdminState>, Path(id): Path<String>) -> Response {
    let Some(id) = job_id(&id) else { return error(StatusCode::NOT_FOUND, "no such job") };
    match ops::show(&s.queue, &id).await {
        Ok(Some(view)) => Json(view).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such job"),
        Err(e) => unavailable("job show", &e),
    }
}

async fn job_retry(State(s): State<AdminState>, Path(id): Path<String>) -> Response {
    let Some(id) = job_id(&id) else { return error(StatusCode::NOT_FOUND, "no such job") };
    match ops::retry(&s.queue, std::slice::from_ref(&id)).await {
        Ok(report) if report.not_found > 0 => error(StatusCode::NOT_FOUND, "no such job"),
        Ok(report) => {
            tracing::info!(job = %id.0, retried = report.retried, "job retry through the admin API");
            Json(report).into_response()
        }
        Err(e) => unavailable("job retry", &e),
    }
}

async fn job_discard(State(s): State<AdminState>, Path(id): Path<String>) -> Response {
    let Some(id) = job_id(&id) else { return error(StatusCode::NOT_FOUND, "no such job") };
    match ops::discard(&s.queue, std::slice::from_ref(&id)).await {
        Ok(report) if report.not_found > 0 => error(StatusCode::NOT_FOUND, "no such job"),
        Ok(report) => {
            tracing::info!(job = %id.0, "job discarded through the admin API");
            Json(report).into_response()
        }
        Err(e) => unavailable("job discard", &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetryDeadBody {
    kind: Option<String>,
}

async fn jobs_retry_dead(State(s): State<AdminState>, body: Option<Json<Value>>) -> Response {
    let body: RetryDeadBody = match body.map(|Json(v)| serde_json::from_value(v)) {
        None => RetryDeadBody::default(),
        Some(Ok(b)) => b,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "expected a JSON body {} or {\"kind\": \"...\"}"),
    };
    match ops::retry_all_dead(&s.queue, body.kind.as_deref()).await {
        Ok(report) => {
            tracing::info!(retried = report.retried, "dead jobs retried through the admin API");
            Json(report).into_response()
        }
        Err(e) => unavailable("retry dead", &e),
    }
}

#[derive(Deserialize)]
struct ThroughputQuery {
    minutes: Option<u32>,
}

async fn throughput(
    State(s): State<AdminState>,
    query: Result<axum::extract::Query<ThroughputQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let minutes = query.ok().and_then(|q| q.0.minutes).unwrap_or(60).clamp(1, 24 * 60);
    match s.queue.throughput(minutes).await {
        Ok(m) => Json(json!({ "minutes": m })).into_response(),
        Err(e) => unavailable("throughput", &e),
    }
}

async fn syncs(State(s): State<AdminState>) -> Response {
    match snapsync::sync_results::read_all(&s.redis, &s.prefix).await {
        Ok(last) => Json(json!({ "syncs": last })).into_response(),
        Err(e) => unavailable("sync results", &e),
    }
}

/// 422 with every problem of a mapping that was refused.
fn refused(what: &str, problems: Vec<String>) -> Response {
    let body =
        json!({ "error": format!("{what}: the mapping has {} problem(s)", problems.len()), "problems": problems });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// The body when it is a JSON object.
fn json_object(body: Option<Json<Value>>) -> Option<Value> {
    body.map(|Json(v)| v).filter(Value::is_object)
}

const NOT_AN_OBJECT: &str = "expected a JSON object body";

/// The mapping in force (saved, else the file) as text and as the editor's document, with
/// the catalogue of what a mapping may name.
async fn mapping_show(State(s): State<AdminState>) -> Response {
    let saved = match snapsync::mapping::store::current(&s.redis, &s.prefix).await {
        Ok(saved) => saved,
        Err(e) => return unavailable("mapping read", &e),
    };
    let (in_force, name, format, text, version, saved_at) = match saved {
        Some(m) => {
            ("saved", snapsync::mapping::store::saved_name(m.version), m.format, Some(m.text), m.version, m.saved_at)
        }
        None => ("file", s.mapping_file.name.clone(), s.mapping_file.format, s.mapping_file.text.clone(), 0, 0),
    };
    let (document, problems) = match text.as_deref() {
        None => (Value::Null, vec![format!("{name}: cannot be read")]),
        Some(t) => match mapping_editor::document(&name, format, t) {
            Ok(doc) => {
                let problems = snapsync::mapping::Mapping::parse_as(&name, t, format).err().map(|e| e.lines());
                (doc, problems.unwrap_or_default())
            }
            Err(e) => (Value::Null, e.lines()),
        },
    };
    Json(json!({
        "in_force": in_force,
        "name": name,
        "file": s.mapping_file.name,
        "format": format,
        "version": version,
        "saved_at": saved_at,
        "text": text,
        "mapping": document,
        "problems": problems,
        "catalogue": snapsync::mapping::fields::catalogue(),
    }))
    .into_response()
}

/// Checks and saves a mapping as the next version (the one in force goes to the history);
/// workers use it from their next job. Invalid: 422 with the problems, nothing saved.
async fn mapping_save(State(s): State<AdminState>, body: Option<Json<Value>>) -> Response {
    let Some(body) = json_object(body) else { return error(StatusCode::BAD_REQUEST, NOT_AN_OBJECT) };
    let (format, text) = match mapping_editor::candidate(&body) {
        Ok(c) => c,
        Err(shape) => return error(StatusCode::BAD_REQUEST, shape),
    };
    if let Err(problems) = mapping_editor::check(format, &text) {
        return refused("not saved", problems);
    }
    let now = now_ms().max(0) as u64;
    let file = s.mapping_file.text.as_deref().map(|t| (s.mapping_file.format, t));
    match snapsync::mapping::store::save(&s.redis, &s.prefix, format, &text, now, file).await {
        Ok(version) => {
            tracing::info!(
                version,
                format = format.name(),
                "mapping saved through the admin API; workers use it from their next job"
            );
            Json(json!({ "version": version, "format": format, "saved_at": now })).into_response()
        }
        Err(e) => unavailable("mapping save", &e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    mapping: Option<Value>,
    text: Option<String>,
    format: Option<String>,
    resource: String,
    limit: Option<usize>,
}

/// A candidate mapping applied to real records of one resource; writes nothing.
async fn mapping_preview(State(s): State<AdminState>, body: Option<Json<Value>>) -> Response {
    const SHAPE: &str = "expected {\"resource\": \"lead_from_contact\", \"mapping\": {...} | \"text\": \"...\", \"format\": ..., \"limit\": 5}";
    let Some(body) = json_object(body) else { return error(StatusCode::BAD_REQUEST, NOT_AN_OBJECT) };
    let Ok(parsed) = serde_json::from_value::<PreviewBody>(body.clone()) else {
        return error(StatusCode::BAD_REQUEST, SHAPE);
    };
    let mut candidate_body = serde_json::Map::new();
    for (k, v) in [
        ("mapping", parsed.mapping.clone()),
        ("text", parsed.text.clone().map(Value::String)),
        ("format", parsed.format.clone().map(Value::String)),
    ] {
        if let Some(v) = v {
            candidate_body.insert(k.into(), v);
        }
    }
    let (format, text) = match mapping_editor::candidate(&Value::Object(candidate_body)) {
        Ok(c) => c,
        Err(shape) => return error(StatusCode::BAD_REQUEST, shape),
    };
    let Some(resource) = snapsync::mapping::Resource::from_name(&parsed.resource) else {
        let names: Vec<&str> = snapsync::mapping::Resource::ALL.iter().map(|r| r.name()).collect();
        return error(StatusCode::NOT_FOUND, &format!("unknown resource: expected one of {}", names.join(", ")));
    };
    let mapping = match mapping_editor::check(format, &text) {
        Ok(m) => m,
        Err(problems) => return refused("cannot preview", problems),
    };
    let Some(rc) = s.rc.as_ref() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no RingCentral client: check the ringcentral section of the config",
        );
    };
    let limit = parsed.limit.unwrap_or(5).clamp(1, mapping_editor::PREVIEW_MAX);
    let read =
        tokio::time::timeout(mapping_editor::PREVIEW_PATIENCE, mapping_editor::samples(rc, resource, limit)).await;
    match read {
        Ok(Ok(samples)) => Json(mapping_editor::preview(&mapping, resource, &samples)).into_response(),
        Ok(Err((what, e))) => {
            tracing::warn!(error = %e, "mapping preview: reading {what} from RingCentral failed");
            error(StatusCode::BAD_GATEWAY, "cannot read records from RingCentral (the producer's log says why)")
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "RingCentral did not answer in time (rate limited?); try again shortly",
        ),
    }
}

async fn mapping_history(State(s): State<AdminState>) -> Response {
    let current = match snapsync::mapping::store::current(&s.redis, &s.prefix).await {
        Ok(c) => c,
        Err(e) => return unavailable("mapping history", &e),
    };
    match snapsync::mapping::store::history(&s.redis, &s.prefix).await {
        Ok(history) => Json(json!({
            "version": current.as_ref().map_or(0, |c| c.version),
            "saved_at": current.as_ref().map_or(0, |c| c.saved_at),
            "file": s.mapping_file.name,
            "history": history,
        }))
        .into_response(),
        Err(e) => unavailable("mapping history", &e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreBody {
    version: u64,
}

/// Saves a version from the history again, as a new version.
async fn mapping_restore(State(s): State<AdminState>, body: Option<Json<Value>>) -> Response {
    let Some(Ok(RestoreBody { version })) = body.map(|Json(v)| serde_json::from_value(v)) else {
        return error(StatusCode::BAD_REQUEST, "expected a JSON body {\"version\": 3}");
    };
    use snapsync::mapping::store::RestoreError;
    match snapsync::mapping::store::restore(&s.redis, &s.prefix, version, now_ms().max(0) as u64).await {
        Ok(new) => {
            tracing::info!(restored = version, version = new, "mapping restored through the admin API");
            Json(json!({ "restored": version, "version": new })).into_response()
        }
        Err(e @ RestoreError::NoSuchVersion(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(RestoreError::Invalid { error: e, .. }) => refused("not restored", e.lines()),
        Err(RestoreError::Redis(e)) => unavailable("mapping restore", &e),
    }
}

async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

/// The OpenAPI 3.1 description of every admin route (the test calls each one).
pub fn openapi_document() -> Value {
    let err = json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let ok = |what: &str| json!({ "description": what, "content": { "application/json": { "schema": { "type": "object" } } } });
    let resource = json!({ "name": "resource", "in": "path", "required": true,
        "schema": { "type": "string", "enum": ["locations", "accounts", "contacts", "subscriptions"] } });
    let common = |summary: &str, what: &str| json!({ "summary": summary, "responses": { "200": ok(what), "401": err, "503": err } });
    let with_resource = |summary: &str, what: &str| {
        let mut op = common(summary, what);
        op["parameters"] = json!([resource]);
        op["responses"]["404"] = err.clone();
        op
    };
    let id = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let with_id = |summary: &str, what: &str| {
        let mut op = common(summary, what);
        op["parameters"] = json!([id]);
        op["responses"]["404"] = err.clone();
        op
    };
    let mut set =
        with_resource("Set a resource's frequency (takes effect at its next tick on every replica)", "the new rule");
    set["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": {
        "type": "object", "additionalProperties": false,
        "properties": { "every": { "type": "string", "example": "15m" }, "cron": { "type": "string", "example": "*/15 * * * *" } } },
        "example": { "every": "30m" } } } });
    set["responses"]["400"] = err.clone();
    set["responses"]["422"] = err.clone();
    let problems = json!({ "description": "the mapping was refused: every problem, each naming the file, resource and field",
        "content": { "application/json": { "schema": { "type": "object", "required": ["error", "problems"],
            "properties": { "error": { "type": "string" }, "problems": { "type": "array", "items": { "type": "string" } } } } } } });
    let candidate = json!({ "type": "object", "description": "{\"mapping\": <the JSON document>} or {\"text\": \"...\", \"format\": \"toml\"|\"json\"}",
        "properties": { "mapping": { "type": "object" }, "text": { "type": "string" }, "format": { "type": "string", "enum": ["toml", "json"] } } });
    let mut save = common("Check and save a mapping (it overrides mapping.path; workers use it from their next job; the one in force goes to the history)", "the new version");
    let example_mapping = snapsync::mapping::DEFAULT_MAPPING;
    save["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": candidate,
        "example": { "text": example_mapping, "format": "toml" } } } });
    save["responses"]["400"] = err.clone();
    save["responses"]["422"] = problems.clone();
    let mut preview = common("Apply a candidate mapping to real records of one resource from the connected RingCentral account (writes nothing)", "records mapped, notes, errors");
    let mut preview_schema = candidate.clone();
    preview_schema["required"] = json!(["resource"]);
    preview_schema["properties"]["resource"] = json!({ "type": "string", "example": "lead_from_contact" });
    preview_schema["properties"]["limit"] = json!({ "type": "integer", "minimum": 1, "maximum": 25 });
    preview["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": preview_schema,
        "example": { "resource": "location_from_site", "text": example_mapping, "format": "toml", "limit": 2 } } } });
    preview["responses"]["400"] = err.clone();
    preview["responses"]["404"] = err.clone();
    preview["responses"]["422"] = problems.clone();
    preview["responses"]["502"] = err.clone();
    let mut restore = common("Save a version from the history again, as a new version", "the new version");
    restore["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": {
        "type": "object", "required": ["version"], "properties": { "version": { "type": "integer" } } },
        "example": { "version": 0 } } } });
    restore["responses"]["400"] = err.clone();
    restore["responses"]["404"] = err.clone();
    restore["responses"]["422"] = problems.clone();
    json!({
        "openapi": "3.1.0",
        "info": { "title": "snapsync admin API", "version": env!("CARGO_PKG_VERSION") },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": { "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } } }
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/admin/queue/stats": { "get": common("Job counts per state and kind, and whether the queue is paused", "counts") },
            "/admin/queue/pause": { "post": common("Pause the queue: workers take no new job", "paused") },
            "/admin/queue/resume": { "post": common("Resume the queue", "resumed") },
            "/admin/jobs": { "get": {
                "summary": "A page of jobs in a state (ready by default), optionally of one kind",
                "parameters": [
                    { "name": "state", "in": "query", "schema": { "type": "string", "enum": ["ready", "scheduled", "running", "snoozed", "dead", "done"] } },
                    { "name": "kind", "in": "query", "schema": { "type": "string" } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500 } },
                    { "name": "cursor", "in": "query", "schema": { "type": "string" }, "description": "next_cursor of the previous page" }
                ],
                "responses": { "200": ok("jobs and next_cursor"), "400": err, "401": err, "503": err } } },
            "/admin/jobs/retry-dead": { "post": common("Retry every dead job (optionally of one kind: body {\"kind\": ...})", "how many") },
            "/admin/jobs/{id}": { "get": with_id("A job: summary, payload (secrets redacted), every attempt", "the job") },
            "/admin/jobs/{id}/retry": { "post": with_id("Put a job back on ready now (a dead one with its attempts reset)", "what retry did") },
            "/admin/jobs/{id}/discard": { "post": with_id("Remove a job wherever it is", "the state it was in") },
            "/admin/syncs": { "get": common("The last sync of each resource: created, updated, unchanged, deleted, failed", "syncs") },
            "/admin/throughput": { "get": common("Jobs done and dead per minute (as far as retention keeps them)", "minutes") },
            "/admin/workers": { "get": common("Live workers: host, pid, in-flight jobs, last heartbeat", "workers") },
            "/admin/budgets": { "get": common("Each rate-limit budget: limit, use in the current window, waits, pauses", "budgets") },
            "/admin/schedules": { "get": common("Each resource's schedule, last and next run", "schedules") },
            "/admin/schedules/{resource}": { "put": set },
            "/admin/schedules/{resource}/pause": { "post": with_resource("Pause a resource's schedule", "the rule") },
            "/admin/schedules/{resource}/resume": { "post": with_resource("Resume a resource's schedule", "the rule") },
            "/admin/schedules/{resource}/run": { "post": with_resource("Run one sync of the resource now", "the job") },
            "/admin/mapping": {
                "get": common("The mapping in force (saved, else mapping.path) as text and as a JSON document, with the catalogue of resources, source fields, target fields and transforms", "the mapping"),
                "put": save
            },
            "/admin/mapping/preview": { "post": preview },
            "/admin/mapping/history": { "get": common("The saved versions the current one replaced, newest first", "history") },
            "/admin/mapping/restore": { "post": restore },
            "/admin/openapi.json": { "get": { "summary": "This document", "security": [], "responses": { "200": ok("OpenAPI 3.1") } } }
        }
    })
}
