//! Extensions: the list (`GET /restapi/v1.0/account/{accountId}/extension`, Medium, with
//! `status`, `type`, `extensionNumber` and `email` filters) and one extension (Light).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::directory::{Directory, ExtensionRecord};
use super::guard::{self, Caller};
use super::paging::page_of;
use super::query;
use super::rate_limit::Group;
use super::{errors, RcState};

pub const STATUSES: &[&str] = &["Enabled", "Disabled", "Frozen", "NotActivated", "Unassigned"];
pub const TYPES: &[&str] = &[
    "User",
    "Department",
    "Announcement",
    "Voicemail",
    "DigitalUser",
    "VirtualUser",
    "FaxUser",
    "PagingOnly",
    "SharedLinesGroup",
    "DelegatedLinesGroup",
    "GroupCallPickup",
    "IvrMenu",
    "ApplicationExtension",
    "ProxyAdmin",
    "RoomConnector",
    "ParkLocation",
    "Limited",
    "Bot",
    "Site",
    "Room",
    "FlexibleUser",
    "TieLine",
    "Unknown",
];

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    Router::new()
        .route("/restapi/v1.0/account/{accountId}/extension", guard::api(state, Group::Medium, get(list)))
        .route("/restapi/v1.0/account/{accountId}/extension/{extensionId}", guard::api(state, Group::Light, get(one)))
}

/// An extension as the list and the single-extension endpoint render it.
pub fn extension_json(dir: &Directory, e: &ExtensionRecord, base_url: &str) -> Value {
    let acc = dir.account_id;
    let account_uri = format!("{base_url}/restapi/v1.0/account/{acc}");
    let uri = format!("{account_uri}/extension/{}", e.id);
    let c = &e.contact;
    let mut contact = json!({ "emailAsLoginName": true });
    let fields = [
        ("firstName", &c.first_name),
        ("lastName", &c.last_name),
        ("company", &c.company),
        ("jobTitle", &c.job_title),
        ("email", &c.email),
        ("businessPhone", &c.business_phone),
        ("mobilePhone", &c.mobile_phone),
        ("department", &c.department),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            contact[k] = json!(v);
        }
    }
    contact["businessAddress"] = serde_json::to_value(&c.business_address).unwrap_or_else(|_| json!({}));
    let mut body = json!({
        "uri": uri,
        "id": e.id,
        "extensionNumber": e.extension_number,
        "name": e.name,
        "type": e.kind,
        "status": e.status,
        "contact": contact,
        "account": { "uri": account_uri, "id": acc.to_string() },
        "permissions": {
            "admin": { "enabled": e.is_admin },
            "internationalCalling": { "enabled": e.kind == "User" }
        },
        "profileImage": { "uri": format!("{uri}/profile-image") },
        "hidden": false,
        "creationTime": e.creation_time,
    });
    if let Some(site) = dir.site(&e.site_id) {
        body["site"] = json!({
            "id": site.id,
            "uri": format!("{account_uri}/sites/{}", site.id),
            "name": site.name,
            "code": site.code,
        });
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
    let (statuses, types) = match (q.all_of("status", STATUSES), q.all_of("type", TYPES)) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(resp), _) | (_, Err(resp)) => return resp,
    };
    let number = q.one("extensionNumber");
    let emails: Vec<String> = q.all("email").iter().map(|e| e.to_lowercase()).collect();
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let records: Vec<Value> = dir
        .extensions
        .iter()
        .filter(|e| statuses.is_empty() || statuses.iter().any(|s| s == e.status))
        .filter(|e| types.is_empty() || types.iter().any(|t| t == e.kind))
        .filter(|e| number.is_none_or(|n| n == e.extension_number))
        .filter(|e| emails.is_empty() || e.contact.email.as_ref().is_some_and(|m| emails.contains(&m.to_lowercase())))
        .map(|e| extension_json(&dir, e, &state.base_url))
        .collect();
    let path = format!("/restapi/v1.0/account/{acc}/extension");
    Json(page_of(&state.base_url, &path, &q.filters(), &records, page)).into_response()
}

async fn one(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, extension_id)): Path<(String, String)>,
) -> Response {
    if let Err(resp) = caller.account(&account_id) {
        return resp;
    }
    let id = match caller.extension(&extension_id) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    match dir.extension(id) {
        Some(e) => Json(extension_json(&dir, e, &state.base_url)).into_response(),
        None => errors::not_found("extensionId", &extension_id),
    }
}
