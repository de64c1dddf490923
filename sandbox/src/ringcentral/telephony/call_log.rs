//! The call log (Heavy, ringcentral.md §2.7): `GET /account/{accountId}/extension/{extensionId}/call-log`,
//! the company-wide `GET /account/{accountId}/call-log`, and one record by id under either.
//! Newest first, filtered by `direction`, `type`, `sessionId`, `telephonySessionId`,
//! `dateFrom`/`dateTo` (24 h by default), in the `Simple` (default) or `Detailed` view, paged.
//! Also the call-log sync of either scope (`.../call-log-sync`, Heavy): FSync, then ISync
//! from the `syncToken` it answered (`sync`, with the message sync's rules).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::super::guard::{self, Caller};
use super::super::rate_limit::Group;
use super::super::{errors, paging, RcState};
use super::message_store::owner;
use super::sync;
use super::{date_range, multi, pairs, split_paging, Call};

const EXTENSION_LOG: &str = "/restapi/v1.0/account/{accountId}/extension/{extensionId}/call-log";
const ACCOUNT_LOG: &str = "/restapi/v1.0/account/{accountId}/call-log";

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    Router::new()
        .route(EXTENSION_LOG, guard::api(state, Group::Heavy, get(list_extension)))
        .route(&format!("{EXTENSION_LOG}/{{callRecordId}}"), guard::api(state, Group::Heavy, get(read_extension)))
        .route(ACCOUNT_LOG, guard::api(state, Group::Heavy, get(list_account)))
        .route(&format!("{ACCOUNT_LOG}/{{callRecordId}}"), guard::api(state, Group::Heavy, get(read_account)))
        .route(&format!("{EXTENSION_LOG}-sync"), guard::api(state, Group::Heavy, get(sync_extension)))
        .route(&format!("{ACCOUNT_LOG}-sync"), guard::api(state, Group::Heavy, get(sync_account)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Simple,
    Detailed,
}

/// One record as read through the list at `list_path`.
fn render(call: &Call, base_url: &str, list_path: &str, view: View) -> Value {
    let mut r = call.record.clone();
    r["uri"] = json!(format!("{base_url}{list_path}/{}", call.id));
    if view == View::Detailed {
        r["lastModifiedTime"] = r["startTime"].clone();
        r["billing"] = json!({ "costIncluded": 0.0, "costPurchased": 0.0 });
        let mut leg = call.record.clone();
        if let Some(obj) = leg.as_object_mut() {
            for key in ["id", "uri", "sessionId", "telephonySessionId", "partyId", "message"] {
                obj.remove(key);
            }
            obj.insert("legType".into(), json!("Accept"));
            obj.insert("master".into(), json!(true));
        }
        r["legs"] = json!([leg]);
    }
    r
}

/// Lists the calls of one extension (`Some`) or of the whole account (`None`).
fn list(state: &RcState, extension_id: Option<u64>, list_path: &str, raw: Option<&str>) -> Response {
    let pairs = pairs(raw);
    let parsed = (|| {
        let direction = multi(&pairs, "direction", &["Inbound", "Outbound"])?;
        let types = multi(&pairs, "type", &["Voice", "Fax"])?;
        let view = match pairs.iter().find(|(k, _)| k == "view").map(|(_, v)| v.as_str()) {
            None => View::Simple,
            Some(v) if v.eq_ignore_ascii_case("Simple") => View::Simple,
            Some(v) if v.eq_ignore_ascii_case("Detailed") => View::Detailed,
            Some(v) => return Err(errors::invalid_param("view", v)),
        };
        let (from, to) = date_range(&pairs)?;
        let (q, rest) = split_paging(&pairs);
        let page = q.resolve(100, 1000)?;
        let session = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let ids = (session("sessionId"), session("telephonySessionId"));
        Ok::<_, Response>((direction, types, view, from, to, page, rest, ids))
    })();
    let (direction, types, view, from, to, page, rest, (session_id, telephony_session_id)) = match parsed {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let records: Vec<Value> = {
        let tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
        // Newest first; among equal times, the later-made one first.
        let mut newest_first: Vec<&Call> = tel.calls.iter().rev().collect();
        newest_first.sort_by_key(|c| std::cmp::Reverse(c.start));
        newest_first
            .into_iter()
            .filter(|c| extension_id.is_none_or(|e| c.extension_id == e))
            .filter(|c| direction.is_empty() || direction.contains(&c.direction))
            .filter(|c| types.is_empty() || types.contains(&c.call_type))
            .filter(|c| c.start >= from && c.start <= to)
            .filter(|c| session_id.as_deref().is_none_or(|s| c.record["sessionId"].as_str() == Some(s)))
            .filter(|c| {
                telephony_session_id.as_deref().is_none_or(|s| c.record["telephonySessionId"].as_str() == Some(s))
            })
            .map(|c| render(c, &state.base_url, list_path, view))
            .collect()
    };
    Json(paging::page_of(&state.base_url, list_path, &rest, &records, page)).into_response()
}

fn read(state: &RcState, extension_id: Option<u64>, list_path: &str, id: &str) -> Response {
    let tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
    match tel.calls.iter().find(|c| c.id == id && extension_id.is_none_or(|e| c.extension_id == e)) {
        Some(c) => Json(render(c, &state.base_url, list_path, View::Simple)).into_response(),
        None => errors::not_found("callRecordId", id),
    }
}

async fn list_extension(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account, extension)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    match owner(&state, &caller, &account, &extension) {
        Ok((a, e)) => {
            list(&state, Some(e), &format!("/restapi/v1.0/account/{a}/extension/{e}/call-log"), raw.as_deref())
        }
        Err(resp) => resp,
    }
}

async fn read_extension(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account, extension, id)): Path<(String, String, String)>,
) -> Response {
    match owner(&state, &caller, &account, &extension) {
        Ok((a, e)) => read(&state, Some(e), &format!("/restapi/v1.0/account/{a}/extension/{e}/call-log"), &id),
        Err(resp) => resp,
    }
}

