//! [`SnapshotsClient`] and its single-request calls. The flows that combine them (upsert,
//! tag, delete by external id) are in `upsert.rs`.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use snapsync_queue::{Budget, Limiter, Permit, RedisConn};

use super::error::{ApiError, SnapshotsError};
use super::types::{ActivityOutcome, Collection, Owner, Record};

/// Per-request timeout: a Snapshots call that takes longer is retried by the job.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The Snapshots API client. Cheap to clone (shares the HTTP pool and the Redis connection).
#[derive(Clone)]
pub struct SnapshotsClient {
    pub(super) http: reqwest::Client,
    pub(super) base_url: String,
    pub(super) redis: RedisConn,
    pub(super) key_prefix: String,
    /// The API key's shared rate-limit budget, when attached ([`SnapshotsClient::with_limits`]).
    pub(super) limits: Option<(Limiter, Budget)>,
}

/// Shows the base URL and prefix only: the API key lives inside the HTTP client's default
/// headers, marked sensitive, and is never printed.
impl std::fmt::Debug for SnapshotsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotsClient")
            .field("base_url", &self.base_url)
            .field("key_prefix", &self.key_prefix)
            .field("api_key", &"[redacted]")
            .finish()
    }
}

/// A successful answer, read whole.
pub(super) struct Answer {
    pub body: Vec<u8>,
}

