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
use super::directory::{now, ContactFields, MAX_CONTACTS_PER_EXTENSION};
use super::{subscriptions, RcState};
use places::{create_location, create_site, delete_location, delete_site, update_location, update_site};

mod places;

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
