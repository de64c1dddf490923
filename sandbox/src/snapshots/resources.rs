//! The API routes and their handlers.
//!
//! | route | operations |
//! |---|---|
//! | `/locations`, `/locations/{id}` | list, create · get, patch, delete |
//! | `/accounts`, `/accounts/{id}` | list, create · get, patch |
//! | `/leads`, `/leads/{id}` | list, create · get, patch |
//! | `/activities`, `/activities/{id}` | list, create · get |
//! | `/owners` | list |
//!
//! Every `POST` honours `Idempotency-Key`; `PATCH` and `DELETE` honour `If-Match`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::errors::ApiError;
use super::idempotency::{Fingerprint, Lookup, Stored, MAX_KEY_LEN};
use super::paging::ListQuery;
use super::schema::Kind;
use super::stats::Write;
use super::SnapshotsState;

type St = State<Arc<SnapshotsState>>;
type Id = Result<Path<String>, PathRejection>;
type RawBody = Result<Bytes, BytesRejection>;

pub fn routes() -> Router<Arc<SnapshotsState>> {
    Router::new()
        .route("/locations", collection(Kind::Locations))
        .route(
            "/locations/{id}",
            item(Kind::Locations).merge(patch_of(Kind::Locations)).merge(delete_of(Kind::Locations)),
        )
        .route("/accounts", collection(Kind::Accounts))
        .route("/accounts/{id}", item(Kind::Accounts).merge(patch_of(Kind::Accounts)))
        .route("/leads", collection(Kind::Leads))
        .route("/leads/{id}", item(Kind::Leads).merge(patch_of(Kind::Leads)))
        .route("/activities", collection(Kind::Activities))
        .route("/activities/{id}", item(Kind::Activities))
        .route("/owners", get(list_owners))
}

/// `GET` (list) and `POST` on a collection.
fn collection(kind: Kind) -> MethodRouter<Arc<SnapshotsState>> {
    get(move |State(st): St, RawQuery(q): RawQuery| async move { list(&st, kind, q.as_deref()) }).post(
        move |State(st): St, headers: HeaderMap, uri: Uri, body: RawBody| async move {
            create(&st, kind, &headers, uri.path(), body)
        },
    )
}

/// `GET` on one record.
fn item(kind: Kind) -> MethodRouter<Arc<SnapshotsState>> {
    get(move |State(st): St, id: Id| async move {
        let id = record_id(kind, id)?;
        st.data().store.get(kind, &id).map(Json)
    })
}

/// `PATCH` on one record.
fn patch_of(kind: Kind) -> MethodRouter<Arc<SnapshotsState>> {
    axum::routing::patch(move |State(st): St, headers: HeaderMap, id: Id, body: RawBody| async move {
        patch(&st, kind, &headers, id, body)
    })
}

/// `DELETE` on one record.
fn delete_of(kind: Kind) -> MethodRouter<Arc<SnapshotsState>> {
    axum::routing::delete(move |State(st): St, headers: HeaderMap, id: Id| async move {
        let id = record_id(kind, id)?;
        let if_match = if_match(&headers)?;
        st.data().store.delete(kind, &id, if_match)?;
        st.stats().write(kind, Write::Delete);
        Ok::<_, ApiError>(StatusCode::NO_CONTENT)
    })
}

fn list(st: &SnapshotsState, kind: Kind, raw: Option<&str>) -> Result<Json<Value>, ApiError> {
    let q = ListQuery::parse(raw)?;
    let items = st.data().store.list(kind, q.external_id.as_deref());
    Ok(Json(q.page_of(items)))
}

