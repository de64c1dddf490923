//! OAuth sessions and their tokens: login, refresh-token rotation with RingCentral's grace
//! rules, the 5-sessions-per-(user, app) cap, revocation and forced expiry.
//!
//! Everything here is plain data driven by an explicit `now`, so the rules are unit-tested
//! without a server or a real clock; the HTTP handlers only parse, call in, and render.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Value};

use super::authorize::{AuthCode, RedirectUris};
use super::timings::OAuthTimings;

/// Parallel sessions one user may hold in one app; the next login evicts the oldest
/// (DOCS `tokens.md`: "usually 5").
pub const MAX_SESSIONS: usize = 5;

/// The app permissions every token carries (`scope` of the token response).
pub const SCOPE: &str = "ReadAccounts ReadContacts ReadMessages ReadCallLog CallControl WebhookSubscriptions";

/// Who a new session is for and how the client authenticated.
#[derive(Debug, Clone)]
pub struct Grant {
    pub account_id: u64,
    pub extension_id: u64,
    pub client_id: String,
    /// Logged in without a client secret (authorization code + PKCE); such sessions may be
    /// refreshed with `client_id` alone.
    pub public: bool,
    pub endpoint_id: Option<String>,
}

/// Token lifetimes a request asked for (`access_token_ttl`, `refresh_token_ttl`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TtlRequest {
    pub access: Option<u64>,
    pub refresh: Option<u64>,
}

/// A token pair as the token endpoint reports it.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub refresh_token_expires_in: u64,
    pub owner_id: u64,
    pub endpoint_id: String,
    pub session_id: String,
}

impl Issued {
    /// The `TokenInfo` body (API page §1.5).
    pub fn to_json(&self) -> Value {
        json!({
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "refresh_token_expires_in": self.refresh_token_expires_in,
            "scope": SCOPE,
            "owner_id": self.owner_id.to_string(),
            "endpoint_id": self.endpoint_id,
            "session_id": self.session_id,
        })
    }
}

/// The identity behind a live access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub account_id: u64,
    pub extension_id: u64,
    pub client_id: String,
    pub session_id: String,
}

/// Why an access token was refused on an API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// Unknown, evicted, revoked, or rotated away long enough ago: OAU-213.
    NotFound,
    /// Rotated away moments ago: OAU-129 "Access token corrupted".
    Corrupted,
    /// Past its `expires_in`: OAU-128.
    Expired,
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshError {
    /// Unknown, used outside its grace window, revoked, evicted or another app's: OAU-213.
    NotFound,
    /// Past `refresh_token_expires_in`: OAU-210.
    Expired,
    /// A secret-less client presented a confidential session's token.
    ClientAuthRequired,
}

/// Counters since start, for `GET /sandbox/oauth/stats`.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub logins: u64,
    pub refreshes: u64,
    pub grace_replays: u64,
    pub token_requests: u64,
    pub revocations: u64,
    pub evictions: u64,
}

struct Session {
    owner: Owner,
    public: bool,
    endpoint_id: String,
    /// Login order, for evicting the oldest.
    seq: u64,
    access: String,
    access_expires: Instant,
    /// When the current access token was first used; starts the short grace clock of the
    /// previous refresh token.
    access_first_used: Option<Instant>,
    refresh: String,
    refresh_expires: Instant,
    /// The refresh token this pair replaced, and when.
    previous_refresh: Option<(String, Instant)>,
}

impl Session {
    fn issued(&self, now: Instant) -> Issued {
        Issued {
            access_token: self.access.clone(),
            refresh_token: self.refresh.clone(),
            expires_in: remaining_secs(self.access_expires, now),
            refresh_token_expires_in: remaining_secs(self.refresh_expires, now),
            owner_id: self.owner.extension_id,
            endpoint_id: self.endpoint_id.clone(),
            session_id: self.owner.session_id.clone(),
        }
    }
}

