//! Every RingCentral call takes a permit of its usage group's budget first (Light, Medium,
//! Heavy, Auth per app and user), shared by all processes through Redis
//! (`snapsync_queue::limits`); every answer's `X-Rate-Limit-*` headers update that budget,
//! and a 429 pauses it for every process until its `Retry-After`. A call that would wait
//! longer than its class allows is not sent: [`RcError::Throttled`], which the job turns into
//! a snooze.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use snapsync_queue::{Budget, Limiter, Permit};

use super::error::RcError;
use super::rate_info::RateInfo;
use super::RingCentral;
use crate::config::RingCentralLimits;

/// The usage groups RingCentral's API reference assigns, by name (lower-case, as in the
/// `X-Rate-Limit-Group` header).
pub const GROUPS: [&str; 4] = ["light", "medium", "heavy", "auth"];

/// How long a later page of a paged read waits for its permit (a snooze would restart the
/// read from its first page): past RingCentral's own 60 s window.
pub const PAGE_PATIENCE: Duration = Duration::from_secs(90);

/// The budgets of one app and user.
#[derive(Debug, Clone)]
pub struct RcLimits {
    limiter: Limiter,
    budgets: HashMap<&'static str, Budget>,
}

/// A short, one-way name for a credential: budgets are per credential, and a key name must
/// never carry the secret itself.
pub fn credential_tag(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\n").as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl RcLimits {
    /// One budget per group for the app `client_id` logged in as the JWT's user, with the
    /// configured limits as ceilings.
    pub fn new(limiter: Limiter, limits: &RingCentralLimits, client_id: &str, jwt: &SecretString) -> RcLimits {
        let cred = credential_tag(&[client_id, jwt.expose_secret()]);
        let per_group =
            [("light", limits.light), ("medium", limits.medium), ("heavy", limits.heavy), ("auth", limits.auth)];
        let budgets = per_group
            .into_iter()
            .map(|(group, limit)| (group, Budget::new(format!("ringcentral:{group}:{cred}"), limit, limits.window)))
            .collect();
        RcLimits { limiter, budgets }
    }

    pub fn budget(&self, group: &str) -> Option<&Budget> {
        self.budgets.get(group.to_ascii_lowercase().as_str())
    }
}

/// The usage group of a call, from RingCentral's API reference (the endpoints snapsync
/// calls; anything else is counted as Heavy, the strictest group, to be safe).
pub fn usage_group(method: &Method, path: &str) -> &'static str {
    let p = path.trim_end_matches('/');
    if p.ends_with("/oauth/token") || p.ends_with("/oauth/revoke") {
        return "auth";
    }
    let seg: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    let has = |s: &str| seg.contains(&s);
    let last = seg.last().copied().unwrap_or("");
    if has("subscription") {
        return match (method.as_str(), last) {
            (_, "renew") => "light",
            ("GET", _) => "light",
            _ => "medium",
        };
    }
    if has("address-book") || has("address-book-sync") || has("call-log") || has("call-log-sync") {
        return "heavy";
    }
    if has("message-store") {
        return if has("content") { "medium" } else { "light" };
    }
    if has("message-sync") || has("emergency-locations") || has("business-address") {
        return "light";
    }
    if has("directory") {
        return if last == "entries" { "medium" } else { "light" };
    }
    if has("sites") {
        return if last == "members" { "medium" } else { "light" };
    }
    // `/account/{id}/extension` (the list) is Medium, one extension is Light.
    if let Some(i) = seg.iter().position(|s| *s == "extension") {
        return if i + 1 == seg.len() { "medium" } else { "light" };
    }
    if seg.iter().rev().nth(1) == Some(&"account") || last == "account" {
        return "light";
    }
    "heavy"
}

impl RingCentral {
    /// Attaches the shared budgets: from now on every call takes a permit first.
    pub fn with_limits(mut self, limits: RcLimits) -> RingCentral {
        self.limits = Some(std::sync::Arc::new(limits));
        self
    }

    /// A permit of `group`'s budget for one call (none needed without budgets attached).
    pub(crate) async fn permit(&self, group: &str, method: &'static str, path: &str) -> Result<Permit, RcError> {
        let Some(limits) = &self.limits else { return Ok(Permit::default()) };
        let Some(budget) = limits.budget(group) else { return Ok(Permit::default()) };
        limits.limiter.acquire(budget).await.map_err(|source| RcError::Throttled {
            method,
            path: path.to_owned(),
            group: budget_group(group),
            source,
        })
    }

