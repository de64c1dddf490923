//! Sites (`GET .../sites`, `GET .../sites/{siteId}`) and emergency locations
//! (`GET .../emergency-locations` with `siteId`/`addressStatus`/`usageStatus`/
//! `searchString`/`orderBy`, and `GET .../emergency-locations/{locationId}`); all Light.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::directory::{Directory, EmergencyLocation, Site};
use super::guard::{self, Caller};
use super::paging::page_of;
use super::query::{self, Query};
use super::rate_limit::Group;
use super::{errors, RcState};

pub const SITE_ACCESS: &[&str] = &["Limited", "Unlimited"];
pub const ADDRESS_STATUSES: &[&str] = &["Valid", "Invalid", "Provisioning", "Deprovisioned"];
pub const USAGE_STATUSES: &[&str] = &["Active", "Inactive"];
pub const SYNC_STATUSES: &[&str] =
    &["Verified", "Updated", "Deleted", "ActivationProcess", "NotRequired", "Unsupported", "Failed"];
pub const ADDRESS_TYPES: &[&str] = &["LocationWithElins", "LocationWithEndpoint"];
pub const VISIBILITIES: &[&str] = &["Private", "Public"];
const ORDER_KEYS: &[&str] = &["name", "siteName", "address", "addressStatus", "usageStatus"];

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    let acc = "/restapi/v1.0/account/{accountId}";
    Router::new()
        .route(&format!("{acc}/sites"), guard::api(state, Group::Light, get(sites)))
        .route(&format!("{acc}/sites/{{siteId}}"), guard::api(state, Group::Light, get(site)))
        .route(&format!("{acc}/sites/{{siteId}}/members"), guard::api(state, Group::Medium, get(site_members)))
        .route(&format!("{acc}/emergency-locations"), guard::api(state, Group::Light, get(locations)))
        .route(&format!("{acc}/emergency-locations/{{locationId}}"), guard::api(state, Group::Light, get(location)))
        .route(
            &format!("{acc}/extension/{{extensionId}}/emergency-locations"),
            guard::api(state, Group::Light, get(extension_locations)),
        )
}

pub fn site_json(dir: &Directory, s: &Site, base_url: &str) -> Value {
    let account_uri = format!("{base_url}/restapi/v1.0/account/{}", dir.account_id);
    let mut body = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    body["uri"] = json!(format!("{account_uri}/sites/{}", s.id));
    if let Some(op) = &s.operator {
        body["operator"]["uri"] = json!(format!("{account_uri}/extension/{}", op.id));
        if op.name.is_none() {
            let name = op.id.parse::<u64>().ok().and_then(|id| dir.extension(id)).map(|e| e.name.clone());
            if let Some(name) = name {
                body["operator"]["name"] = json!(name);
            }
        }
    }
    body
}

pub fn location_json(dir: &Directory, l: &EmergencyLocation, base_url: &str) -> Value {
    let mut body = serde_json::to_value(l).unwrap_or_else(|_| json!({}));
    if let Some(obj) = body.as_object_mut() {
        obj.remove("siteId");
    }
    body["uri"] = json!(format!("{base_url}/restapi/v1.0/account/{}/emergency-locations/{}", dir.account_id, l.id));
    let site_name = dir.site(&l.site_id).map(|s| s.name.clone());
    body["site"] = json!({ "id": l.site_id, "name": site_name });
    body
}

async fn sites(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(account_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (acc, q, page) = match query::account_list(&caller, &account_id, raw.as_deref()) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let records: Vec<Value> = dir.sites.iter().map(|s| site_json(&dir, s, &state.base_url)).collect();
    let path = format!("/restapi/v1.0/account/{acc}/sites");
    Json(page_of(&state.base_url, &path, &q.filters(), &records, page)).into_response()
}

async fn site(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, site_id)): Path<(String, String)>,
) -> Response {
    if let Err(resp) = caller.account(&account_id) {
        return resp;
    }
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    match dir.site(&site_id) {
        Some(s) => Json(site_json(&dir, s, &state.base_url)).into_response(),
        None => errors::not_found("siteId", &site_id),
    }
}