/// `GET /owners`. Owners have no `external_id`, so that filter matches none of them.
async fn list_owners(State(st): St, RawQuery(raw): RawQuery) -> Result<Json<Value>, ApiError> {
    let q = ListQuery::parse(raw.as_deref())?;
    let owners = serde_json::to_value(st.data().store.owners())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "unavailable", e.to_string()))?;
    let mut items = match owners {
        Value::Array(a) => a,
        _ => Vec::new(),
    };
    if let Some(ext) = &q.external_id {
        items.retain(|o| o.get("external_id").and_then(Value::as_str) == Some(ext.as_str()));
    }
    Ok(Json(q.page_of(items)))
}

/// `POST /<collection>`: with an `Idempotency-Key`, the lookup, the create and remembering
/// its answer happen under one lock, so two racing retries cannot both create.
fn create(st: &SnapshotsState, kind: Kind, headers: &HeaderMap, path: &str, body: RawBody) -> Response {
    let key = match idempotency_key(headers) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let bytes = match body {
        Ok(b) => b,
        Err(e) => return unreadable(e).into_response(),
    };
    let now = Instant::now();
    let fingerprint = key.as_ref().map(|_| Fingerprint::new("POST", path, &bytes));
    let (answer, created) = {
        let mut data = st.data();
        if let (Some(k), Some(fp)) = (&key, &fingerprint) {
            match data.idempotency.lookup(k, fp, now) {
                Lookup::New => {}
                Lookup::Replay(stored) => {
                    drop(data);
                    st.stats().replay();
                    let mut resp = json_bytes(stored.status, stored.body);
                    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
                    return resp;
                }
                Lookup::Reused => return ApiError::idempotency_key_reused(k).into_response(),
            }
        }
        let result = object(&bytes).and_then(|map| data.store.create(kind, &map));
        let created = result.is_ok();
        let (status, value) = match result {
            Ok(record) => (StatusCode::CREATED, record),
            Err(e) => (e.status, e.body()),
        };
        let answer = Stored { status, body: serde_json::to_vec(&value).unwrap_or_default() };
        if let (Some(k), Some(fp)) = (key, fingerprint) {
            data.idempotency.remember(&k, fp, answer.clone(), now);
        }
        (answer, created)
    };
    if created {
        st.stats().write(kind, Write::Create);
    }
    json_bytes(answer.status, answer.body)
}

fn patch(st: &SnapshotsState, kind: Kind, headers: &HeaderMap, id: Id, body: RawBody) -> Result<Json<Value>, ApiError> {
    let id = record_id(kind, id)?;
    let if_match = if_match(headers)?;
    let map = object(&body.map_err(unreadable)?)?;
    let patched = st.data().store.patch(kind, &id, if_match, &map)?;
    st.stats().write(kind, if patched.changed { Write::Update } else { Write::Unchanged });
    Ok(Json(patched.record))
}

fn record_id(kind: Kind, id: Id) -> Result<String, ApiError> {
    id.map(|Path(id)| id).map_err(|_| ApiError::not_found(format!("no {} with that id", kind.noun())))
}

/// The body as a JSON object (400 `bad_request` otherwise).
fn object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the body is empty; send the record as a JSON object"));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object, e.g. {\"name\":\"...\"}")),
        Err(e) => Err(ApiError::bad_request(format!("malformed JSON body: {e}"))),
    }
}

fn unreadable(e: BytesRejection) -> ApiError {
    ApiError::bad_request(format!("the body could not be read ({}); bodies are limited to 2 MiB", e.body_text()))
}

/// `Idempotency-Key`: visible ASCII, 1–255 characters (400 `bad_request` otherwise).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else { return Ok(None) };
    match v.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= MAX_KEY_LEN => Ok(Some(k.to_string())),
        _ => Err(ApiError::bad_request(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters; use e.g. a UUID"
        ))),
    }
}

/// `If-Match: <version>` (also `"<version>"` or `W/"<version>"`; `*` matches any version).
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let raw = v.to_str().unwrap_or("").trim();
    if raw == "*" {
        return Ok(None);
    }
    let bare = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(format!("If-Match must be the record's version, e.g. If-Match: 3; got {raw:?}"))
    })
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