/// All OAuth state of the stand-in. Lives behind `RcState::auth`.
#[derive(Default)]
pub struct AuthState {
    pub timings: OAuthTimings,
    pub stats: Stats,
    /// Redirect URIs registered for the sandbox app.
    pub redirect_uris: RedirectUris,
    /// Authorization codes not yet exchanged.
    pub codes: HashMap<String, AuthCode>,
    /// The app's permissions as `PUT /sandbox/oauth/scopes` set them; `None`: [`SCOPE`].
    pub scopes: Option<Vec<String>>,
    /// The simulated user clicks "Deny" on the authorize page (`PUT /sandbox/oauth/consent`).
    pub deny_consent: bool,
    sessions: HashMap<String, Session>,
    by_access: HashMap<String, String>,
    /// Current and previous refresh tokens, to their session.
    by_refresh: HashMap<String, String>,
    /// Access tokens killed by rotation, with when (OAU-129 for a moment, then OAU-213).
    retired_access: HashMap<String, Instant>,
    next: u64,
}

impl AuthState {
    /// The `scope` a token issued now carries: the app's permissions, space-separated.
    pub fn scope(&self) -> String {
        match &self.scopes {
            Some(list) => list.join(" "),
            None => SCOPE.to_string(),
        }
    }

    /// Opens a new session, evicting the owner's oldest when they already hold
    /// [`MAX_SESSIONS`].
    pub fn login(&mut self, grant: Grant, ttl: TtlRequest, now: Instant) -> Issued {
        self.evict_for(&grant, now);
        self.next += 1;
        let session_id = format!("{}", 600_000_000 + self.next);
        let (access_ttl, refresh_ttl) = self.timings.effective(ttl);
        let session = Session {
            owner: Owner {
                account_id: grant.account_id,
                extension_id: grant.extension_id,
                client_id: grant.client_id,
                session_id: session_id.clone(),
            },
            public: grant.public,
            endpoint_id: grant.endpoint_id.unwrap_or_else(|| new_token(11)),
            seq: self.next,
            access: new_token(32),
            access_expires: now + access_ttl,
            access_first_used: None,
            refresh: new_token(32),
            refresh_expires: now + refresh_ttl,
            previous_refresh: None,
        };
        self.by_access.insert(session.access.clone(), session_id.clone());
        self.by_refresh.insert(session.refresh.clone(), session_id.clone());
        let issued = session.issued(now);
        self.sessions.insert(session_id, session);
        self.stats.logins += 1;
        issued
    }

