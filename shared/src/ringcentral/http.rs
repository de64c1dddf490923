//! One API call: bearer token from the shared pair, rate-limit headers read, errors
//! classified; a 401 gets exactly one renewal-and-retry (which re-reads the pair when
//! another process already renewed it). Plus `get_json` and the `navigation` pager.

use reqwest::Method;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiDetail, RcError};
use super::rate_info::{self, RateInfo};
use super::RingCentral;

/// Stop following `navigation.nextPage` after this many pages: a server that keeps
/// handing out next pages would otherwise loop forever.
const MAX_PAGES: usize = 10_000;

/// A decoded answer with the rate-limit headers it came with.
#[derive(Debug, Clone)]
pub struct Rated<T> {
    pub value: T,
    pub rate: Option<RateInfo>,
}

/// A request to send (again, after a 401).
pub(crate) struct Call<'a> {
    pub method: Method,
    /// A server-relative path or an absolute URI RingCentral handed out.
    pub target: &'a str,
    pub query: &'a [(&'a str, String)],
    pub body: Option<&'a Value>,
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "REQUEST",
    }
}

/// The path alone (no host, no query) for messages and logs.
fn path_only(target: &str) -> String {
    let no_scheme = target.split_once("://").map(|(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let path = no_scheme.unwrap_or(target);
    path.split('?').next().unwrap_or(path).to_owned()
}

impl RingCentral {
    /// Sends `call`; the body of a 2xx answer (empty for 204) with its rate info.
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Rated<bytes_body::Body>, RcError> {
        let token = self.access_token(None).await?;
        match self.send_once(call, token.expose_secret()).await? {
            Attempt::Done(r) => Ok(r),
            Attempt::Unauthorized => {
                // One renewal and one retry; a second 401 is the caller's error.
                let stale = token.expose_secret().to_owned();
                let fresh = self.access_token(Some(&stale)).await?;
                tracing::info!(path = %path_only(call.target), "ringcentral answered 401; retried with a renewed token");
                match self.send_once(call, fresh.expose_secret()).await? {
                    Attempt::Done(r) => Ok(r),
                    Attempt::Unauthorized => Err(self.last_401(call)),
                }
            }
        }
    }

    fn last_401(&self, call: &Call<'_>) -> RcError {
        RcError::Api {
            method: method_name(&call.method),
            path: path_only(call.target),
            status: 401,
            code: "HTTP-401".into(),
            detail: Box::new(ApiDetail {
                message: "still unauthorized after renewing the token; check the app's credentials and sessions".into(),
                parameter: None,
                retry_after: None,
                rate: None,
            }),
        }
    }

    async fn send_once(&self, call: &Call<'_>, token: &str) -> Result<Attempt, RcError> {
        let method = method_name(&call.method);
        let path = path_only(call.target);
        let mut url = self.inner.url(call.target)?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut req = self.inner.http.request(call.method.clone(), url).bearer_auth(token);
        if let Some(body) = call.body {
            req = req.json(body);
        }
        let group = super::limits::usage_group(&call.method, &path);
        let permit = self.permit(group, method, &path).await?;
        let response = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                crate::telemetry::api_request("ringcentral", group, None);
                self.settle(group, permit, None, false).await;
                return Err(RcError::from_reqwest(method, &path, e));
            }
        };
        let status = response.status();
        crate::telemetry::api_request("ringcentral", group, Some(status.as_u16()));
        let headers = response.headers().clone();
        let rate = RateInfo::from_headers(&headers);
        if let Some(r) = &rate {
            self.observe(r);
        }
        self.settle(group, permit, rate.as_ref(), status.is_success()).await;
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = rate_info::retry_after(&headers).unwrap_or(super::error::DEFAULT_RETRY_AFTER);
            self.pause_group(group, rate.as_ref(), wait).await;
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Ok(Attempt::Unauthorized);
        }
        let body = response.bytes().await.map_err(|e| RcError::from_reqwest(method, &path, e))?;
        if !status.is_success() {
            let retry_after = rate_info::retry_after(&headers);
            return Err(RcError::from_response(method, &path, status.as_u16(), retry_after, rate, &body));
        }
        tracing::debug!(method, path = %path, status = status.as_u16(), "ringcentral call");
        Ok(Attempt::Done(Rated { value: bytes_body::Body(body.to_vec()), rate }))
    }

    /// Sends `call` and decodes the answer as `T`.
    pub(crate) async fn call_json<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        what: &'static str,
    ) -> Result<Rated<T>, RcError> {
        let r = self.send(call).await?;
        let value = serde_json::from_slice(&r.value.0).map_err(|source| RcError::Decode {
            method: method_name(&call.method),
            path: path_only(call.target),
            what,
            source,
        })?;
        Ok(Rated { value, rate: r.rate })
    }

    /// `GET path?query` decoded as `T` (use `serde_json::Value` for anything untyped).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Rated<T>, RcError> {
        self.call_json(&Call { method: Method::GET, target: path, query, body: None }, "the expected JSON").await
    }

    /// Every record of a paged list: `GET path?query`, then each `navigation.nextPage.uri`
    /// until there is none. The next-page URIs already carry the query.
    pub async fn pages<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<T>, RcError> {
        let mut records = Vec::new();
        let mut page: Page<T> = self.get_json(path, query).await?.value;
        for _ in 0..MAX_PAGES {
            records.append(&mut page.records);
            let Some(next) = page.navigation.next_page.map(|l| l.uri) else { return Ok(records) };
            // A later page waits for its permit: a snooze would throw the pages read away.
            let call = Call { method: Method::GET, target: &next, query: &[], body: None };
            let read = self.call_json(&call, "a page of records");
            page = snapsync_queue::with_patience(super::limits::PAGE_PATIENCE, read).await?.value;
        }
        Err(RcError::Protocol {
            method: "GET",
            path: path_only(path),
            reason: format!("more than {MAX_PAGES} pages; navigation.nextPage never ended"),
        })
    }
}

enum Attempt {
    Done(Rated<bytes_body::Body>),
    Unauthorized,
}

pub(crate) mod bytes_body {
    /// A raw answer body.
    #[derive(Debug, Clone)]
    pub struct Body(pub Vec<u8>);
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    records: Vec<T>,
    #[serde(default)]
    navigation: Navigation,
}

#[derive(Default, Deserialize)]
struct Navigation {
    #[serde(rename = "nextPage")]
    next_page: Option<Link>,
}

#[derive(Deserialize)]
struct Link {
    uri: String,
}

#[cfg(test)]
mod tests {
    use super::path_only;

    #[test]
    fn path_only_drops_host_and_query() {
        assert_eq!(path_only("https://h:1/restapi/v1.0/x?syncToken=abc"), "/restapi/v1.0/x");
        assert_eq!(path_only("/restapi/v1.0/x?page=2"), "/restapi/v1.0/x");
        assert_eq!(path_only("https://h"), "/");
    }
}
