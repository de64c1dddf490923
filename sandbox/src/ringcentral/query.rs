//! Query strings as RingCentral reads them: repeated keys for multi-valued filters
//! (`status=Enabled&status=Disabled`), enum values checked, `page`/`perPage` split off.

use axum::response::Response;

use super::errors::invalid_param;
use super::paging::PageQuery;

/// The decoded `key=value` pairs of a raw query string, in order.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect();
        Query(pairs)
    }

    /// The first value of `key`.
    pub fn one(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (repeated keys; commas are not split, as RingCentral repeats).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// Every value of `key`, each of which must be one of `allowed` (exact case); the
    /// first bad one is a 400 CMN-101 naming `key`.
    pub fn all_of(&self, key: &str, allowed: &[&str]) -> Result<Vec<String>, Response> {
        let values = self.all(key);
        match values.iter().find(|v| !allowed.contains(v)) {
            Some(bad) => Err(invalid_param(key, bad)),
            None => Ok(values.into_iter().map(str::to_string).collect()),
        }
    }

    /// `page` and `perPage`, for `PageQuery::resolve`.
    pub fn page(&self) -> PageQuery {
        PageQuery { page: self.one("page").map(str::to_string), per_page: self.one("perPage").map(str::to_string) }
    }

    /// The pairs other than `page`/`perPage`, kept in `navigation` URIs.
    pub fn filters(&self) -> Vec<(String, String)> {
        self.0.iter().filter(|(k, _)| k != "page" && k != "perPage").cloned().collect()
    }
}

/// The start of every account-level list handler: the resolved `{accountId}` (`~` or the
/// caller's), the query, and the page (`perPage` default 100, at most 1000).
pub fn account_list(
    caller: &super::guard::Caller,
    account_id: &str,
    raw: Option<&str>,
) -> Result<(u64, Query, super::paging::Page), axum::response::Response> {
    let acc = caller.account(account_id)?;
    let q = Query::parse(raw);
    let page = q.page().resolve(100, 1000)?;
    Ok((acc, q, page))
}