    /// Drops the owner's sessions whose refresh token has expired, then the oldest live ones
    /// until a new one fits.
    fn evict_for(&mut self, grant: &Grant, now: Instant) {
        let mut mine: Vec<(u64, String, bool)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.owner.extension_id == grant.extension_id && s.owner.client_id == grant.client_id)
            .map(|(id, s)| (s.seq, id.clone(), s.refresh_expires <= now))
            .collect();
        mine.sort();
        for (_, id, dead) in &mine {
            if *dead {
                self.remove(id);
            }
        }
        let live: Vec<String> = mine.into_iter().filter(|(_, _, dead)| !dead).map(|(_, id, _)| id).collect();
        let excess = (live.len() + 1).saturating_sub(MAX_SESSIONS);
        for id in live.iter().take(excess) {
            self.remove(id);
            self.stats.evictions += 1;
        }
    }

    /// The client a refresh token belongs to, if it is known (for rate limiting and client
    /// checks before the refresh itself).
    pub fn refresh_owner(&self, token: &str) -> Option<(u64, String)> {
        let s = self.sessions.get(self.by_refresh.get(token)?)?;
        Some((s.owner.extension_id, s.owner.client_id.clone()))
    }

    /// Exchanges a refresh token. The current one rotates the pair (the old access token
    /// dies at once); the previous one, inside its grace window, returns the same current
    /// pair again.
    pub fn refresh(
        &mut self,
        token: &str,
        client_id: &str,
        public_client: bool,
        ttl: TtlRequest,
        now: Instant,
    ) -> Result<Issued, RefreshError> {
        let sid = self.by_refresh.get(token).cloned().ok_or(RefreshError::NotFound)?;
        let timings = self.timings.clone();
        let s = self.sessions.get_mut(&sid).ok_or(RefreshError::NotFound)?;
        if s.owner.client_id != client_id {
            return Err(RefreshError::NotFound);
        }
        if public_client && !s.public {
            return Err(RefreshError::ClientAuthRequired);
        }
        if s.refresh != token {
            // The previous refresh token: grace ~10 s after the new access token is first
            // used, else up to 60 min (API page §1.7).
            let rotated_at = s.previous_refresh.as_ref().map(|(_, at)| *at).ok_or(RefreshError::NotFound)?;
            let until = match s.access_first_used {
                Some(used) => used + timings.grace_used,
                None => rotated_at + timings.grace_unused,
            };
            if now >= until {
                s.previous_refresh = None;
                self.by_refresh.remove(token);
                return Err(RefreshError::NotFound);
            }
            self.stats.grace_replays += 1;
            return Ok(s.issued(now));
        }
        if now >= s.refresh_expires {
            return Err(RefreshError::Expired);
        }
        let (access_ttl, refresh_ttl) = timings.effective(ttl);
        let old_access = std::mem::replace(&mut s.access, new_token(32));
        let old_refresh = std::mem::replace(&mut s.refresh, new_token(32));
        if let Some((older, _)) = s.previous_refresh.replace((old_refresh, now)) {
            self.by_refresh.remove(&older);
        }
        s.access_expires = now + access_ttl;
        s.refresh_expires = now + refresh_ttl;
        s.access_first_used = None;
        let issued = s.issued(now);
        self.by_access.remove(&old_access);
        self.by_access.insert(issued.access_token.clone(), sid.clone());
        self.by_refresh.insert(issued.refresh_token.clone(), sid);
        self.retired_access.retain(|_, at| now.saturating_duration_since(*at) < timings.corrupted);
        self.retired_access.insert(old_access, now);
        self.stats.refreshes += 1;
        Ok(issued)
    }

    /// Checks an access token on an API call; the first successful use starts the short
    /// grace clock of the refresh token it replaced.
    pub fn check_access(&mut self, token: &str, now: Instant) -> Result<Owner, AccessError> {
        let Some(sid) = self.by_access.get(token) else {
            return match self.retired_access.get(token) {
                Some(at) if now.saturating_duration_since(*at) < self.timings.corrupted => Err(AccessError::Corrupted),
                _ => Err(AccessError::NotFound),
            };
        };
        let s = self.sessions.get_mut(sid).ok_or(AccessError::NotFound)?;
        if now >= s.access_expires {
            return Err(AccessError::Expired);
        }
        s.access_first_used.get_or_insert(now);
        Ok(s.owner.clone())
    }

    /// The session an access or refresh token (current or previous) belongs to.
    pub fn session_of(&self, token: &str) -> Option<Owner> {
        let sid = self.by_access.get(token).or_else(|| self.by_refresh.get(token))?;
        self.sessions.get(sid).map(|s| s.owner.clone())
    }

    /// Ends the session `token` belongs to (all its tokens). False when none matched.
    pub fn revoke(&mut self, token: &str) -> bool {
        let Some(owner) = self.session_of(token) else {
            return false;
        };
        self.remove(&owner.session_id);
        self.stats.revocations += 1;
        true
    }

    /// Makes every live access token expired as of `now`; refresh tokens keep working.
    pub fn expire_all(&mut self, now: Instant) -> usize {
        let mut n = 0;
        for s in self.sessions.values_mut().filter(|s| s.access_expires > now) {
            s.access_expires = now;
            n += 1;
        }
        n
    }

    /// Sessions whose refresh token has not expired.
    pub fn live_sessions(&self, now: Instant) -> usize {
        self.sessions.values().filter(|s| s.refresh_expires > now).count()
    }

    fn remove(&mut self, sid: &str) {
        if let Some(s) = self.sessions.remove(sid) {
            self.by_access.remove(&s.access);
            self.by_refresh.remove(&s.refresh);
            if let Some((prev, _)) = s.previous_refresh {
                self.by_refresh.remove(&prev);
            }
        }
    }
}

/// Whole seconds left until `at`, rounded up so a live token never reports 0.
fn remaining_secs(at: Instant, now: Instant) -> u64 {
    let d = at.saturating_duration_since(now);
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// An opaque random token of `bytes` random bytes, URL-safe base64 without padding.
pub fn new_token(bytes: usize) -> String {
    use base64::Engine;
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
