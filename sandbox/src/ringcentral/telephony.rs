//! Telephony: the message store (voicemail, ringcentral.md §2.8), the call log (§2.7) and the
//! `/sandbox/` control routes that make things happen on the phone system:
//!
//! - `POST /sandbox/voicemail` `{extensionId?, from{phoneNumber?, name?}, durationSecs?, creationTime?}`
//!   → the new VoiceMail message; also adds its call-log record (result `Voicemail`) and fires
//!   the voicemail and message-store events.
//! - `POST /sandbox/calls/end` `{extensionId?, from{..}, to{..}, direction?, durationSecs?, result?,
//!   startTime?}` → the new call-log record; fires the telephony-sessions events (account and
//!   extension level) with the party `Disconnected`; `deliver: false` fires none (a lost event).
//! - `POST /sandbox/messages` `{extensionId?, type: "SMS"|"Fax", from{..}, to{..}?, text?, pages?,
//!   creationTime?, deliver?}` → the new inbound SMS or fax in the message store; fires the
//!   instant-SMS (`.../message-store/instant`) or inbound-fax (`.../fax`) event with the
//!   message as body, and the message-store event.
//!
//! `extensionId` omitted = the admin extension. Times (`creationTime`, `startTime`, ISO 8601)
//! let tests backdate records past the 24 h default window.

mod call_log;
mod control;
mod message_store;
mod sync;

use std::sync::Arc;

use axum::response::Response;
use axum::Router;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::errors;
use super::paging::PageQuery;
use super::RcState;

/// A message of the message store.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    pub extension_id: u64,
    pub created: OffsetDateTime,
    pub message_type: String,
    pub direction: String,
    pub availability: String,
    pub read_status: String,
    /// The record as `GET .../message-store/{id}` returns it.
    pub record: Value,
}

/// A call-log record.
#[derive(Debug, Clone)]
pub struct Call {
    pub id: String,
    pub extension_id: u64,
    pub start: OffsetDateTime,
    pub direction: String,
    pub call_type: String,
    /// The `Simple` view without `uri` (which depends on the list it is read through).
    pub record: Value,
}

/// Messages and calls, oldest first, and the counters that name new ones.
#[derive(Debug, Default)]
pub struct Telephony {
    pub messages: Vec<Message>,
    pub calls: Vec<Call>,
    next_id: u64,
}

impl Telephony {
    /// A fresh number for message, conversation and session ids.
    fn next(&mut self) -> u64 {
        self.next_id += 1;
        90_000_000_000 + self.next_id
    }
}

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    Router::new().merge(message_store::routes(state)).merge(call_log::routes(state)).merge(control::routes())
}

/// The request's query as ordered pairs (keys may repeat).
fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect()
}

/// `page`/`perPage` from the pairs, and the other pairs (kept in navigation URIs).
fn split_paging(pairs: &[(String, String)]) -> (PageQuery, Vec<(String, String)>) {
    let mut q = PageQuery::default();
    let mut rest = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "page" => q.page = Some(v.clone()),
            "perPage" => q.per_page = Some(v.clone()),
            _ => rest.push((k.clone(), v.clone())),
        }
    }
    (q, rest)
}

/// The values of a multi-valued parameter (repeated or comma-separated), each checked
/// against `allowed` (case-insensitively) and returned in the documented casing.
fn multi(pairs: &[(String, String)], name: &str, allowed: &[&str]) -> Result<Vec<String>, Response> {
    let mut out = Vec::new();
    for (_, v) in pairs.iter().filter(|(k, _)| k == name) {
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match allowed.iter().find(|a| a.eq_ignore_ascii_case(item)) {
                Some(a) => out.push(a.to_string()),
                None => return Err(errors::invalid_param(name, item)),
            }
        }
    }
    Ok(out)
}

/// Parses an ISO 8601 time: full RFC 3339, or a bare date (midnight UTC).
pub fn parse_time(raw: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(t);
    }
    let date = time::Date::parse(raw, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc())
}

/// `dateFrom`/`dateTo`: `dateTo` defaults to now and `dateFrom` to 24 h before `dateTo`
/// (§2.7, §2.8, gotcha 8).
fn date_range(pairs: &[(String, String)]) -> Result<(OffsetDateTime, OffsetDateTime), Response> {
    let get = |name: &str| -> Result<Option<OffsetDateTime>, Response> {
        match pairs.iter().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) => parse_time(v).map(Some).ok_or_else(|| errors::invalid_param(name, v)),
        }
    };
    let to = get("dateTo")?.unwrap_or_else(OffsetDateTime::now_utc);
    let from = get("dateFrom")?.unwrap_or(to - time::Duration::hours(24));
    Ok((from, to))
}
