//! `/sandbox/sites` and `/sandbox/emergency-locations`: create, patch (merge) and delete.
//! RingCentral fires no webhook event for either, so neither does this.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::super::directory::{Directory, EmergencyLocation, LocationAddress, Site};
use super::super::locations::{self, location_json, site_json};
use super::super::RcState;
use super::{apply, bad, missing, object};

fn check_site(dir: &Directory, site: &Site) -> Result<(), Response> {
    if site.name.trim().is_empty() {
        return Err(bad("field `name` is required"));
    }
    if !locations::SITE_ACCESS.contains(&site.site_access.as_str()) {
        return Err(bad(format!("field `siteAccess` must be one of {:?}", locations::SITE_ACCESS)));
    }
    if let Some(op) = &site.operator {
        if !op.id.parse::<u64>().is_ok_and(|id| dir.has_extension(id)) {
            return Err(bad(format!("field `operator.id`: no extension with id {}", op.id)));
        }
    }
    Ok(())
}

pub(super) async fn create_site(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let template = Site { site_access: "Limited".into(), ..Site::default() };
    let mut site = match apply(&template, &body, &["id", "uri"]) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if let Err(resp) = check_site(&dir, &site) {
        return resp;
    }
    site.id = dir.next_site_id.to_string();
    dir.next_site_id += 1;
    let record = site_json(&dir, &site, &state.base_url);
    dir.sites.push(site);
    (StatusCode::CREATED, Json(record)).into_response()
}

pub(super) async fn update_site(State(state): State<Arc<RcState>>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = dir.sites.iter().position(|s| s.id == id) else { return missing(format!("no site with id {id}")) };
    let site = match apply(&dir.sites[i], &body, &["id", "uri"]) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if let Err(resp) = check_site(&dir, &site) {
        return resp;
    }
    dir.sites[i] = site;
    Json(site_json(&dir, &dir.sites[i], &state.base_url)).into_response()
}

pub(super) async fn delete_site(State(state): State<Arc<RcState>>, Path(id): Path<String>) -> Response {
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = dir.sites.iter().position(|s| s.id == id) else { return missing(format!("no site with id {id}")) };
    if i == 0 {
        return bad(format!("site {id} is the main site and cannot be deleted"));
    }
    let users = dir.extensions.iter().filter(|e| e.site_id == id).count();
    let places = dir.locations.iter().filter(|l| l.site_id == id).count();
    if users + places > 0 {
        return bad(format!(
            "site {id} still has {users} extensions and {places} emergency locations; move or delete them first"
        ));
    }
    let record = site_json(&dir, &dir.sites[i], &state.base_url);
    dir.sites.remove(i);
    Json(record).into_response()
}

/// Accepts RingCentral's `site: {id}` as well as `siteId`; `main-site` is the main site.
fn location_patch(dir: &Directory, mut body: Map<String, Value>) -> Result<Map<String, Value>, Response> {
    if let Some(site) = body.remove("site") {
        match site.get("id").and_then(Value::as_str) {
            Some(id) => body.insert("siteId".into(), json!(id)),
            None => return Err(bad("field `site.id` must be a string")),
        };
    }
    if body.get("siteId").and_then(Value::as_str) == Some("main-site") {
        body.insert("siteId".into(), json!(dir.main_site_id().unwrap_or("")));
    }
    Ok(body)
}

fn check_location(dir: &Directory, l: &EmergencyLocation) -> Result<(), Response> {
    if l.name.trim().is_empty() {
        return Err(bad("field `name` is required"));
    }
    if dir.site(&l.site_id).is_none() {
        return Err(bad(format!("field `site.id`: no site with id {:?}", l.site_id)));
    }
    let enums: [(&str, &str, &[&str]); 5] = [
        ("addressStatus", &l.address_status, locations::ADDRESS_STATUSES),
        ("usageStatus", &l.usage_status, locations::USAGE_STATUSES),
        ("syncStatus", &l.sync_status, locations::SYNC_STATUSES),
        ("addressType", &l.address_type, locations::ADDRESS_TYPES),
        ("visibility", &l.visibility, locations::VISIBILITIES),
    ];
    match enums.iter().find(|(_, v, allowed)| !allowed.contains(v)) {
        Some((field, _, allowed)) => Err(bad(format!("field `{field}` must be one of {allowed:?}"))),
        None => Ok(()),
    }
}

pub(super) async fn create_location(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let template = EmergencyLocation {
        site_id: dir.main_site_id().unwrap_or("").to_string(),
        address: LocationAddress {
            country: Some("US".into()),
            country_iso_code: Some("US".into()),
            ..Default::default()
        },
        address_status: "Valid".into(),
        usage_status: "Active".into(),
        sync_status: "Verified".into(),
        address_type: "LocationWithElins".into(),
        visibility: "Public".into(),
        address_format_id: Some("US".into()),
        address_format_status: Some("Actual".into()),
        trusted: true,
        ..EmergencyLocation::default()
    };
    let location = location_patch(&dir, body).and_then(|b| apply(&template, &b, &["id", "uri"]));
    let mut location = match location {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    if let Err(resp) = check_location(&dir, &location) {
        return resp;
    }
    location.id = dir.next_location_id.to_string();
    dir.next_location_id += 1;
    let record = location_json(&dir, &location, &state.base_url);
    dir.locations.push(location);
    (StatusCode::CREATED, Json(record)).into_response()
}

pub(super) async fn update_location(
    State(state): State<Arc<RcState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = dir.locations.iter().position(|l| l.id == id) else {
        return missing(format!("no emergency location with id {id}"));
    };
    let location = match location_patch(&dir, body).and_then(|b| apply(&dir.locations[i], &b, &["id", "uri"])) {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    if let Err(resp) = check_location(&dir, &location) {
        return resp;
    }
    dir.locations[i] = location;
    Json(location_json(&dir, &dir.locations[i], &state.base_url)).into_response()
}

pub(super) async fn delete_location(State(state): State<Arc<RcState>>, Path(id): Path<String>) -> Response {
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = dir.locations.iter().position(|l| l.id == id) else {
        return missing(format!("no emergency location with id {id}"));
    };
    let record = location_json(&dir, &dir.locations[i], &state.base_url);
    dir.locations.remove(i);
    Json(record).into_response()
}
