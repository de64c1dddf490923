//! The `/sandbox/` control API for the account's data (not RingCentral's; JSON in and
//! out, no auth): create, patch (JSON merge patch, `null` removes) and delete personal
//! contacts, sites and emergency locations; patch the account and its business address;
//! reset an address book's sync tokens.
//!
//! Each change lands where RingCentral clients would see it (contacts: the book's change
//! sequence, so the next ISync returns it) and fires only the events RingCentral fires:
//! none for contacts, sites and emergency locations; an extension-info `AccountSettings`
//! hint for the admin extension on account and business-address changes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::account::{account_json, business_address_json};
use super::contacts::contact_json;
use super::directory::{now, ContactFields, EmergencyLocation, LocationAddress, Site, MAX_CONTACTS_PER_EXTENSION};
use super::locations::{self, location_json, site_json};
use super::{subscriptions, RcState};

pub fn routes() -> Router<Arc<RcState>> {
    Router::new()
        .route("/sandbox/extensions/{extId}/contacts", post(create_contact))
        .route("/sandbox/extensions/{extId}/contacts/{contactId}", patch(update_contact).delete(delete_contact))
        .route("/sandbox/extensions/{extId}/address-book-sync/reset", post(reset_sync))
        .route("/sandbox/sites", post(create_site))
        .route("/sandbox/sites/{id}", patch(update_site).delete(delete_site))
        .route("/sandbox/emergency-locations", post(create_location))
        .route("/sandbox/emergency-locations/{id}", patch(update_location).delete(delete_location))
        .route("/sandbox/account", patch(update_account))
        .route("/sandbox/business-address", patch(update_business_address))
}

fn bad(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message.into() }))).into_response()
}

fn missing(message: impl Into<String>) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": message.into() }))).into_response()
}

/// The request body as a JSON object.
fn object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad("the body must be a JSON object")),
        Err(e) => Err(bad(format!("the body is not valid JSON: {e}"))),
    }
}

/// RFC 7396 JSON merge patch: objects merge recursively, `null` removes, anything else
/// replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Applies `patch` to `current`, checking each field on its own first so a 400 names the
/// field at fault; `fixed` fields may not be set.
fn apply<T: Serialize + DeserializeOwned>(
    current: &T,
    patch: &Map<String, Value>,
    fixed: &[&str],
) -> Result<T, Response> {
    for (k, v) in patch {
        if fixed.contains(&k.as_str()) {
            return Err(bad(format!("field `{k}` cannot be set")));
        }
        if !v.is_null() {
            let mut one = Map::new();
            one.insert(k.clone(), v.clone());
            if let Err(e) = serde_json::from_value::<T>(Value::Object(one)) {
                return Err(bad(format!("field `{k}`: {e}")));
            }
        }
    }
    let mut merged = serde_json::to_value(current).map_err(|e| bad(e.to_string()))?;
    merge(&mut merged, &Value::Object(patch.clone()));
    serde_json::from_value(merged).map_err(|e| bad(e.to_string()))
}

/// Fires what RingCentral fires on an account-level change: the admin extension's
/// extension-info event with the `AccountSettings` hint.
fn account_changed(state: &Arc<RcState>, account: u64, admin: u64) {
    let path = format!("/restapi/v1.0/account/{account}/extension/{admin}");
    let body = json!({ "extensionId": admin.to_string(), "eventType": "Update", "hints": ["AccountSettings"] });
    subscriptions::notify(state, &path, body);
}

fn parse_id(raw: &str, what: &str) -> Result<u64, Response> {
    raw.parse::<u64>().map_err(|_| missing(format!("no {what} with id {raw}")))
}

async fn create_contact(State(state): State<Arc<RcState>>, Path(ext): Path<String>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let fields = match apply(&ContactFields::default(), &body, &["id", "uri", "availability"]) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(ext_id) = parse_id(&ext, "extension") else { return missing(format!("no extension with id {ext}")) };
    let (account, id) = (dir.account_id, dir.next_contact_id);
    let Some(book) = dir.book_mut(ext_id) else { return missing(format!("no extension with id {ext}")) };
    if book.alive >= MAX_CONTACTS_PER_EXTENSION {
        return bad(format!("the address book of extension {ext_id} is full ({MAX_CONTACTS_PER_EXTENSION} contacts)"));
    }
    let record = contact_json(account, ext_id, book.insert(id, fields, now()), &state.base_url);
    dir.next_contact_id += 1;
    (StatusCode::CREATED, Json(record)).into_response()
}