async fn list_account(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    match caller.account(&account) {
        Ok(a) => list(&state, None, &format!("/restapi/v1.0/account/{a}/call-log"), raw.as_deref()),
        Err(resp) => resp,
    }
}

async fn read_account(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account, id)): Path<(String, String)>,
) -> Response {
    match caller.account(&account) {
        Ok(a) => read(&state, None, &format!("/restapi/v1.0/account/{a}/call-log"), &id),
        Err(resp) => resp,
    }
}

/// `GET .../call-log-sync` (Heavy): FSync, then ISync from its token (see `sync`), with the
/// call log's `CLG-101` for a token it cannot continue from.
fn sync(state: &RcState, extension_id: Option<u64>, raw: Option<&str>) -> Response {
    let pairs = pairs(raw);
    let scope = extension_id.map_or_else(|| "a".to_string(), |e| e.to_string());
    let feed = sync::Feed {
        prefix: "clg",
        scope: &scope,
        reset_code: "CLG-101",
        reset_message: "Sync token is invalid: the call log was reset, run FSync",
    };
    let tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
    let in_scope = |c: &Call| extension_id.is_none_or(|e| c.extension_id == e);
    let list_path = match extension_id {
        Some(e) => format!("/restapi/v1.0/account/~/extension/{e}/call-log"),
        None => "/restapi/v1.0/account/~/call-log".to_string(),
    };
    let render_call = |c: &Call| render(c, &state.base_url, &list_path, View::Simple);
    let uri = format!("{}{list_path}-sync", state.base_url);
    feed.read(&pairs, &tel.calls, |c| c.start, in_scope, render_call, uri)
}

async fn sync_extension(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account, extension)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    match owner(&state, &caller, &account, &extension) {
        Ok((_, e)) => sync(&state, Some(e), raw.as_deref()),
        Err(resp) => resp,
    }
}

async fn sync_account(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    match caller.account(&account) {
        Ok(_) => sync(&state, None, raw.as_deref()),
        Err(resp) => resp,
    }
}
