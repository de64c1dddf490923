//! The RingCentral REST client: JWT login with the token pair shared by every process
//! through Redis, one refresh at a time cluster-wide, one refresh-and-retry on a 401,
//! paging, sync tokens per extension, rate-limit headers, classified errors. Facts it
//! follows: RingCentral's published API reference; tested against the stand-in
//! (`docs/ringcentral-sandbox.md`).
//!
//! # Layout
//! - [`error`]: [`RcError`], retryable vs permanent, `Retry-After`, `errors[0].errorCode`.
//! - [`rate_info`]: the `X-Rate-Limit-*` headers of every answer.
//! - [`limits`]: each call's usage group and the shared budgets it takes a permit of.
//! - `token_store`: the token pair, the renewal lock and the auth backoff in Redis.
//! - `auth`: login (JWT bearer) and refresh under the lock; others wait for the new pair.
//! - [`login`]: the authorization-code flow with PKCE (`snapsync login`) for accounts
//!   without JWT credentials; its pair goes in the same store, refreshed like any other.
//! - `http`: one call with the 401 refresh-and-retry, [`RingCentral::get_json`], [`RingCentral::pages`].
//! - [`types`]: serde types with RingCentral's field names.
//! - `endpoints`: typed reads (account, extensions, sites, emergency locations, messages, call log).
//! - `subscriptions`: webhook subscriptions (create, list, get, renew, update, delete).
//! - [`contact_sync`]: address-book sync (FSync/ISync) and per-extension sync tokens.
//! - [`record_sync`]: the call-log and message-store syncs the catch-ups read, one token each.

mod auth;
pub mod contact_sync;
mod endpoints;
pub mod error;
mod http;
pub mod limits;
pub mod login;
pub mod rate_info;
pub mod record_sync;
mod subscriptions;
mod token_store;
pub mod types;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use snapsync_queue::RedisConn;
use url::Url;

pub use auth::LoginCheck;
pub use contact_sync::{ContactChanges, ContactPage, ContactSync, PendingSyncToken, SyncKind};
pub use error::RcError;
pub use http::Rated;
pub use limits::{usage_group, RcLimits};
pub use login::{AuthFlow, LoginOutcome, Pkce};
pub use rate_info::{RateInfo, RateObserver};

use token_store::TokenStore;

/// Whole-request timeout; RingCentral answers in well under this, a hung connection
/// must not hold a worker (or the token lock) for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the client needs from the `ringcentral` config section. `Debug` redacts the secrets.
#[derive(Clone, Debug)]
pub struct RcSettings {
    /// e.g. `https://platform.ringcentral.com` or the sandbox's URL.
    pub server_url: String,
    pub client_id: String,
    /// Empty for a public app (PKCE, no secret): `client_id` then goes in the token
    /// request's body instead of HTTP Basic auth.
    pub client_secret: SecretString,
    /// Used only when `auth` is [`AuthFlow::Jwt`].
    pub jwt: SecretString,
    /// How a missing or dead token pair is replaced: by a JWT login, or only by an operator
    /// running `snapsync login` (authorization code).
    pub auth: AuthFlow,
}

/// The client. Cheap to clone; clones share the HTTP connection pool.
#[derive(Clone)]
pub struct RingCentral {
    inner: Arc<Inner>,
    observer: Option<RateObserver>,
    /// The shared rate-limit budgets every call takes a permit of (see [`limits`]).
    limits: Option<Arc<RcLimits>>,
    /// Where this client keeps address-book sync tokens, after the key tag: `rc:synctoken`,
    /// or `rc:synctoken:test` for the test target ([`RingCentral::with_sync_namespace`]).
    sync_ns: Arc<str>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    client_id: String,
    client_secret: SecretString,
    jwt: SecretString,
    auth: AuthFlow,
    tokens: TokenStore,
    redis: RedisConn,
    /// `{prefix}`: the hash tag every key of this client starts with.
    tag: String,
}

impl fmt::Debug for RingCentral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingCentral")
            .field("server_url", &self.inner.base.as_str())
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &self.inner.client_secret)
            .field("jwt", &self.inner.jwt)
            .field("auth", &self.inner.auth)
            .field("key_tag", &self.inner.tag)
            .finish_non_exhaustive()
    }
}

impl RingCentral {
    /// Builds the client. Keys live under `{key_prefix}:rc:…` in `redis`. Fails only on a
    /// `server_url` that is not an http(s) URL or a TLS backend that cannot start.
    pub fn new(settings: RcSettings, redis: RedisConn, key_prefix: &str) -> Result<RingCentral, RcError> {
        let base = Url::parse(settings.server_url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| RcError::Config {
                key: "ringcentral.server_url",
                reason: format!(
                    "{:?} is not an http(s) URL like https://platform.ringcentral.com",
                    settings.server_url
                ),
            })?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("snapsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RcError::Config { key: "ringcentral.server_url", reason: format!("http client: {e}") })?;
        let tag = format!("{{{key_prefix}}}");
        Ok(RingCentral {
            inner: Arc::new(Inner {
                http,
                base,
                client_id: settings.client_id,
                client_secret: settings.client_secret,
                jwt: settings.jwt,
                auth: settings.auth,
                tokens: TokenStore::new(redis.clone(), &tag),
                redis,
                tag,
            }),
            observer: None,
            limits: None,
            sync_ns: Arc::from("rc:synctoken"),
        })
    }

    /// The same client (login, token and budgets shared) keeping its address-book sync
    /// tokens apart, under `{prefix}:rc:synctoken:<ns>:…`: the test target's tokens must not
    /// make the live target's first sync incremental (see `snapsync::mode`).
    pub fn with_sync_namespace(mut self, ns: &str) -> RingCentral {
        self.sync_ns = Arc::from(format!("rc:synctoken:{ns}"));
        self
    }

    /// Calls `f` with the rate-limit headers of every answer (token requests included),
    /// so the worker's limiter can follow RingCentral's count of each group's budget.
    pub fn on_rate_info(mut self, f: impl Fn(&RateInfo) + Send + Sync + 'static) -> RingCentral {
        self.observer = Some(Arc::new(f));
        self
    }

    fn observe(&self, rate: &RateInfo) {
        if let Some(f) = &self.observer {
            f(rate);
        }
    }
}

impl Inner {
    /// `path` relative to the server, or an absolute URI RingCentral handed out
    /// (`navigation`, `nextPageUri`). An absolute URI on another origin is re-rooted on
    /// the configured server, so the bearer token never leaves it.
    fn url(&self, path_or_uri: &str) -> Result<Url, RcError> {
        let bad = |reason: String| RcError::Config { key: "ringcentral.server_url", reason };
        match Url::parse(path_or_uri) {
            Ok(abs) if abs.origin() == self.base.origin() => Ok(abs),
            Ok(abs) => {
                let rel = match abs.query() {
                    Some(q) => format!("{}?{q}", abs.path()),
                    None => abs.path().to_owned(),
                };
                self.base.join(&rel).map_err(|e| bad(format!("cannot join {rel:?}: {e}")))
            }
            Err(_) => self.base.join(path_or_uri).map_err(|e| bad(format!("cannot join {path_or_uri:?}: {e}"))),
        }
    }
}
