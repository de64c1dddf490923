//! The authorization-code flow with PKCE (RFC 7636), for accounts that issue no JWT
//! credential: `snapsync login` builds the authorize URL ([`RingCentral::authorize_url`]),
//! receives the browser's redirect on its own callback server (in the producer's CLI),
//! then [`RingCentral::exchange_code`] trades the code and its verifier for a token pair
//! and stores it where every process reads it (the [`super::token_store`]). From then on
//! the pair is refreshed like a JWT login's (see [`super::auth`]); only a dead refresh
//! token needs `snapsync login` again.
//!
//! The verifier is 64 characters of RFC 7636's unreserved set from the thread's CSPRNG;
//! the challenge is `BASE64URL(SHA256(verifier))` without padding (`S256`). Neither the
//! code nor the verifier is ever logged or shown ([`Pkce`]'s `Debug` redacts the verifier).

use std::fmt;

use base64::Engine;
use rand::Rng;
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::auth::{LOCK_TTL, POLL_EVERY, WAIT_LIMIT};
use super::error::RcError;
use super::token_store::now_ms;
use super::RingCentral;

const AUTHORIZE_PATH: &str = "/restapi/oauth/authorize";

/// RFC 7636 §4.1: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
/// Within RFC 7636's 43..=128.
const VERIFIER_LEN: usize = 64;
const STATE_LEN: usize = 32;

/// How a deployment gets RingCentral tokens (`ringcentral.auth`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthFlow {
    /// The JWT bearer grant: every process can log in by itself.
    #[default]
    Jwt,
    /// The authorization code with PKCE: an operator runs `snapsync login`; the processes
    /// only refresh the pair it stored.
    AuthorizationCode,
}

impl AuthFlow {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFlow::Jwt => "jwt",
            AuthFlow::AuthorizationCode => "authorization_code",
        }
    }

    pub fn parse(text: &str) -> Option<AuthFlow> {
        match text {
            "jwt" => Some(AuthFlow::Jwt),
            "authorization_code" => Some(AuthFlow::AuthorizationCode),
            _ => None,
        }
    }
}

/// A PKCE verifier and its `S256` challenge, for one login.
pub struct Pkce {
    verifier: SecretString,
    challenge: String,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce").field("verifier", &"[REDACTED]").field("challenge", &self.challenge).finish()
    }
}

impl Pkce {
    /// A fresh verifier (64 random unreserved characters) and its challenge.
    pub fn new() -> Pkce {
        Pkce::from_verifier(random_text(VERIFIER_LEN))
    }

    /// The challenge of a given verifier (RFC 7636 §4.2, `S256`).
    pub fn from_verifier(verifier: String) -> Pkce {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce { verifier: SecretString::from(verifier), challenge }
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// A random `state` for the authorize request (32 unreserved characters), checked on the
/// callback so a redirect that this login did not start is refused.
pub fn random_state() -> String {
    random_text(STATE_LEN)
}

fn random_text(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| UNRESERVED[rng.random_range(0..UNRESERVED.len())] as char).collect()
}

/// What `snapsync login` stored: lifetimes only, never a token.
#[derive(Debug, Clone, Serialize)]
pub struct LoginOutcome {
    /// When the access token expires (Unix ms); the processes refresh it before then.
    pub access_expires_ms: u64,
    /// When the refresh token expires (Unix ms; 0 without one): `snapsync login` is needed
    /// again by then at the latest.
    pub refresh_expires_ms: u64,
    pub refresh_token: bool,
}

impl RingCentral {
    /// The configured way of getting tokens.
    pub fn auth_flow(&self) -> AuthFlow {
        self.inner.auth
    }

    /// `GET {server}/restapi/oauth/authorize?response_type=code&client_id=…&redirect_uri=…
    /// &state=…&code_challenge=…&code_challenge_method=S256`: the page the operator opens.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str, pkce: &Pkce) -> Result<Url, RcError> {
        let mut url = self.inner.url(AUTHORIZE_PATH)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.inner.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", pkce.challenge())
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Trades `code` (with the verifier of `pkce`, and the same `redirect_uri` as the
    /// authorize request) for a token pair and stores it for every process, ending any
    /// auth backoff. The pair is written under the renewal lock (waited for up to 25 s), so
    /// a process refreshing at that moment does not overwrite or delete it.
    pub async fn exchange_code(
        &self,
        code: &SecretString,
        redirect_uri: &str,
        pkce: &Pkce,
    ) -> Result<LoginOutcome, RcError> {
        let uri = SecretString::from(redirect_uri.to_owned());
        let (pair, scope) = self
            .token_request_scoped(
                "authorization_code",
                &[("code", code), ("redirect_uri", &uri), ("code_verifier", &pkce.verifier)],
            )
            .await?;
        let store = &self.inner.tokens;
        let started = tokio::time::Instant::now();
        let owner = loop {
            if let Some(owner) = store.try_lock(LOCK_TTL).await? {
                break Some(owner);
            }
            if started.elapsed() >= WAIT_LIMIT {
                // A holder that long is stuck; the new pair is worth more than its result.
                break None;
            }
            tokio::time::sleep(POLL_EVERY).await;
        };
        let stored = store.put(&pair).await;
        let cleared = store.clear_backoff().await;
        if let Some(owner) = owner {
            if let Err(e) = store.unlock(&owner).await {
                tracing::warn!(error = %e, "could not release the ringcentral token lock");
            }
        }
        stored?;
        cleared?;
        // The permissions the login granted, for `snapsync preflight` (not a secret).
        store.put_scope(scope.as_deref().unwrap_or("")).await?;
        metrics::counter!("snapsync_token_refreshes_total", "grant" => "authorization_code").increment(1);
        tracing::info!(
            expires_in_s = pair.access_expires_ms.saturating_sub(now_ms()) / 1000,
            "ringcentral token pair stored by the authorization-code login"
        );
        Ok(LoginOutcome {
            access_expires_ms: pair.access_expires_ms,
            refresh_expires_ms: if pair.refresh.is_some() { pair.refresh_expires_ms } else { 0 },
            refresh_token: pair.refresh.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn s256_challenge_matches_rfc7636_appendix_b() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(!format!("{p:?}").contains("dBjft"), "the verifier is redacted");
    }

    #[test]
    fn verifier_and_state_are_random_unreserved_text() {
        let (a, b) = (Pkce::new(), Pkce::new());
        let v = a.verifier.expose_secret();
        assert_eq!(v.len(), VERIFIER_LEN);
        assert!(v.bytes().all(|c| UNRESERVED.contains(&c)), "{v}");
        assert_ne!(v, b.verifier.expose_secret());
        assert_eq!(a.challenge().len(), 43, "32 bytes of SHA-256, base64url without padding");
        let s = random_state();
        assert_eq!(s.len(), STATE_LEN);
        assert_ne!(s, random_state());
    }
}
