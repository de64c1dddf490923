//! `GET .../extension/{extensionId}/message-store` and `.../message-store/{messageId}` (Light,
//! ringcentral.md §2.8): newest first, filtered by `messageType`, `availability`,
//! `readStatus`, `direction` and `dateFrom`/`dateTo` (24 h by default), paged. Also the
//! message sync, `GET .../extension/{extensionId}/message-sync` (Light): FSync, then ISync
//! from its `syncToken` (the call-log sync's rules, `MSG-333` for a token it cannot continue
//! from), filtered by `messageType`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::super::guard::{self, Caller};
use super::super::rate_limit::Group;
use super::super::{errors, paging, RcState};
use super::{date_range, multi, pairs, split_paging, sync};

const BASE: &str = "/restapi/v1.0/account/{accountId}/extension/{extensionId}/message-store";
const SYNC: &str = "/restapi/v1.0/account/{accountId}/extension/{extensionId}/message-sync";
const TYPES: &[&str] = &["Fax", "SMS", "VoiceMail", "Pager", "Text"];

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    Router::new()
        .route(BASE, guard::api(state, Group::Light, get(list)))
        .route(&format!("{BASE}/{{messageId}}"), guard::api(state, Group::Light, get(read)))
        .route(SYNC, guard::api(state, Group::Light, get(message_sync)))
}

async fn message_sync(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account, extension)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (account_id, extension_id) = match owner(&state, &caller, &account, &extension) {
        Ok(ids) => ids,
        Err(resp) => return resp,
    };
    let pairs = pairs(raw.as_deref());
    let types = match multi(&pairs, "messageType", TYPES) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let scope = extension_id.to_string();
    let feed =
        sync::Feed { prefix: "msg", scope: &scope, reset_code: "MSG-333", reset_message: "Full sync is required" };
    let tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
    let in_scope = |m: &super::Message| {
        m.extension_id == extension_id
            && m.availability != "Purged"
            && (types.is_empty() || types.contains(&m.message_type))
    };
    let uri = format!("{}/restapi/v1.0/account/{account_id}/extension/{extension_id}/message-sync", state.base_url);
    feed.read(&pairs, &tel.messages, |m| m.created, in_scope, |m| m.record.clone(), uri)
}

/// Resolves `{accountId}` and `{extensionId}` and checks that the extension exists.
pub(super) fn owner(state: &RcState, caller: &Caller, account: &str, extension: &str) -> Result<(u64, u64), Response> {
    let account_id = caller.account(account)?;
    let extension_id = caller.extension(extension)?;
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    if !dir.has_extension(extension_id) {
        return Err(errors::not_found("extensionId", extension));
    }
    Ok((account_id, extension_id))
}

async fn list(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account, extension)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (account_id, extension_id) = match owner(&state, &caller, &account, &extension) {
        Ok(ids) => ids,
        Err(resp) => return resp,
    };
    let pairs = pairs(raw.as_deref());
    let filters = (|| {
        let types = multi(&pairs, "messageType", TYPES)?;
        let availability = multi(&pairs, "availability", &["Alive", "Deleted", "Purged"])?;
        let read = multi(&pairs, "readStatus", &["Read", "Unread"])?;
        let direction = multi(&pairs, "direction", &["Inbound", "Outbound"])?;
        let (from, to) = date_range(&pairs)?;
        let (q, rest) = split_paging(&pairs);
        let page = q.resolve(100, 1000)?;
        Ok::<_, Response>((types, availability, read, direction, from, to, page, rest))
    })();
    let (types, availability, read, direction, from, to, page, rest) = match filters {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let records: Vec<serde_json::Value> = {
        let tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
        // Newest first; among equal times, the later-made one first.
        let mut newest_first: Vec<&super::Message> = tel.messages.iter().rev().collect();
        newest_first.sort_by_key(|m| std::cmp::Reverse(m.created));
        newest_first
            .into_iter()
            .filter(|m| m.extension_id == extension_id)
            .filter(|m| types.is_empty() || types.contains(&m.message_type))
            // RingCentral lists live and deleted messages unless asked; purged ones never.
            .filter(|m| {
                if availability.is_empty() {
                    m.availability != "Purged"
                } else {
                    availability.contains(&m.availability)
                }
            })
            .filter(|m| read.is_empty() || read.contains(&m.read_status))
            .filter(|m| direction.is_empty() || direction.contains(&m.direction))
            .filter(|m| m.created >= from && m.created <= to)
            .map(|m| m.record.clone())
            .collect()
    };
    let path = format!("/restapi/v1.0/account/{account_id}/extension/{extension_id}/message-store");
    Json(paging::page_of(&state.base_url, &path, &rest, &records, page)).into_response()
}

async fn read(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account, extension, message)): Path<(String, String, String)>,
) -> Response {
    let (_, extension_id) = match owner(&state, &caller, &account, &extension) {
        Ok(ids) => ids,
        Err(resp) => return resp,
    };
    let Ok(id) = message.parse::<u64>() else {
        return errors::not_found("messageId", &message);
    };
    let tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
    match tel.messages.iter().find(|m| m.id == id && m.extension_id == extension_id) {
        Some(m) => Json(m.record.clone()).into_response(),
        None => errors::not_found("messageId", &message),
    }
}
