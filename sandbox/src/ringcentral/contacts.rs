//! Personal contacts: `GET .../extension/{extensionId}/address-book/contact` (Heavy;
//! `startsWith`, `sortBy`, `phoneNumber`, `perPage` ≤ 1000) and one contact (Heavy).
//! The account's admin may read any extension's address book; others only their own.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::directory::{Contact, ContactFields, Directory};
use super::guard::{self, Caller};
use super::paging::page_of;
use super::query::Query;
use super::rate_limit::Group;
use super::{errors, RcState};

const SORT_KEYS: &[&str] = &["FirstName", "LastName", "Company"];

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    let base = "/restapi/v1.0/account/{accountId}/extension/{extensionId}/address-book/contact";
    Router::new()
        .route(base, guard::api(state, Group::Heavy, get(list)))
        .route(&format!("{base}/{{contactId}}"), guard::api(state, Group::Heavy, get(one)))
}

/// A personal contact as RingCentral renders it (`PersonalContactResource`).
pub fn contact_json(account_id: u64, extension_id: u64, c: &Contact, base_url: &str) -> Value {
    let mut body = serde_json::to_value(&c.fields).unwrap_or_else(|_| json!({}));
    body["uri"] = json!(format!(
        "{base_url}/restapi/v1.0/account/{account_id}/extension/{extension_id}/address-book/contact/{}",
        c.id
    ));
    body["id"] = json!(c.id);
    body["availability"] = json!(if c.deleted { "Deleted" } else { "Alive" });
    body
}

/// Resolves `{accountId}`/`{extensionId}` of an address-book route to an existing
/// extension whose book the caller may read.
pub fn resolve_book_owner(dir: &Directory, caller: &Caller, account: &str, extension: &str) -> Result<u64, Response> {
    caller.account(account)?;
    let id = caller.extension(extension)?;
    if !dir.has_extension(id) {
        return Err(errors::not_found("extensionId", extension));
    }
    let caller_is_admin = dir.extension(caller.extension_id).is_some_and(|e| e.is_admin);
    if id != caller.extension_id && !caller_is_admin {
        return Err(errors::api_error(StatusCode::FORBIDDEN, "CMN-404", "Attempt to access another extension"));
    }
    Ok(id)
}

/// Digits of a phone number, with a leading US `1` added to 10-digit numbers, so
/// `(650) 555-0123` and `+16505550123` compare equal.
fn phone_digits(p: &str) -> String {
    let d: String = p.chars().filter(char::is_ascii_digit).collect();
    if d.len() == 10 {
        format!("1{d}")
    } else {
        d
    }
}

fn phones(f: &ContactFields) -> impl Iterator<Item = &String> {
    [
        &f.home_phone,
        &f.home_phone2,
        &f.business_phone,
        &f.business_phone2,
        &f.mobile_phone,
        &f.business_fax,
        &f.company_phone,
        &f.assistant_phone,
        &f.car_phone,
        &f.other_phone,
        &f.other_fax,
        &f.callback_phone,
    ]
    .into_iter()
    .flatten()
}

fn sort_value(f: &ContactFields, key: &str) -> String {
    let v = match key {
        "FirstName" => &f.first_name,
        "LastName" => &f.last_name,
        _ => &f.company,
    };
    v.as_deref().unwrap_or("").to_lowercase()
}

async fn list(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, extension_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let page = match q.page().resolve(100, 1000) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let sort_by = match q.all_of("sortBy", SORT_KEYS) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let mut wanted_phones = Vec::new();
    for p in q.all("phoneNumber") {
        let d = phone_digits(p);
        if d.len() < 7 {
            return errors::invalid_param("phoneNumber", p);
        }
        wanted_phones.push(d);
    }
    let starts_with = q.one("startsWith").map(str::to_lowercase);
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let ext = match resolve_book_owner(&dir, &caller, &account_id, &extension_id) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let mut matching: Vec<&Contact> = dir
        .books
        .get(&ext)
        .map(|b| {
            b.alive()
                .filter(|c| {
                    starts_with.as_ref().is_none_or(|s| {
                        [&c.fields.first_name, &c.fields.last_name]
                            .iter()
                            .any(|n| n.as_ref().is_some_and(|n| n.to_lowercase().starts_with(s.as_str())))
                    })
                })
                .filter(|c| {
                    wanted_phones.is_empty() || phones(&c.fields).any(|p| wanted_phones.contains(&phone_digits(p)))
                })
                .collect()
        })
        .unwrap_or_default();
    if !sort_by.is_empty() {
        matching.sort_by_cached_key(|c| sort_by.iter().map(|k| sort_value(&c.fields, k)).collect::<Vec<_>>());
    }
    // Only the requested page is rendered; the other slots stay `Null` (no allocation),
    // so a 10,000-contact book costs one page of JSON, not ten thousand records.
    let start = (page.page - 1).saturating_mul(page.per_page);
    let records: Vec<Value> = matching
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i >= start && i < start.saturating_add(page.per_page) {
                contact_json(dir.account_id, ext, c, &state.base_url)
            } else {
                Value::Null
            }
        })
        .collect();
    let path = format!("/restapi/v1.0/account/{}/extension/{ext}/address-book/contact", dir.account_id);
    let mut body = page_of(&state.base_url, &path, &q.filters(), &records, page);
    body["groups"] = json!({ "uri": format!("{}/restapi/v1.0/account/{}/extension/{ext}/address-book/group", state.base_url, dir.account_id) });
    Json(body).into_response()
}

async fn one(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, extension_id, contact_id)): Path<(String, String, String)>,
) -> Response {
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let ext = match resolve_book_owner(&dir, &caller, &account_id, &extension_id) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let contact = contact_id.parse::<u64>().ok().and_then(|id| dir.books.get(&ext)?.get_alive(id));
    match contact {
        Some(c) => Json(contact_json(dir.account_id, ext, c, &state.base_url)).into_response(),
        None => errors::not_found("contactId", &contact_id),
    }
}
