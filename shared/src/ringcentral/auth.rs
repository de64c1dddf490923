//! Getting a usable access token: from Redis when another process already has one, else by
//! logging in (JWT bearer grant) or refreshing — by exactly one process at a time, under
//! the Redis lock, while the others poll the stored pair until the new one appears.
//!
//! With `ringcentral.auth = "authorization_code"` there is no JWT to log in with: the pair
//! comes from `snapsync login` ([`super::login`]) and is only refreshed here. When it is
//! missing, or its refresh token is dead (the stored pair is then deleted, so no process
//! presents it again), every caller gets [`RcError::LoginRequired`] ("run `snapsync login`"),
//! which jobs treat as a wait (a snooze), not a failure.
//!
//! RingCentral's Auth group allows 5 requests a minute and ~5 live sessions per user, and
//! a refresh kills the previous access token at once; so `/oauth/token` is called only
//! when the stored pair is missing, near expiry, or just got a 401, and after a failure
//! every process backs off together (see [`super::token_store`]).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::RcError;
use super::login::AuthFlow;
use super::rate_info::{self, RateInfo};
use super::token_store::{now_ms, Backoff, TokenPair};
use super::RingCentral;

pub(crate) const TOKEN_PATH: &str = "/restapi/oauth/token";
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Longer than one token request can take (its timeout), so a live holder keeps the lock.
pub(crate) const LOCK_TTL: Duration = Duration::from_secs(20);
/// How long a caller waits for another process's login/refresh before giving up.
pub(crate) const WAIT_LIMIT: Duration = Duration::from_secs(25);
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(40);
/// Backoff after a failed renewal without `Retry-After` (retryable) or for bad credentials.
const RETRY_BACKOFF: Duration = Duration::from_secs(5);
const PERMANENT_BACKOFF: Duration = Duration::from_secs(30);

/// RingCentral's token response; only the fields this client uses.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    refresh_token: Option<String>,
    refresh_token_expires_in: Option<u64>,
    /// The app's permissions, space-separated.
    #[serde(default)]
    scope: Option<String>,
}

/// What [`RingCentral::check_login`] learned.
#[derive(Debug, Clone)]
pub struct LoginCheck {
    /// The app permissions the token carries (`scope`), in RingCentral's order.
    pub scopes: Vec<String>,
    /// False when they are not known: an authorization-code pair stored by a `snapsync login`
    /// of a release that did not record them.
    pub scopes_known: bool,
}

