//! What the call-log sync and the message sync share (ringcentral.md §2.7, §2.8):
//! `syncType=FSync` (the default) answers the newest `recordCount` (≤ 250) records since
//! `dateFrom` (30 days back by default, and at most that far), `ISync` the records made after
//! `syncToken`, oldest first, at most `recordCount`. A token names its feed, its scope and how
//! many records of the stand-in's log it covers, so a token of another scope, or one that does
//! not parse, is refused with the feed's "full sync required" code (`CLG-101`, `MSG-333`),
//! after which a client runs FSync again.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::super::directory::rc_time;
use super::super::errors;
use super::parse_time;

/// A checked sync request.
enum SyncRequest {
    Full {
        from: OffsetDateTime,
        count: usize,
    },
    /// Records from index `start` of the log on.
    Incremental {
        start: usize,
        count: usize,
    },
}

/// One feed's token form: `{prefix}.{scope}.{covered}`, and the code a bad one gets.
pub(super) struct Feed<'a> {
    pub prefix: &'static str,
    pub scope: &'a str,
    pub reset_code: &'static str,
    pub reset_message: &'static str,
}

impl Feed<'_> {
    /// Reads `syncType`, `recordCount`, `dateFrom` and `syncToken`; `len` is how many records
    /// the stand-in's log holds.
    fn request(&self, pairs: &[(String, String)], len: usize) -> Result<SyncRequest, Response> {
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let full = match get("syncType") {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("FSync") => true,
            Some(v) if v.eq_ignore_ascii_case("ISync") => false,
            Some(v) => return Err(errors::invalid_param("syncType", v)),
        };
        let count = match get("recordCount") {
            None => 250,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=250).contains(&n) => n,
                _ => return Err(errors::invalid_param("recordCount", v)),
            },
        };
        if full {
            let oldest = OffsetDateTime::now_utc() - time::Duration::days(30);
            let from = match get("dateFrom") {
                None => oldest,
                Some(v) => parse_time(v).ok_or_else(|| errors::invalid_param("dateFrom", v))?.max(oldest),
            };
            return Ok(SyncRequest::Full { from, count });
        }
        let Some(token) = get("syncToken") else {
            return Err(errors::param_error(
                StatusCode::BAD_REQUEST,
                "CMN-101",
                "Parameter [syncToken] is required for ISync",
                "syncToken",
                None,
            ));
        };
        let start = token
            .strip_prefix(self.prefix)
            .and_then(|t| t.strip_prefix('.'))
            .and_then(|t| t.split_once('.'))
            .filter(|(s, _)| *s == self.scope)
            .and_then(|(_, n)| n.parse::<usize>().ok())
            .filter(|n| *n <= len);
        match start {
            Some(start) => Ok(SyncRequest::Incremental { start, count }),
            None => Err(errors::param_error(
                StatusCode::BAD_REQUEST,
                self.reset_code,
                self.reset_message,
                "syncToken",
                Some(token),
            )),
        }
    }

    /// The whole sync over `log` (oldest first): the request read from `pairs`, then FSync's
    /// newest `recordCount` records `in_scope` made since `dateFrom` (by `made`), or ISync's
    /// records after the token, each `render`ed, answered at `uri` with the next token.
    pub fn read<T>(
        &self,
        pairs: &[(String, String)],
        log: &[T],
        made: impl Fn(&T) -> OffsetDateTime,
        in_scope: impl Fn(&T) -> bool,
        render: impl Fn(&T) -> Value,
        uri: String,
    ) -> Response {
        match self.request(pairs, log.len()) {
            Err(resp) => resp,
            Ok(SyncRequest::Full { from, count }) => {
                // Newest first; among equal times, the later-made one first.
                let mut newest_first: Vec<&T> = log.iter().rev().filter(|r| in_scope(r)).collect();
                newest_first.sort_by_key(|r| std::cmp::Reverse(made(r)));
                let records = newest_first.into_iter().filter(|r| made(r) >= from).take(count).map(render).collect();
                self.answer(uri, records, true, log.len())
            }
            Ok(SyncRequest::Incremental { start, count }) => {
                let (records, covered) = after(log, start, count, in_scope, render);
                self.answer(uri, records, false, covered)
            }
        }
    }

    /// The answer: `records`, and a token covering the log's first `covered` records.
    fn answer(&self, uri: String, records: Vec<Value>, full: bool, covered: usize) -> Response {
        Json(json!({
            "uri": uri,
            "records": records,
            "syncInfo": {
                "syncType": if full { "FSync" } else { "ISync" },
                "syncToken": format!("{}.{}.{covered}", self.prefix, self.scope),
                "syncTime": rc_time(OffsetDateTime::now_utc()),
            },
        }))
        .into_response()
    }
}

/// The ISync part: from index `start` of `log` on, the records `in_scope`, at most `count`;
/// returns them and how many records of the log the next token covers.
fn after<T>(
    log: &[T],
    start: usize,
    count: usize,
    in_scope: impl Fn(&T) -> bool,
    render: impl Fn(&T) -> Value,
) -> (Vec<Value>, usize) {
    let mut records = Vec::new();
    for (i, item) in log.iter().enumerate().skip(start) {
        if !in_scope(item) {
            continue;
        }
        if records.len() == count {
            return (records, i);
        }
        records.push(render(item));
    }
    (records, log.len())
}