/// The sort key of `orderBy` (`+name`, `-address`, ...; a bare key means ascending).
fn order_key(dir: &Directory, l: &EmergencyLocation, key: &str) -> String {
    match key {
        "name" => l.name.to_lowercase(),
        "siteName" => dir.site(&l.site_id).map(|s| s.name.to_lowercase()).unwrap_or_default(),
        "addressStatus" => l.address_status.clone(),
        "usageStatus" => l.usage_status.clone(),
        _ => {
            let a = &l.address;
            [&a.street, &a.street2, &a.city, &a.state, &a.zip]
                .iter()
                .map(|p| p.as_deref().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        }
    }
}

async fn locations(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(account_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (acc, q, page) = match query::account_list(&caller, &account_id, raw.as_deref()) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let (address_statuses, usage_statuses) =
        match (q.all_of("addressStatus", ADDRESS_STATUSES), q.all_of("usageStatus", USAGE_STATUSES)) {
            (Ok(a), Ok(u)) => (a, u),
            (Err(resp), _) | (_, Err(resp)) => return resp,
        };
    let order = q.one("orderBy").unwrap_or("+address");
    let (descending, key) = match order.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, order.strip_prefix('+').or_else(|| order.strip_prefix(' ')).unwrap_or(order)),
    };
    if !ORDER_KEYS.contains(&key) {
        return errors::invalid_param("orderBy", order);
    }
    let search = q.one("searchString").map(str::to_lowercase);
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let mut site_ids = Vec::new();
    for raw_id in q.all("siteId") {
        let id = if raw_id == "main-site" { dir.main_site_id().unwrap_or("") } else { raw_id };
        if dir.site(id).is_none() {
            return errors::invalid_param("siteId", raw_id);
        }
        site_ids.push(id.to_string());
    }
    let mut matching: Vec<&EmergencyLocation> = dir
        .locations
        .iter()
        .filter(|l| site_ids.is_empty() || site_ids.contains(&l.site_id))
        .filter(|l| address_statuses.is_empty() || address_statuses.contains(&l.address_status))
        .filter(|l| usage_statuses.is_empty() || usage_statuses.contains(&l.usage_status))
        .filter(|l| {
            search
                .as_ref()
                .is_none_or(|s| l.name.to_lowercase().contains(s) || order_key(&dir, l, "address").contains(s.as_str()))
        })
        .collect();
    // Ties keep creation order (stable sort), so pages never shuffle between calls.
    matching.sort_by_cached_key(|l| order_key(&dir, l, key));
    if descending {
        matching.reverse();
    }
    let records: Vec<Value> = matching.iter().map(|l| location_json(&dir, l, &state.base_url)).collect();
    let path = format!("/restapi/v1.0/account/{acc}/emergency-locations");
    Json(page_of(&state.base_url, &path, &q.filters(), &records, page)).into_response()
}

async fn location(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, location_id)): Path<(String, String)>,
) -> Response {
    if let Err(resp) = caller.account(&account_id) {
        return resp;
    }
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    match dir.location(&location_id) {
        Some(l) => Json(location_json(&dir, l, &state.base_url)).into_response(),
        None => errors::not_found("locationId", &location_id),
    }
}

/// `GET .../sites/{siteId}/members` (Medium): the extensions assigned to the site.
async fn site_members(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, site_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (acc, q, page) = match query::account_list(&caller, &account_id, raw.as_deref()) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    if dir.site(&site_id).is_none() {
        return errors::not_found("siteId", &site_id);
    }
    let records: Vec<Value> = dir
        .extensions
        .iter()
        .filter(|e| e.site_id == site_id)
        .map(|e| {
            json!({
                "id": e.id,
                "uri": format!("{}/restapi/v1.0/account/{acc}/extension/{}", state.base_url, e.id),
                "extensionNumber": e.extension_number,
                "name": e.name,
                "type": e.kind,
            })
        })
        .collect();
    let path = format!("/restapi/v1.0/account/{acc}/sites/{site_id}/members");
    Json(page_of(&state.base_url, &path, &q.filters(), &records, page)).into_response()
}

/// `GET .../extension/{extensionId}/emergency-locations` (Light): the locations of the
/// extension's site (the page is silent on which ones a user sees; a user picks from
/// the locations of where they sit).
async fn extension_locations(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, extension_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let acc = match caller.account(&account_id) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let ext = match caller.extension(&extension_id) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let q = Query::parse(raw.as_deref());
    let page = match q.page().resolve(100, 1000) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let Some(site_id) = dir.extension(ext).map(|e| e.site_id.clone()) else {
        return errors::not_found("extensionId", &extension_id);
    };
    let records: Vec<Value> = dir
        .locations
        .iter()
        .filter(|l| l.site_id == site_id)
        .map(|l| location_json(&dir, l, &state.base_url))
        .collect();
    let path = format!("/restapi/v1.0/account/{acc}/extension/{ext}/emergency-locations");
    Json(page_of(&state.base_url, &path, &q.filters(), &records, page)).into_response()
}
