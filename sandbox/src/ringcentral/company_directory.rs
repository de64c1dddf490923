//! The company directory (internal contacts): `GET .../directory/entries` (Medium; `siteId`
//! and `type` filters) and `GET .../directory/entries/{entryId}` (Light). Entries are the
//! account's extensions in the shape of the company-directory event's `contacts[]`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::directory::{Directory, ExtensionRecord};
use super::extensions::TYPES;
use super::guard::{self, Caller};
use super::paging::page_of;
use super::query;
use super::rate_limit::Group;
use super::{errors, RcState};

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    let base = "/restapi/v1.0/account/{accountId}/directory/entries";
    Router::new()
        .route(base, guard::api(state, Group::Medium, get(list)))
        .route(&format!("{base}/{{entryId}}"), guard::api(state, Group::Light, get(one)))
}

/// One directory entry (the event sample's field names).
pub fn entry_json(dir: &Directory, e: &ExtensionRecord) -> Value {
    let c = &e.contact;
    let mut body = json!({
        "id": e.id.to_string(),
        "type": e.kind,
        "status": e.status,
        "name": e.name,
        "extensionNumber": e.extension_number,
        "account": { "id": dir.account_id.to_string() },
        "phoneNumbers": c.business_phone.iter().map(|p| json!({
            "phoneNumber": p, "usageType": "DirectNumber", "type": "VoiceFax"
        })).collect::<Vec<_>>(),
    });
    let fields = [("firstName", &c.first_name), ("lastName", &c.last_name), ("department", &c.department)];
    for (k, v) in fields.into_iter().chain([("email", &c.email), ("jobTitle", &c.job_title)]) {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    if let Some(site) = dir.site(&e.site_id) {
        body["site"] = json!({ "id": site.id, "name": site.name });
    }
    body
}

async fn list(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(account_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (acc, q, page) = match query::account_list(&caller, &account_id, raw.as_deref()) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let types = match q.all_of("type", TYPES) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let site = match q.one("siteId") {
        None => None,
        Some("main-site") => dir.main_site_id().map(str::to_string),
        Some(id) if dir.site(id).is_some() => Some(id.to_string()),
        Some(id) => return errors::invalid_param("siteId", id),
    };
    let records: Vec<Value> = dir
        .extensions
        .iter()
        .filter(|e| site.as_ref().is_none_or(|s| *s == e.site_id))
        .filter(|e| types.is_empty() || types.iter().any(|t| t == e.kind))
        .map(|e| entry_json(&dir, e))
        .collect();
    let path = format!("/restapi/v1.0/account/{acc}/directory/entries");
    Json(page_of(&state.base_url, &path, &q.filters(), &records, page)).into_response()
}

async fn one(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, entry_id)): Path<(String, String)>,
) -> Response {
    if let Err(resp) = caller.account(&account_id) {
        return resp;
    }
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    match entry_id.parse::<u64>().ok().and_then(|id| dir.extension(id)) {
        Some(e) => Json(entry_json(&dir, e)).into_response(),
        None => errors::not_found("entryId", &entry_id),
    }
}
