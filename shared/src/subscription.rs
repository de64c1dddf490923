//! The webhook subscription's lifecycle, in one idempotent call: [`ensure`] brings
//! RingCentral's subscriptions for our webhook address to exactly one active, unexpired one.
//!
//! Called by the producer at start (inline, so webhooks flow before the first tick) and by
//! the worker's `renew_subscription` handler (the `subscriptions` schedule and the renewal
//! reminder enqueue that job), both through [`ensure_exclusive`]: one run at a time across
//! processes (a Redis lock), so replicas starting together do not each create one. Should
//! two runs still overlap (a lock outlived by a slow RingCentral), the duplicate is deleted
//! by the next run, so our address never approaches the cap (30 per extension and app).
//!
//! Rules: reuse the newest active subscription to our address; renew it when less than
//! `renew_before` is left; delete every other one to our address (duplicates, blacklisted
//! ones: RingCentral never lifts a blacklist, renewing does not help); create one when none
//! is left. Subscriptions to other addresses are never touched.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use snapsync_queue::RedisConn;

use crate::ringcentral::types::Subscription;
use crate::ringcentral::{RcError, RingCentral};

/// The voicemail of the logged-in (admin) extension.
pub const VOICEMAIL_FILTER: &str = "/restapi/v1.0/account/~/extension/~/voicemail";
/// The admin extension's info: account-level changes arrive here with hints.
pub const EXTENSION_INFO_FILTER: &str = "/restapi/v1.0/account/~/extension/~";
/// Every call of the account (a party `Disconnected` → `tag_call`).
pub const TELEPHONY_SESSIONS_FILTER: &str = "/restapi/v1.0/account/~/telephony/sessions";
/// Inbound SMS of the admin extension (→ `tag_message`).
pub const SMS_FILTER: &str = "/restapi/v1.0/account/~/extension/~/message-store/instant?type=SMS";
/// Inbound faxes of the admin extension (→ `tag_message`).
pub const FAX_FILTER: &str = "/restapi/v1.0/account/~/extension/~/fax?direction=Inbound";

/// What our subscription should look like.
#[derive(Debug, Clone)]
pub struct SubscriptionSpec {
    /// `ringcentral.webhook_address`: where RingCentral delivers.
    pub address: String,
    /// Sent with the subscription; RingCentral echoes it in `Verification-Token`.
    pub verification_token: SecretString,
    pub event_filters: Vec<String>,
    /// Lifetime asked for on create, seconds.
    pub expires_in: u64,
    /// Renew when less than this is left.
    pub renew_before: Duration,
}

impl SubscriptionSpec {
    /// The default filters (voicemail, extension info, inbound SMS and fax of the admin
    /// extension, the account's telephony sessions, a renewal
    /// reminder one day before expiry, every hour), a 7-day lifetime, renewal 3 days ahead.
    pub fn new(address: impl Into<String>, verification_token: SecretString) -> SubscriptionSpec {
        SubscriptionSpec {
            address: address.into(),
            verification_token,
            event_filters: vec![
                VOICEMAIL_FILTER.into(),
                EXTENSION_INFO_FILTER.into(),
                TELEPHONY_SESSIONS_FILTER.into(),
                SMS_FILTER.into(),
                FAX_FILTER.into(),
                // threshold ≤ TTL/2 and interval ≤ threshold/2, as RingCentral requires.
                "/restapi/v1.0/subscription/~?threshold=86400&interval=3600".into(),
            ],
            expires_in: 604_800,
            renew_before: Duration::from_secs(3 * 86_400),
        }
    }
}

/// What [`ensure`] did to the kept subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// An active one had enough time left.
    Reused,
    /// An active one was renewed.
    Renewed,
    /// An active one lacked some of our filters (made by an older release): its filters were
    /// replaced by ours with `PUT /subscription/{id}`, which also renews it.
    Updated,
    /// None existed for our address.
    Created,
    /// Only blacklisted (or expired) ones existed: deleted, and a new one created.
    Recreated,
}

/// The result of [`ensure`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The one subscription to our address now.
    pub id: String,
    pub action: Action,
    /// Subscriptions to our address that were deleted (duplicates, blacklisted).
    pub deleted: Vec<String>,
}

/// Why [`ensure_exclusive`] failed.
#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    #[error("subscription lock in redis: {source}")]
    Redis {
        #[source]
        source: redis::RedisError,
    },
    #[error(transparent)]
    RingCentral(#[from] RcError),
}

/// How long the lock holds if its holder dies mid-run; longer than a run's few calls.
const LOCK_TTL_MS: u64 = 60_000;

/// The lock's key for a deployment's key prefix (`queue.prefix`).
pub fn lock_key(prefix: &str) -> String {
    format!("{{{prefix}}}:subscription:lock")
}

/// [`ensure`] under the Redis lock `lock_key`; `Ok(None)` when another process holds it
/// (that process is doing the same work).
pub async fn ensure_exclusive(
    rc: &RingCentral,
    redis: &RedisConn,
    lock_key: &str,
    spec: &SubscriptionSpec,
) -> Result<Option<Outcome>, EnsureError> {
    let mut conn = redis.clone();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let taken: Option<String> = redis::cmd("SET")
        .arg(lock_key)
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(LOCK_TTL_MS)
        .query_async(&mut conn)
        .await
        .map_err(|source| EnsureError::Redis { source })?;
    if taken.is_none() {
        return Ok(None);
    }
    let result = ensure(rc, spec).await;
    // Release only our own lock (it may have expired and been taken by another run).
    let release = redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
    );
    let released: Result<i64, _> = release.key(lock_key).arg(&token).invoke_async(&mut conn).await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "cannot release the subscription lock; it expires by itself");
    }
    Ok(Some(result?))
}