impl RingCentral {
    /// A usable access token. `stale` is the token that just got a 401: a pair holding it
    /// is not usable, so either another process's newer pair is read or this one renews.
    pub(crate) async fn access_token(&self, stale: Option<&str>) -> Result<SecretString, RcError> {
        let store = &self.inner.tokens;
        let started = tokio::time::Instant::now();
        loop {
            if let Some(pair) = store.get().await? {
                if pair.usable(now_ms(), stale) {
                    return Ok(pair.access);
                }
            }
            if let Some((b, left)) = store.backoff().await? {
                return Err(RcError::AuthBackoff { reason: b.reason, retry_after: left, retryable: b.retryable });
            }
            if let Some(owner) = store.try_lock(LOCK_TTL).await? {
                let result = self.renew_locked(stale).await;
                if let Err(e) = store.unlock(&owner).await {
                    // The lock lapses by itself after LOCK_TTL; waiters only lose time.
                    tracing::warn!(error = %e, "could not release the ringcentral token lock");
                }
                return result;
            }
            if started.elapsed() >= WAIT_LIMIT {
                return Err(RcError::TokenWait { waited: started.elapsed() });
            }
            // Someone else is renewing: poll the stored pair (bounded by WAIT_LIMIT).
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Holding the lock: re-check (the holder before us may just have finished), then
    /// refresh, or log in when there is no pair or the refresh token is dead.
    async fn renew_locked(&self, stale: Option<&str>) -> Result<SecretString, RcError> {
        let store = &self.inner.tokens;
        let current = store.get().await?;
        if let Some(pair) = &current {
            if pair.usable(now_ms(), stale) {
                return Ok(pair.access.clone());
            }
        }
        let refresh = current.as_ref().and_then(|p| p.can_refresh(now_ms()));
        let renewed = match refresh {
            Some(token) => match self.token_request("refresh_token", &[("refresh_token", token)]).await {
                Err(e) if is_dead_refresh_token(&e) => {
                    let code = e.error_code().unwrap_or("");
                    match self.inner.auth {
                        AuthFlow::Jwt => tracing::info!(code, "ringcentral refresh token rejected; logging in"),
                        AuthFlow::AuthorizationCode => {
                            // Nobody can use this pair again: forget it, so no process presents
                            // the dead refresh token again until `snapsync login` stores a new one.
                            store.clear().await?;
                            tracing::warn!(
                                code,
                                "ringcentral refresh token rejected and no JWT to log in with: the stored pair is deleted; run `snapsync login`"
                            );
                        }
                    }
                    self.login(&format!("the refresh token was rejected: {code}")).await
                }
                other => other,
            },
            None => {
                self.login(if current.is_some() { "the refresh token expired" } else { "no stored token pair" }).await
            }
        };
        match renewed {
            Ok(pair) => {
                // A new access token from `/oauth/token`, by refresh or by a fresh login.
                let grant = if refresh.is_some() { "refresh_token" } else { "jwt" };
                metrics::counter!("snapsync_token_refreshes_total", "grant" => grant).increment(1);
                store.put(&pair).await?;
                Ok(pair.access)
            }
            // Nothing was sent, so nothing to back off from: the jobs wait for an operator.
            // Said once as a warning when the refresh token was found dead; each job that
            // snoozes for it says so in its snooze reason.
            Err(e @ RcError::LoginRequired { .. }) => {
                tracing::debug!(error = %e, "ringcentral needs a new login");
                Err(e)
            }
            Err(e) => {
                let retryable = e.is_retryable();
                let wait = e.retry_after().unwrap_or(if retryable { RETRY_BACKOFF } else { PERMANENT_BACKOFF });
                let backoff = Backoff { reason: e.to_string(), retryable };
                if let Err(re) = store.set_backoff(&backoff, wait).await {
                    tracing::warn!(error = %re, "could not record the ringcentral auth backoff");
                }
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "ringcentral login/refresh failed");
                Err(e)
            }
        }
    }

    /// A fresh login with the configured credentials, as a first sync would make, that
    /// touches none of the shared state: the token is neither stored nor kept (it is revoked
    /// at once, so it holds no session slot), and a refusal sets no backoff for the other
    /// processes. For `snapsync preflight`.
    pub async fn check_login(&self) -> Result<LoginCheck, RcError> {
        if self.inner.auth == AuthFlow::AuthorizationCode {
            // No credential to log in with: the pair `snapsync login` stored must work (a
            // Light read through it, refreshing it if due, as the workers would).
            self.account_info().await?;
            let scope = self.inner.tokens.scope().await?;
            let scopes_known = scope.is_some();
            let scopes = scope.unwrap_or_default().split_whitespace().map(str::to_string).collect();
            return Ok(LoginCheck { scopes, scopes_known });
        }
        let jwt = self.inner.jwt.clone();
        let (pair, scope) = self.token_request_scoped(JWT_GRANT, &[("assertion", &jwt)]).await?;
        if let Err(e) = self.revoke(&pair.access).await {
            // The session then lapses with the token; nothing else depends on it.
            tracing::warn!(error = %e, "could not revoke the preflight login's token");
        }
        let scopes = scope.unwrap_or_default().split_whitespace().map(str::to_string).collect();
        Ok(LoginCheck { scopes, scopes_known: true })
    }

    /// `POST /restapi/oauth/revoke` of `token` (its whole session ends).
    async fn revoke(&self, token: &SecretString) -> Result<(), RcError> {
        const REVOKE_PATH: &str = "/restapi/oauth/revoke";
        let inner = &self.inner;
        let url = inner.url(REVOKE_PATH)?;
        let permit = self.permit("auth", "POST", REVOKE_PATH).await?;
        // A public app (no client secret) names itself in the body, as at the token endpoint.
        let public = inner.client_secret.expose_secret().is_empty();
        let mut form = vec![("token", token.expose_secret())];
        let mut request = inner.http.post(url);
        if public {
            form.push(("client_id", inner.client_id.as_str()));
        } else {
            request = request.basic_auth(&inner.client_id, Some(inner.client_secret.expose_secret()));
        }
        let sent = request.form(&form).send().await;
        let ok = sent.as_ref().is_ok_and(|r| r.status().is_success());
        self.settle("auth", permit, None, ok).await;
        let response = sent.map_err(|e| RcError::from_reqwest("POST", REVOKE_PATH, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        Err(RcError::from_response(
            "POST",
            REVOKE_PATH,
            status.as_u16(),
            rate_info::retry_after(&headers),
            RateInfo::from_headers(&headers),
            &body,
        ))
    }

    /// A new pair when there is no refresh token to present (`why`): the JWT bearer grant,
    /// or (authorization code) [`RcError::LoginRequired`] saying `why`.
    async fn login(&self, why: &str) -> Result<TokenPair, RcError> {
        match self.inner.auth {
            AuthFlow::Jwt => {
                let jwt = self.inner.jwt.clone();
                self.token_request(JWT_GRANT, &[("assertion", &jwt)]).await
            }
            AuthFlow::AuthorizationCode => Err(RcError::LoginRequired { reason: why.to_owned() }),
        }
    }

    /// One `POST /restapi/oauth/token`: `grant_type=grant` plus `fields` (the JWT as
    /// `assertion`, the `refresh_token`, or the code and its verifier). A confidential app
    /// authenticates with HTTP Basic; a public one (no client secret) sends `client_id`
    /// in the body.
    pub(crate) async fn token_request(
        &self,
        grant: &'static str,
        fields: &[(&'static str, &SecretString)],
    ) -> Result<TokenPair, RcError> {
        Ok(self.token_request_scoped(grant, fields).await?.0)
    }

    /// [`Self::token_request`], also giving the token's `scope`.
    pub(crate) async fn token_request_scoped(
        &self,
        grant: &'static str,
        fields: &[(&'static str, &SecretString)],
    ) -> Result<(TokenPair, Option<String>), RcError> {
        let inner = &self.inner;
        let public = inner.client_secret.expose_secret().is_empty();
        let mut form: Vec<(&str, &str)> = vec![("grant_type", grant)];
        form.extend(fields.iter().map(|(k, v)| (*k, v.expose_secret())));
        if public {
            form.push(("client_id", &inner.client_id));
        }
        let url = inner.url(TOKEN_PATH)?;
        let permit = self.permit("auth", "POST", TOKEN_PATH).await?;
        let issued_ms = now_ms();
        let mut request = inner.http.post(url);
        if !public {
            request = request.basic_auth(&inner.client_id, Some(inner.client_secret.expose_secret()));
        }
        let sent = request.form(&form).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                crate::telemetry::api_request("ringcentral", "auth", None);
                self.settle("auth", permit, None, false).await;
                return Err(RcError::from_reqwest("POST", TOKEN_PATH, e));
            }
        };
        let status = response.status();
        crate::telemetry::api_request("ringcentral", "auth", Some(status.as_u16()));
        let headers = response.headers().clone();
        let rate = RateInfo::from_headers(&headers);
        if let Some(rate) = &rate {
            self.observe(rate);
        }
        self.settle("auth", permit, rate.as_ref(), status.is_success()).await;
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = rate_info::retry_after(&headers).unwrap_or(super::error::DEFAULT_RETRY_AFTER);
            self.pause_group("auth", RateInfo::from_headers(&headers).as_ref(), wait).await;
        }
        let body = response.bytes().await.map_err(|e| RcError::from_reqwest("POST", TOKEN_PATH, e))?;
        if !status.is_success() {
            let rate = RateInfo::from_headers(&headers);
            return Err(RcError::from_response(
                "POST",
                TOKEN_PATH,
                status.as_u16(),
                rate_info::retry_after(&headers),
                rate,
                &body,
            ));
        }
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|source| RcError::Decode {
            method: "POST",
            path: TOKEN_PATH.into(),
            what: "a token response",
            // serde_json errors name the position, never the input text.
            source,
        })?;
        tracing::info!(grant, expires_in = t.expires_in, "ringcentral token obtained");
        let access_ttl_ms = t.expires_in * 1000;
        let pair = TokenPair {
            access: SecretString::from(t.access_token),
            refresh: t.refresh_token.map(SecretString::from),
            access_expires_ms: issued_ms + access_ttl_ms,
            refresh_expires_ms: issued_ms + t.refresh_token_expires_in.unwrap_or(0) * 1000,
            access_ttl_ms,
        };
        Ok((pair, t.scope))
    }
}

/// A refresh that RingCentral will never accept again: invalid_grant OAU-213 (token not
/// found: rotated away, revoked, evicted) or OAU-210 (expired). The cure is a new login.
fn is_dead_refresh_token(e: &RcError) -> bool {
    matches!(e.status(), Some(400) | Some(401)) && matches!(e.error_code(), Some("OAU-213") | Some("OAU-210"))
}