async fn update_contact(
    State(state): State<Arc<RcState>>,
    Path((ext, contact)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let (ext_id, contact_id) = match (parse_id(&ext, "extension"), parse_id(&contact, "contact")) {
        (Ok(e), Ok(c)) => (e, c),
        (Err(resp), _) | (_, Err(resp)) => return resp,
    };
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let account = dir.account_id;
    let Some(book) = dir.book_mut(ext_id) else { return missing(format!("no extension with id {ext}")) };
    let Some(current) = book.get_alive(contact_id) else {
        return missing(format!("no contact {contact} in the address book of extension {ext}"));
    };
    let fields = match apply(&current.fields, &body, &["id", "uri", "availability"]) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    match book.update(contact_id, fields, now()) {
        Some(c) => Json(contact_json(account, ext_id, c, &state.base_url)).into_response(),
        None => missing(format!("no contact {contact} in the address book of extension {ext}")),
    }
}

async fn delete_contact(State(state): State<Arc<RcState>>, Path((ext, contact)): Path<(String, String)>) -> Response {
    let (ext_id, contact_id) = match (parse_id(&ext, "extension"), parse_id(&contact, "contact")) {
        (Ok(e), Ok(c)) => (e, c),
        (Err(resp), _) | (_, Err(resp)) => return resp,
    };
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let account = dir.account_id;
    let Some(book) = dir.book_mut(ext_id) else { return missing(format!("no extension with id {ext}")) };
    match book.delete(contact_id, now()) {
        Some(c) => Json(contact_json(account, ext_id, c, &state.base_url)).into_response(),
        None => missing(format!("no contact {contact} in the address book of extension {ext}")),
    }
}

/// Makes every sync token of the book invalid, as when RingCentral resets a sync.
async fn reset_sync(State(state): State<Arc<RcState>>, Path(ext): Path<String>) -> Response {
    let Ok(ext_id) = parse_id(&ext, "extension") else { return missing(format!("no extension with id {ext}")) };
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let Some(book) = dir.book_mut(ext_id) else { return missing(format!("no extension with id {ext}")) };
    book.resets += 1;
    book.cursors.clear();
    Json(json!({ "extensionId": ext_id.to_string(), "resets": book.resets })).into_response()
}

fn check_site(dir: &super::directory::Directory, site: &Site) -> Result<(), Response> {
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

async fn create_site(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
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

async fn update_site(State(state): State<Arc<RcState>>, Path(id): Path<String>, body: Bytes) -> Response {
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

async fn delete_site(State(state): State<Arc<RcState>>, Path(id): Path<String>) -> Response {
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
fn location_patch(
    dir: &super::directory::Directory,
    mut body: Map<String, Value>,
) -> Result<Map<String, Value>, Response> {
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

fn check_location(dir: &super::directory::Directory, l: &EmergencyLocation) -> Result<(), Response> {
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

async fn create_location(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
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

async fn update_location(State(state): State<Arc<RcState>>, Path(id): Path<String>, body: Bytes) -> Response {
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

async fn delete_location(State(state): State<Arc<RcState>>, Path(id): Path<String>) -> Response {
    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = dir.locations.iter().position(|l| l.id == id) else {
        return missing(format!("no emergency location with id {id}"));
    };
    let record = location_json(&dir, &dir.locations[i], &state.base_url);
    dir.locations.remove(i);
    Json(record).into_response()
}

/// Account info fields `PATCH /sandbox/account` may change.
const ACCOUNT_FIELDS: &[&str] = &[
    "bsid",
    "mainNumber",
    "operator",
    "partnerId",
    "serviceInfo",
    "setupWizardState",
    "signupInfo",
    "status",
    "statusInfo",
    "regionalSettings",
    "federated",
    "outboundCallPrefix",
    "cfid",
    "limits",
];
const ACCOUNT_STATUSES: &[&str] = &["Initial", "Unconfirmed", "Confirmed", "Disabled"];
const WIZARD_STATES: &[&str] = &["NotStarted", "Incomplete", "Completed", "Unknown"];

fn check_account_patch(dir: &super::directory::Directory, body: &Map<String, Value>) -> Result<(), Response> {
    for (k, v) in body {
        if !ACCOUNT_FIELDS.contains(&k.as_str()) {
            return Err(bad(format!("field `{k}` is not a changeable account field ({ACCOUNT_FIELDS:?})")));
        }
        let ok = match k.as_str() {
            "status" => v.as_str().is_some_and(|s| ACCOUNT_STATUSES.contains(&s)),
            "setupWizardState" => v.as_str().is_some_and(|s| WIZARD_STATES.contains(&s)),
            "mainNumber" => {
                v.as_str().is_some_and(|s| s.starts_with('+') && s[1..].chars().all(|c| c.is_ascii_digit()))
            }
            "federated" => v.is_boolean(),
            "operator" => v.get("id").is_none_or(|id| {
                id.as_u64().or_else(|| id.as_str().and_then(|s| s.parse().ok())).is_some_and(|id| dir.has_extension(id))
            }),
            _ => v.is_object() || v.is_string() || v.is_null(),
        };
        if !ok {
            return Err(bad(format!("field `{k}` has an invalid value: {v}")));
        }
    }
    Ok(())
}

async fn update_account(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let (record, account, admin) = {
        let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(resp) = check_account_patch(&dir, &body) {
            return resp;
        }
        let mut merged = Value::Object(dir.account.clone());
        merge(&mut merged, &Value::Object(body));
        if let Value::Object(m) = merged {
            dir.account = m;
        }
        (account_json(&dir, &state.base_url), dir.account_id, dir.admin_extension_id)
    };
    account_changed(&state, account, admin);
    Json(record).into_response()
}

async fn update_business_address(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let (record, account, admin) = {
        let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
        dir.business = match apply(&dir.business, &body, &["uri"]) {
            Ok(b) => b,
            Err(resp) => return resp,
        };
        (business_address_json(&dir, &state.base_url), dir.account_id, dir.admin_extension_id)
    };
    account_changed(&state, account, admin);
    Json(record).into_response()
}