/// Brings the subscriptions to `spec.address` to exactly one active one (module docs).
pub async fn ensure(rc: &RingCentral, spec: &SubscriptionSpec) -> Result<Outcome, RcError> {
    let now = OffsetDateTime::now_utc();
    let mut ours: Vec<Subscription> = rc
        .list_subscriptions()
        .await?
        .into_iter()
        .filter(|s| s.delivery_mode.as_ref().is_some_and(|d| same_address(&d.address, &spec.address)))
        .collect();
    // Newest expiry first, so the kept one is the one with most time left.
    ours.sort_by_key(|s| std::cmp::Reverse(expires_at(s).map(|t| t.unix_timestamp())));
    let keep = ours.iter().position(|s| is_usable(s, now));
    let mut deleted = Vec::new();
    let had_any = !ours.is_empty();
    for (i, s) in ours.iter().enumerate() {
        if Some(i) != keep {
            match rc.delete_subscription(&s.id).await {
                Ok(()) => deleted.push(s.id.clone()),
                // Already gone (expired meanwhile, or another process deleted it).
                Err(RcError::Api { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    if let Some(i) = keep {
        let kept = &ours[i];
        if !covers(&kept.event_filters, &spec.event_filters) {
            let updated = rc.update_subscription(&kept.id, &spec.event_filters, Some(spec.expires_in)).await?;
            return Ok(Outcome { id: updated.id, action: Action::Updated, deleted });
        }
        let left = expires_at(kept).map(|t| t - now).unwrap_or(time::Duration::ZERO);
        if left < spec.renew_before {
            let renewed = rc.renew_subscription(&kept.id).await?;
            return Ok(Outcome { id: renewed.id, action: Action::Renewed, deleted });
        }
        return Ok(Outcome { id: kept.id.clone(), action: Action::Reused, deleted });
    }
    let created = rc
        .create_subscription(
            &spec.event_filters,
            &spec.address,
            Some(spec.verification_token.expose_secret()),
            Some(spec.expires_in),
        )
        .await?;
    let action = if had_any { Action::Recreated } else { Action::Created };
    Ok(Outcome { id: created.id, action, deleted })
}

/// Whether the filters RingCentral holds (`~` replaced by real ids) include every filter we
/// ask for: ids after `account/`, `extension/` and `subscription/` are compared as `~`, and a
/// renewal reminder matches any reminder (its threshold and interval depend on the lifetime).
fn covers(held: &[String], wanted: &[String]) -> bool {
    let held: Vec<String> = held.iter().map(|f| generic_filter(f)).collect();
    wanted.iter().all(|w| held.contains(&generic_filter(w)))
}

fn generic_filter(filter: &str) -> String {
    let (path, query) = filter.split_once('?').map_or((filter, None), |(p, q)| (p, Some(q)));
    let mut out: Vec<&str> = Vec::new();
    let mut after_id_key = false;
    for seg in path.trim_end_matches('/').split('/') {
        out.push(if after_id_key { "~" } else { seg });
        after_id_key = matches!(seg, "account" | "extension" | "subscription");
    }
    let mut text = out.join("/");
    if let Some(q) = query.filter(|_| !path.starts_with("/restapi/v1.0/subscription/")) {
        text.push('?');
        text.push_str(q);
    }
    text
}

fn same_address(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

fn expires_at(s: &Subscription) -> Option<OffsetDateTime> {
    s.expiration_time.as_deref().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
}

/// Active and not expired. `Blacklisted` (and the older `Suspended`) never deliver again.
fn is_usable(s: &Subscription, now: OffsetDateTime) -> bool {
    let active = s.status.as_deref().is_none_or(|st| st.eq_ignore_ascii_case("Active"));
    active && expires_at(s).is_none_or(|t| t > now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_compared_with_ids_as_tilde() {
        let held = vec![
            "/restapi/v1.0/account/400000001/extension/400000101/voicemail".to_string(),
            "/restapi/v1.0/subscription/abc-1?threshold=86400&interval=3600".to_string(),
        ];
        let old =
            vec![VOICEMAIL_FILTER.to_string(), "/restapi/v1.0/subscription/~?threshold=86400&interval=3600".into()];
        assert!(covers(&held, &old));
        assert!(!covers(&held, &[TELEPHONY_SESSIONS_FILTER.to_string()]));
        let mut new = held.clone();
        new.push("/restapi/v1.0/account/400000001/telephony/sessions".into());
        assert!(covers(&new, &[TELEPHONY_SESSIONS_FILTER.to_string()]));
        assert!(!covers(&new, &[SMS_FILTER.to_string()]), "the query is part of the filter");
        let other_reminder = vec!["/restapi/v1.0/subscription/s-9?threshold=1800&interval=900".to_string()];
        assert!(covers(&other_reminder, &old[1..]), "a reminder is a reminder");
    }

    #[test]
    fn default_spec_debug_hides_the_token() {
        let spec = SubscriptionSpec::new("http://x/webhooks", SecretString::from("very-secret-token"));
        assert!(!format!("{spec:?}").contains("very-secret-token"));
        assert_eq!(spec.event_filters.len(), 6);
    }

    #[test]
    fn addresses_compare_without_trailing_slash() {
        assert!(same_address("http://a/b/", "http://a/b"));
        assert!(!same_address("http://a/b", "http://a/c"));
    }
}
