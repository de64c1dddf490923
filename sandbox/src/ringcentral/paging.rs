//! RingCentral list paging: `page`/`perPage` in, `paging` and absolute `navigation` out.

use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::invalid_param;

/// `page` and `perPage` as sent (strings, so `perPage=max` and junk both reach validation).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct PageQuery {
    pub page: Option<String>,
    #[serde(rename = "perPage")]
    pub per_page: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: usize,
    pub per_page: usize,
}

impl PageQuery {
    /// Validates against the endpoint's default and maximum `perPage`; `perPage=max`
    /// (any case) means the maximum.
    pub fn resolve(&self, default_per_page: usize, max_per_page: usize) -> Result<Page, Response> {
        let page = match self.page.as_deref() {
            None => 1,
            Some(p) => match p.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(invalid_param("page", p)),
            },
        };
        let per_page = match self.per_page.as_deref() {
            None => default_per_page,
            Some(p) if p.eq_ignore_ascii_case("max") => max_per_page,
            Some(p) => match p.parse::<usize>() {
                Ok(n) if (1..=max_per_page).contains(&n) => n,
                _ => return Err(invalid_param("perPage", p)),
            },
        };
        Ok(Page { page, per_page })
    }
}

/// One page of `records` as RingCentral lists it: `uri`, `records`, `paging`, `navigation`.
///
/// `base_url` is the server's origin, `path` the request path and `extra_query` the
/// request's other query parameters (kept in every navigation URI).
pub fn page_of(base_url: &str, path: &str, extra_query: &[(String, String)], records: &[Value], page: Page) -> Value {
    let total = records.len();
    let total_pages = total.div_ceil(page.per_page);
    let start = (page.page - 1) * page.per_page;
    let slice: Vec<Value> = records.iter().skip(start).take(page.per_page).cloned().collect();
    let uri = |p: usize| {
        let mut q: Vec<(String, String)> = extra_query.to_vec();
        q.push(("page".into(), p.to_string()));
        q.push(("perPage".into(), page.per_page.to_string()));
        let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
        json!({ "uri": format!("{base_url}{path}?{qs}") })
    };
    let mut paging = json!({
        "page": page.page,
        "totalPages": total_pages,
        "perPage": page.per_page,
        "totalElements": total,
    });
    if !slice.is_empty() {
        paging["pageStart"] = json!(start);
        paging["pageEnd"] = json!(start + slice.len() - 1);
    }
    let mut navigation = serde_json::Map::new();
    navigation.insert("firstPage".into(), uri(1));
    navigation.insert("lastPage".into(), uri(total_pages.max(1)));
    if page.page < total_pages {
        navigation.insert("nextPage".into(), uri(page.page + 1));
    }
    if page.page > 1 {
        navigation.insert("previousPage".into(), uri(page.page - 1));
    }
    let mut self_q: Vec<(String, String)> = extra_query.to_vec();
    self_q.push(("page".into(), page.page.to_string()));
    self_q.push(("perPage".into(), page.per_page.to_string()));
    json!({
        "uri": format!("{base_url}{path}?{}", serde_urlencoded::to_string(&self_q).unwrap_or_default()),
        "records": slice,
        "paging": paging,
        "navigation": navigation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_navigation() {
        let recs: Vec<Value> = (0..5).map(|i| json!({ "id": i })).collect();
        let p = page_of("http://h", "/x", &[], &recs, Page { page: 2, per_page: 2 });
        assert_eq!(p["records"], json!([{ "id": 2 }, { "id": 3 }]));
        assert_eq!(p["paging"]["totalPages"], 3);
        assert_eq!(p["paging"]["pageStart"], 2);
        assert_eq!(p["navigation"]["nextPage"]["uri"], "http://h/x?page=3&perPage=2");
        assert_eq!(p["navigation"]["previousPage"]["uri"], "http://h/x?page=1&perPage=2");
    }

    #[test]
    fn per_page_is_validated() {
        let q = PageQuery { page: None, per_page: Some("251".into()) };
        assert!(q.resolve(100, 250).is_err());
        let q = PageQuery { page: Some("0".into()), per_page: None };
        assert!(q.resolve(100, 250).is_err());
        let q = PageQuery { page: None, per_page: Some("Max".into()) };
        assert_eq!(q.resolve(100, 250).unwrap().per_page, 250);
    }
}