    /// The call `permit` was taken for got an answer (or failed on the way): the permit
    /// counts from now, and the budget of the group the headers name follows them. Only a
    /// successful answer's `Remaining` is trusted as a count; an error's (a 429 says 0) is not.
    pub(crate) async fn settle(&self, group: &str, permit: Permit, rate: Option<&RateInfo>, ok: bool) {
        let Some(limits) = &self.limits else { return };
        let own = limits.budget(group);
        let named = rate.and_then(|r| limits.budget(&r.group));
        let headers =
            rate.map(|r| (Some(r.limit), ok.then_some(r.remaining), (!r.window.is_zero()).then_some(r.window)));
        let (limit, remaining, window) = headers.unwrap_or((None, None, None));
        let result = match (own, named) {
            (Some(own), Some(named)) if own.name != named.name => {
                let first = limits.limiter.settle(own, permit, None, None, None).await;
                first.and(limits.limiter.observe(named, limit, remaining, window).await)
            }
            (Some(budget), _) | (None, Some(budget)) => {
                limits.limiter.settle(budget, permit, limit, remaining, window).await
            }
            (None, None) => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record a ringcentral answer in its rate-limit budget");
        }
    }

    /// A 429: `group` (or the group its headers name) is paused for everyone for `wait`.
    pub(crate) async fn pause_group(&self, group: &str, rate: Option<&RateInfo>, wait: Duration) {
        let Some(limits) = &self.limits else { return };
        let group = rate.map_or(group, |r| r.group.as_str());
        let Some(budget) = limits.budget(group) else { return };
        if let Err(e) = limits.limiter.pause(budget, wait).await {
            tracing::warn!(error = %e, "could not pause the ringcentral budget");
        }
    }
}

fn budget_group(group: &str) -> &'static str {
    GROUPS.iter().find(|g| g.eq_ignore_ascii_case(group)).copied().unwrap_or("heavy")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_the_api_reference() {
        let get = Method::GET;
        let cases = [
            ("/restapi/v1.0/account/~", "light"),
            ("/restapi/v1.0/account/~/business-address", "light"),
            ("/restapi/v1.0/account/~/extension", "medium"),
            ("/restapi/v1.0/account/~/extension/101", "light"),
            ("/restapi/v1.0/account/~/extension/101/address-book/contact", "heavy"),
            ("/restapi/v1.0/account/~/extension/101/address-book/contact/5", "heavy"),
            ("/restapi/v1.0/account/~/extension/101/address-book-sync", "heavy"),
            ("/restapi/v1.0/account/~/directory/entries", "medium"),
            ("/restapi/v1.0/account/~/emergency-locations", "light"),
            ("/restapi/v1.0/account/~/emergency-locations/7", "light"),
            ("/restapi/v1.0/account/~/extension/101/emergency-locations", "light"),
            ("/restapi/v1.0/account/~/sites", "light"),
            ("/restapi/v1.0/account/~/sites/3", "light"),
            ("/restapi/v1.0/account/~/sites/3/members", "medium"),
            ("/restapi/v1.0/account/~/extension/101/call-log", "heavy"),
            ("/restapi/v1.0/account/~/call-log-sync", "heavy"),
            ("/restapi/v1.0/account/~/extension/101/message-store/9", "light"),
            ("/restapi/v1.0/account/~/extension/101/message-store/9/content/1", "medium"),
            ("/restapi/v1.0/account/~/extension/101/message-sync", "light"),
            ("/restapi/v1.0/subscription", "light"),
            ("/restapi/v1.0/subscription/abc", "light"),
            ("/restapi/oauth/token", "auth"),
        ];
        for (path, group) in cases {
            assert_eq!(usage_group(&get, path), group, "GET {path}");
        }
        assert_eq!(usage_group(&Method::POST, "/restapi/v1.0/subscription"), "medium");
        assert_eq!(usage_group(&Method::PUT, "/restapi/v1.0/subscription/abc"), "medium");
        assert_eq!(usage_group(&Method::DELETE, "/restapi/v1.0/subscription/abc"), "medium");
        assert_eq!(usage_group(&Method::POST, "/restapi/v1.0/subscription/abc/renew"), "light");
        assert_eq!(usage_group(&get, "/restapi/v1.0/something-new"), "heavy");
    }

    #[test]
    fn a_credential_tag_never_shows_the_secret() {
        let tag = credential_tag(&["client", "eyJhbGciOi.secret.jwt"]);
        assert_eq!(tag.len(), 12);
        assert!(!tag.contains("secret"));
        assert_ne!(tag, credential_tag(&["client", "another-jwt"]));
    }
}
