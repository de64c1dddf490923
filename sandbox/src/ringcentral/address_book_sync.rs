//! `GET .../extension/{extensionId}/address-book-sync` (Heavy): FSync pages through the
//! alive contacts; ISync returns exactly the contacts changed since the `syncToken`
//! (deleted ones with `availability: "Deleted"`), each once, in change order.
//!
//! A sync token names (sandbox run, reset count, extension, change sequence); a token from
//! another run, extension or before a reset is a 400 CMN-101 on `syncToken`, which tells
//! the client to start over with FSync.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::contacts::{contact_json, resolve_book_owner};
use super::directory::{now, AddressBook, Contact, SyncCursor};
use super::guard::{self, Caller};
use super::query::Query;
use super::rate_limit::Group;
use super::{errors, RcState};

pub const MAX_PER_PAGE: usize = 250;

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    Router::new().route(
        "/restapi/v1.0/account/{accountId}/extension/{extensionId}/address-book-sync",
        guard::api(state, Group::Heavy, get(sync)),
    )
}

fn encode_token(epoch: u32, resets: u32, ext: u64, seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("ab.{epoch}.{resets}.{ext}.{seq}"))
}

/// The change sequence a token stands for, if it is one of this book's live tokens.
fn decode_token(token: &str, epoch: u32, book: &AddressBook, ext: u64) -> Option<u64> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token.trim()).ok()?).ok()?;
    let parts: Vec<&str> = raw.split('.').collect();
    let [tag, e, r, x, seq] = parts.as_slice() else { return None };
    let seq = seq.parse::<u64>().ok()?;
    let valid = *tag == "ab"
        && e.parse::<u32>().ok()? == epoch
        && r.parse::<u32>().ok()? == book.resets
        && x.parse::<u64>().ok()? == ext
        && seq <= book.seq;
    valid.then_some(seq)
}

async fn sync(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path((account_id, extension_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let per_page = match q.one("perPage") {
        None => MAX_PER_PAGE,
        Some(p) => match p.parse::<usize>() {
            Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => n,
            _ => return errors::invalid_param("perPage", p),
        },
    };
    let token = q.one("syncToken");
    let full = match q.one("syncType") {
        Some("FSync") => true,
        Some("ISync") => false,
        Some(other) => return errors::invalid_param("syncType", other),
        None => token.is_none(),
    };
    let page_id = match q.one("pageId").map(|p| (p, p.parse::<u64>())) {
        None => None,
        Some((_, Ok(id))) => Some(id),
        Some((p, Err(_))) => return errors::invalid_param("pageId", p),
    };

    let mut dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let ext = match resolve_book_owner(&dir, &caller, &account_id, &extension_id) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let (account, epoch) = (dir.account_id, dir.sync_epoch);
    let Some(book) = dir.book_mut(ext) else {
        return errors::not_found("extensionId", &extension_id);
    };

    // Where this page starts: a cursor from `pageId`, else the start of an FSync, else the
    // token's sequence.
    let cursor = match page_id {
        Some(id) => match book.cursors.remove(&id) {
            Some(c) => c,
            None => return errors::invalid_param("pageId", &id.to_string()),
        },
        None if full => SyncCursor { full: true, after: 0, token_seq: book.seq },
        None => {
            let Some(token) = token else {
                return errors::invalid_param("syncToken", "");
            };
            match decode_token(token, epoch, book, ext) {
                Some(seq) => SyncCursor { full: false, after: seq, token_seq: seq },
                None => return errors::invalid_param("syncToken", token),
            }
        }
    };

    let (page, more): (Vec<&Contact>, bool) = if cursor.full {
        let mut it = book.alive().filter(|c| c.id > cursor.after);
        let page: Vec<&Contact> = it.by_ref().take(per_page).collect();
        (page, it.next().is_some())
    } else {
        // Each changed contact carries the sequence of its latest change, so "changed
        // since" is one filter, and a contact changed twice comes back once.
        let mut changed: Vec<&Contact> = book.contacts.values().filter(|c| c.seq > cursor.after).collect();
        changed.sort_by_key(|c| c.seq);
        let more = changed.len() > per_page;
        changed.truncate(per_page);
        (changed, more)
    };
    let records: Vec<Value> = page.iter().map(|c| contact_json(account, ext, c, &state.base_url)).collect();
    let last = page.last().map(|c| if cursor.full { c.id } else { c.seq });
    // FSync hands out the sequence it started at (changes during paging come in the next
    // ISync); ISync hands out the last change it returned.
    let token_seq = match (cursor.full, last) {
        (true, _) => cursor.token_seq,
        (false, Some(seq)) => seq,
        (false, None) => cursor.after,
    };
    let sync_token = encode_token(epoch, book.resets, ext, token_seq);
    let next = match (more, last) {
        (true, Some(after)) => Some(book.open_cursor(SyncCursor { full: cursor.full, after, token_seq })),
        _ => None,
    };
    let path = format!("{}/restapi/v1.0/account/{account}/extension/{ext}/address-book-sync", state.base_url);
    let sync_type = if cursor.full { "FSync" } else { "ISync" };
    let mut body = json!({
        "uri": format!("{path}?syncType={sync_type}&perPage={per_page}"),
        "records": records,
        "syncInfo": {
            "syncType": sync_type,
            "syncToken": sync_token,
            "syncTime": now(),
            "olderRecordsExist": false,
        },
    });
    if let Some(id) = next {
        body["nextPageId"] = json!(id);
        body["nextPageUri"] = json!(format!("{path}?syncType={sync_type}&pageId={id}&perPage={per_page}"));
    }
    Json(body).into_response()
}
