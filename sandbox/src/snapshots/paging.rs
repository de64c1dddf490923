//! List queries and the list envelope:
//! `GET /<collection>?page=1&per_page=100&external_id=…` →
//! `{"data":[...], "page":1, "per_page":100, "total":1234, "next_page":2|null}`.
//!
//! `page` starts at 1; `per_page` is 1–500 (default 100). A bad value is a 422
//! `validation_failed` naming the parameter; other query parameters are ignored, and a
//! repeated one takes its last value. A page past the end is empty with `next_page: null`.

use serde_json::{json, Value};

use super::errors::ApiError;

pub const DEFAULT_PER_PAGE: u64 = 100;
pub const MAX_PER_PAGE: u64 = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: u64,
    pub per_page: u64,
    pub external_id: Option<String>,
}

impl ListQuery {
    /// Parses a raw query string (`None` = no query).
    pub fn parse(raw: Option<&str>) -> Result<ListQuery, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("the query string could not be read: {e}")))?;
        let mut q = ListQuery { page: 1, per_page: DEFAULT_PER_PAGE, external_id: None };
        for (name, value) in pairs {
            match name.as_str() {
                "page" => q.page = number(&name, &value, 1, u64::from(u32::MAX))?,
                "per_page" => q.per_page = number(&name, &value, 1, MAX_PER_PAGE)?,
                "external_id" => q.external_id = Some(value),
                _ => {}
            }
        }
        Ok(q)
    }

    /// One page of `items` in the list envelope.
    pub fn page_of(&self, items: Vec<Value>) -> Value {
        let total = items.len() as u64;
        let start = (self.page - 1).saturating_mul(self.per_page);
        let data: Vec<Value> = items
            .into_iter()
            .skip(usize::try_from(start).unwrap_or(usize::MAX))
            .take(usize::try_from(self.per_page).unwrap_or(usize::MAX))
            .collect();
        let next_page = (self.page.saturating_mul(self.per_page) < total).then_some(self.page + 1);
        json!({ "data": data, "page": self.page, "per_page": self.per_page, "total": total, "next_page": next_page })
    }
}

fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => {
            Err(ApiError::validation(name, format!("{name} must be a whole number from {min} to {max}, got {value:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_bad_values() {
        assert_eq!(ListQuery::parse(None).unwrap(), ListQuery { page: 1, per_page: 100, external_id: None });
        let q = ListQuery::parse(Some("page=2&per_page=3&external_id=ringcentral%3Asite%3A1&x=y")).unwrap();
        assert_eq!((q.page, q.per_page, q.external_id.as_deref()), (2, 3, Some("ringcentral:site:1")));
        assert_eq!(ListQuery::parse(Some("per_page=501")).unwrap_err().field.as_deref(), Some("per_page"));
        assert_eq!(ListQuery::parse(Some("page=0")).unwrap_err().field.as_deref(), Some("page"));
        assert_eq!(ListQuery::parse(Some("page=two")).unwrap_err().field.as_deref(), Some("page"));
    }

    #[test]
    fn pages_and_next_page() {
        let items: Vec<Value> = (0..5).map(Value::from).collect();
        let q = |page| ListQuery { page, per_page: 2, external_id: None };
        assert_eq!(q(1).page_of(items.clone()), json!({"data":[0,1],"page":1,"per_page":2,"total":5,"next_page":2}));
        assert_eq!(q(3).page_of(items.clone())["next_page"], Value::Null);
        assert_eq!(q(3).page_of(items.clone())["data"], json!([4]));
        assert_eq!(q(9).page_of(items)["data"], json!([]));
    }
}
