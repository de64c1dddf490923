//! Event filters of the Subscription API: which filters exist, how `~` becomes the caller's
//! real ids, and which filter an event path matches (ringcentral.md §3.5, §3.7).
//!
//! A filter is kept exactly as normalised (query string included, since the envelope's `event`
//! echoes it); events are matched on the path alone, so `.../message-store?type=SMS` still
//! receives every message-store event of that mailbox (the sandbox does not filter by query).

use axum::http::StatusCode;
use axum::response::Response;

use super::errors;

const PREFIX: &str = "/restapi/v1.0/";

/// Who the filters are normalised for.
pub struct Owner {
    pub account_id: u64,
    pub extension_id: u64,
    pub subscription_id: String,
}

/// A renewal-reminder filter's parameters, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reminder {
    pub threshold: u64,
    pub interval: u64,
}

/// The path of a filter or event (everything before `?`).
pub fn path_of(filter: &str) -> &str {
    filter.split_once('?').map(|(p, _)| p).unwrap_or(filter)
}

/// True when an event fired on `event` reaches a subscription holding `filter`.
pub fn matches(filter: &str, event: &str) -> bool {
    path_of(filter) == path_of(event)
}

/// The renewal-reminder parameters of `filter`, if it is a reminder filter.
pub fn reminder(filter: &str) -> Option<Reminder> {
    let (path, query) = filter.split_once('?')?;
    if !path.starts_with("/restapi/v1.0/subscription/") {
        return None;
    }
    let mut threshold = None;
    let mut interval = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "threshold" => threshold = v.parse::<u64>().ok(),
            "interval" => interval = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    Some(Reminder { threshold: threshold?, interval: interval? })
}

fn invalid_filter(filter: &str) -> Response {
    errors::param_error(StatusCode::BAD_REQUEST, "SUB-508", "Invalid event filters", "eventFilters", Some(filter))
}

fn invalid_reminder(filter: &str) -> Response {
    errors::param_error(StatusCode::BAD_REQUEST, "SUB-516", "Invalid reminder parameters", "eventFilters", Some(filter))
}

/// Normalises one filter for `owner`: `~` becomes the real account, extension or subscription
/// id. `has_extension` says whether a numeric extension id exists. `expires_in` is the
/// subscription's TTL, against which reminder parameters are checked.
pub fn normalise(
    filter: &str,
    owner: &Owner,
    has_extension: &dyn Fn(u64) -> bool,
    expires_in: u64,
) -> Result<String, Response> {
    let trimmed = filter.trim();
    let (path, query) = match trimmed.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (trimmed, None),
    };
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Err(invalid_filter(filter));
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let mut out: Vec<String> = Vec::with_capacity(segments.len());
    match segments.as_slice() {
        ["subscription", id] => {
            if *id != "~" && *id != owner.subscription_id {
                return Err(invalid_filter(filter));
            }
            let normalised = format!("{PREFIX}subscription/{}?{}", owner.subscription_id, query.unwrap_or(""));
            let Some(r) = reminder(&normalised) else {
                return Err(invalid_reminder(filter));
            };
            // §3.5: threshold at most half the TTL, interval at most half the threshold.
            if r.threshold == 0 || r.interval == 0 || r.threshold > expires_in / 2 || r.interval > r.threshold / 2 {
                return Err(invalid_reminder(filter));
            }
            return Ok(normalised);
        }
        ["account", acc, tail @ ..] => {
            let account = match *acc {
                "~" => owner.account_id,
                raw => match raw.parse::<u64>() {
                    Ok(id) if id == owner.account_id => id,
                    Ok(_) => {
                        return Err(errors::param_error(
                            StatusCode::FORBIDDEN,
                            "SUB-406",
                            "Subscription to events of another account is not allowed",
                            "eventFilters",
                            Some(filter),
                        ))
                    }
                    Err(_) => return Err(invalid_filter(filter)),
                },
            };
            out.push(format!("account/{account}"));
            let ext_tail: &[&str] = match tail {
                ["extension"] | ["directory", "entries"] | ["telephony", "sessions"] | ["presence"] => {
                    out.push(tail.join("/"));
                    &[]
                }
                ["extension", ext, more @ ..] => {
                    let extension = match *ext {
                        "~" => owner.extension_id,
                        raw => match raw.parse::<u64>() {
                            Ok(id) if has_extension(id) => id,
                            _ => return Err(invalid_filter(filter)),
                        },
                    };
                    out.push(format!("extension/{extension}"));
                    more
                }
                _ => return Err(invalid_filter(filter)),
            };
            match ext_tail {
                [] => {}
                ["message-store"]
                | ["message-store", "instant"]
                | ["fax"]
                | ["voicemail"]
                | ["presence"]
                | ["telephony", "sessions"] => out.push(ext_tail.join("/")),
                _ => return Err(invalid_filter(filter)),
            }
        }
        _ => return Err(invalid_filter(filter)),
    }
    let mut normalised = format!("{PREFIX}{}", out.join("/"));
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        normalised.push('?');
        normalised.push_str(q);
    }
    Ok(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner { account_id: 4001, extension_id: 4101, subscription_id: "s-1".into() }
    }

    fn norm(f: &str) -> Result<String, u16> {
        normalise(f, &owner(), &|id| id == 4101 || id == 4102, 604_800).map_err(|r| r.status().as_u16())
    }

    #[test]
    fn tildes_become_real_ids_and_queries_stay() {
        assert_eq!(
            norm("/restapi/v1.0/account/~/extension/~/voicemail").unwrap(),
            "/restapi/v1.0/account/4001/extension/4101/voicemail"
        );
        assert_eq!(norm("/restapi/v1.0/account/~/extension").unwrap(), "/restapi/v1.0/account/4001/extension");
        assert_eq!(
            norm("/restapi/v1.0/account/~/extension/4102/message-store?type=SMS").unwrap(),
            "/restapi/v1.0/account/4001/extension/4102/message-store?type=SMS"
        );
        assert_eq!(
            norm("/restapi/v1.0/subscription/~?threshold=86400&interval=3600").unwrap(),
            "/restapi/v1.0/subscription/s-1?threshold=86400&interval=3600"
        );
    }

    #[test]
    fn unknown_filters_and_bad_reminders_are_rejected() {
        assert_eq!(norm("/restapi/v1.0/account/~/nonsense"), Err(400));
        assert_eq!(norm("/account/~/extension"), Err(400));
        assert_eq!(norm("/restapi/v1.0/account/~/extension/999/voicemail"), Err(400));
        assert_eq!(norm("/restapi/v1.0/account/999/extension"), Err(403));
        assert_eq!(norm("/restapi/v1.0/subscription/~?threshold=500000&interval=3600"), Err(400));
        assert_eq!(norm("/restapi/v1.0/subscription/~?threshold=86400&interval=50000"), Err(400));
        assert_eq!(norm("/restapi/v1.0/subscription/~"), Err(400));
    }

    #[test]
    fn events_match_on_the_path() {
        assert!(matches(
            "/restapi/v1.0/account/1/extension/2/message-store?type=SMS",
            "/restapi/v1.0/account/1/extension/2/message-store"
        ));
        assert!(!matches("/restapi/v1.0/account/1/extension", "/restapi/v1.0/account/1/extension/2"));
    }
}