impl SnapshotsClient {
    /// `base_url` like `http://127.0.0.1:8081` (a trailing `/` is ignored); `key_prefix`
    /// names this deployment's Redis keys (`{prefix}:snap:...`).
    pub fn new(
        base_url: &str,
        api_key: SecretString,
        redis: RedisConn,
        key_prefix: impl Into<String>,
    ) -> Result<SnapshotsClient, SnapshotsError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(SnapshotsError::Invalid(format!("base url {base_url:?} must start with http:// or https://")));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", api_key.expose_secret()))
            .map_err(|_| SnapshotsError::Invalid("the api key holds characters not allowed in a header".into()))?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| SnapshotsError::Invalid(format!("could not build the http client: {e}")))?;
        Ok(SnapshotsClient { http, base_url, redis, key_prefix: key_prefix.into(), limits: None })
    }

    /// Attaches the API key's budget: from now on every request takes a permit first, every
    /// answer's `X-RateLimit-*` headers update the budget for every process, and a 429 pauses
    /// it for everyone until its `Retry-After`.
    pub fn with_limits(mut self, limiter: Limiter, budget: Budget) -> SnapshotsClient {
        self.limits = Some((limiter, budget));
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one request; a non-2xx answer becomes [`SnapshotsError::Api`].
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&'static str, String)],
        body: Option<&Map<String, Value>>,
    ) -> Result<Answer, SnapshotsError> {
        let op = format!("{method} {path}");
        let mut req = self.http.request(method, format!("{}{}", self.base_url, path));
        if !query.is_empty() {
            req = req.query(query);
        }
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let permit = match &self.limits {
            Some((limiter, budget)) => {
                limiter.acquire(budget).await.map_err(|source| SnapshotsError::Throttled { op: op.clone(), source })?
            }
            None => Permit::default(),
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(source) => {
                crate::telemetry::api_request("snapshots", "default", None);
                self.follow_headers(permit, None, &HeaderMap::new()).await;
                return Err(SnapshotsError::Transport { op: op.clone(), source });
            }
        };
        let status = resp.status();
        crate::telemetry::api_request("snapshots", "default", Some(status.as_u16()));
        let headers = resp.headers().clone();
        self.follow_headers(permit, Some(status), &headers).await;
        let body = resp.bytes().await.map_err(|source| SnapshotsError::Transport { op: op.clone(), source })?.to_vec();
        if status.is_success() {
            Ok(Answer { body })
        } else {
            Err(SnapshotsError::Api(Box::new(api_error(op, status, &headers, &body))))
        }
    }

    /// The budget follows the answer's `X-RateLimit-Limit`/`-Remaining`; a 429 pauses it for its
    /// `Retry-After` (else until the window's `X-RateLimit-Reset`).
    async fn follow_headers(&self, permit: Permit, status: Option<StatusCode>, headers: &HeaderMap) {
        let Some((limiter, budget)) = &self.limits else { return };
        let num = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let limit = num("x-ratelimit-limit").and_then(|v| u32::try_from(v).ok());
        // Only a successful answer's count is trusted (an injected or proxied error may say 0).
        let ok = status.is_some_and(|s| s.is_success());
        let remaining = num("x-ratelimit-remaining").and_then(|v| u32::try_from(v).ok()).filter(|_| ok);
        // The permit counts from the answer (see `Limiter::settle`).
        if let Err(e) = limiter.settle(budget, permit, limit, remaining, None).await {
            tracing::warn!(error = %e, "could not record snapshots' rate-limit headers");
        }
        if status == Some(StatusCode::TOO_MANY_REQUESTS) {
            let wait = num("retry-after").or(num("x-ratelimit-reset")).map_or(budget.window, Duration::from_secs);
            if let Err(e) = limiter.pause(budget, wait).await {
                tracing::warn!(error = %e, "could not pause the snapshots budget");
            }
        }
    }

    /// The record with this `external_id`, if any.
    pub async fn find_by_external_id(
        &self,
        collection: Collection,
        external_id: &str,
    ) -> Result<Option<Record>, SnapshotsError> {
        let path = format!("/{}", collection.path());
        let answer = self.send(Method::GET, &path, &[("external_id", external_id)], &[], None).await?;
        let op = format!("GET {path}");
        let data = list_data(&op, &answer.body)?;
        match data.into_iter().next() {
            Some(v) => Ok(Some(record(&op, collection, v)?)),
            None => Ok(None),
        }
    }

    /// One record by its Snapshots id; `None` on 404.
    pub async fn get(&self, collection: Collection, id: &str) -> Result<Option<Record>, SnapshotsError> {
        let path = format!("/{}/{}", collection.path(), id);
        match self.send(Method::GET, &path, &[], &[], None).await {
            Ok(answer) => Ok(Some(record(&format!("GET {path}"), collection, parse(&path, &answer.body)?)?)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /<collection>` with an `Idempotency-Key`.
    pub async fn create(
        &self,
        collection: Collection,
        body: &Map<String, Value>,
        idempotency_key: &str,
    ) -> Result<Record, SnapshotsError> {
        check_idempotency_key(idempotency_key)?;
        let path = format!("/{}", collection.path());
        let headers = [("Idempotency-Key", idempotency_key.to_string())];
        let answer = self.send(Method::POST, &path, &[], &headers, Some(body)).await?;
        record(&format!("POST {path}"), collection, parse(&path, &answer.body)?)
    }

    /// `PATCH /<collection>/<id>` with `If-Match: <version>`.
    pub async fn patch(
        &self,
        collection: Collection,
        id: &str,
        if_match: u64,
        body: &Map<String, Value>,
    ) -> Result<Record, SnapshotsError> {
        let path = format!("/{}/{}", collection.path(), id);
        let answer = self.send(Method::PATCH, &path, &[], &[("If-Match", if_match.to_string())], Some(body)).await?;
        record(&format!("PATCH {path}"), collection, parse(&path, &answer.body)?)
    }

    /// `DELETE /<collection>/<id>`; `false` when it was already gone.
    pub async fn delete_by_id(&self, collection: Collection, id: &str) -> Result<bool, SnapshotsError> {
        let path = format!("/{}/{}", collection.path(), id);
        match self.send(Method::DELETE, &path, &[], &[], None).await {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every owner, all pages.
    pub async fn list_owners(&self) -> Result<Vec<Owner>, SnapshotsError> {
        let mut owners = Vec::new();
        let mut page = 1u64;
        loop {
            let page_text = page.to_string();
            let answer =
                self.send(Method::GET, "/owners", &[("page", &page_text), ("per_page", "500")], &[], None).await?;
            let body = parse("/owners", &answer.body)?;
            let data = body.get("data").cloned().unwrap_or(Value::Null);
            let batch: Vec<Owner> = serde_json::from_value(data).map_err(|e| SnapshotsError::Response {
                op: "GET /owners".into(),
                detail: format!("owners list is not as documented: {e}"),
            })?;
            owners.extend(batch);
            match body.get("next_page").and_then(Value::as_u64) {
                Some(next) if next > page => page = next,
                _ => return Ok(owners),
            }
        }
    }

    /// Creates an activity (follow-up, call, ...) once: activities cannot be patched, so
    /// an activity whose `external_id` exists already (409) is left as it is.
    pub async fn create_activity(
        &self,
        external_id: &str,
        mut record: Map<String, Value>,
        idempotency_key: &str,
    ) -> Result<ActivityOutcome, SnapshotsError> {
        record.insert("external_id".into(), Value::String(external_id.into()));
        match self.create(Collection::Activities, &record, idempotency_key).await {
            Ok(r) => Ok(ActivityOutcome::Created { id: r.id }),
            Err(SnapshotsError::Api(e)) if e.status == 409 && e.existing_id.is_some() => {
                Ok(ActivityOutcome::Existing { id: e.existing_id.unwrap_or_default() })
            }
            Err(e) => Err(e),
        }
    }
}

fn check_idempotency_key(key: &str) -> Result<(), SnapshotsError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SnapshotsError::Invalid(format!("idempotency key {key:?} must be 1-255 visible ascii characters")));
    }
    Ok(())
}

fn parse(path: &str, body: &[u8]) -> Result<Map<String, Value>, SnapshotsError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(SnapshotsError::Response { op: path.to_string(), detail: "body is not a json object".into() }),
    }
}

fn list_data(op: &str, body: &[u8]) -> Result<Vec<Value>, SnapshotsError> {
    let mut body = parse(op, body)?;
    match body.remove("data") {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(SnapshotsError::Response { op: op.to_string(), detail: "list without a data array".into() }),
    }
}

pub(super) fn record(op: &str, collection: Collection, value: impl Into<Value>) -> Result<Record, SnapshotsError> {
    let Value::Object(fields) = value.into() else {
        return Err(SnapshotsError::Response { op: op.to_string(), detail: "record is not a json object".into() });
    };
    let id = fields.get(collection.id_field()).and_then(Value::as_str).map(str::to_string);
    let version = fields.get("version").and_then(Value::as_u64);
    match (id, version) {
        (Some(id), Some(version)) => Ok(Record { id, version, fields }),
        _ => Err(SnapshotsError::Response {
            op: op.to_string(),
            detail: format!("record without {} or version", collection.id_field()),
        }),
    }
}

/// Reads Snapshots' error body `{"error":{"code","message","field"?,"existing_id"?}}`;
/// a body of another shape still yields the status.
fn api_error(op: String, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let error = serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("error").cloned()).unwrap_or(Value::Null);
    let text = |k: &str| error.get(k).and_then(Value::as_str).map(str::to_string);
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
    ApiError {
        op,
        status: status.as_u16(),
        code: text("code").unwrap_or_default(),
        message: text("message").unwrap_or_default(),
        field: text("field"),
        existing_id: text("existing_id"),
        retry_after: header("retry-after").and_then(|s| s.trim().parse::<u64>().ok()).map(Duration::from_secs),
        request_id: header("x-request-id"),
    }
}
