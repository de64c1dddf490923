//! Token lifetimes and grace windows. RingCentral's values by default; tests compress them
//! through `PUT /sandbox/oauth/timings`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::sessions::TtlRequest;

/// The longest any timing may be set to (10 years), so instants never overflow.
const MAX_SECS: f64 = 315_360_000.0;

/// Lifetimes the OAuth stand-in applies.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthTimings {
    /// Default and maximum access-token lifetime (RingCentral: 3600 s).
    pub access_ttl: Duration,
    /// Default and maximum refresh-token lifetime (RingCentral: 604800 s).
    pub refresh_ttl: Duration,
    /// How long the previous refresh token keeps working once the new access token has
    /// been used (~10 s).
    pub grace_used: Duration,
    /// How long the previous refresh token keeps working while the new access token is
    /// unused (60 min).
    pub grace_unused: Duration,
    /// How long a rotated-away access token answers OAU-129 before OAU-213 (~10 s).
    pub corrupted: Duration,
    /// Authorization-code lifetime (`expires_in=60` on the redirect).
    pub code_ttl: Duration,
}

impl Default for OAuthTimings {
    fn default() -> Self {
        OAuthTimings {
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(604_800),
            grace_used: Duration::from_secs(10),
            grace_unused: Duration::from_secs(3600),
            corrupted: Duration::from_secs(10),
            code_ttl: Duration::from_secs(60),
        }
    }
}

/// The body of `PUT /sandbox/oauth/timings`: seconds (fractions allowed), all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingsPatch {
    pub access_ttl_secs: Option<f64>,
    pub refresh_ttl_secs: Option<f64>,
    pub grace_used_secs: Option<f64>,
    pub grace_unused_secs: Option<f64>,
    pub corrupted_secs: Option<f64>,
    pub code_ttl_secs: Option<f64>,
}

impl OAuthTimings {
    /// The lifetimes a token request gets. `access_token_ttl` is honoured within 600..default
    /// (below 600 is raised, above the default clamped; API page §1.3); when tests have
    /// compressed the default below 600, the default wins. `refresh_token_ttl` may only
    /// shorten the default.
    pub fn effective(&self, req: TtlRequest) -> (Duration, Duration) {
        let access = match req.access {
            Some(secs) => {
                let floor = Duration::from_secs(600).min(self.access_ttl);
                Duration::from_secs(secs).clamp(floor, self.access_ttl)
            }
            None => self.access_ttl,
        };
        let refresh = match req.refresh {
            Some(secs) if secs > 0 => Duration::from_secs(secs).min(self.refresh_ttl),
            _ => self.refresh_ttl,
        };
        (access, refresh)
    }

    /// Applies a patch; on error nothing changes and every bad field is named.
    pub fn apply(&mut self, patch: &TimingsPatch) -> Result<(), String> {
        let fields = [
            ("access_ttl_secs", patch.access_ttl_secs),
            ("refresh_ttl_secs", patch.refresh_ttl_secs),
            ("grace_used_secs", patch.grace_used_secs),
            ("grace_unused_secs", patch.grace_unused_secs),
            ("corrupted_secs", patch.corrupted_secs),
            ("code_ttl_secs", patch.code_ttl_secs),
        ];
        let problems: Vec<String> = fields
            .iter()
            .filter_map(|(name, v)| match v {
                Some(s) if !(s.is_finite() && *s > 0.0 && *s <= MAX_SECS) => {
                    Some(format!("{name} must be a number of seconds above 0 and at most {MAX_SECS}, got {s}"))
                }
                _ => None,
            })
            .collect();
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let set = |slot: &mut Duration, v: Option<f64>| {
            if let Some(s) = v {
                *slot = Duration::from_secs_f64(s);
            }
        };
        set(&mut self.access_ttl, patch.access_ttl_secs);
        set(&mut self.refresh_ttl, patch.refresh_ttl_secs);
        set(&mut self.grace_used, patch.grace_used_secs);
        set(&mut self.grace_unused, patch.grace_unused_secs);
        set(&mut self.corrupted, patch.corrupted_secs);
        set(&mut self.code_ttl, patch.code_ttl_secs);
        Ok(())
    }

    /// The timings as `GET`/`PUT /sandbox/oauth/timings` report them.
    pub fn to_json(&self) -> Value {
        json!({
            "access_ttl_secs": self.access_ttl.as_secs_f64(),
            "refresh_ttl_secs": self.refresh_ttl.as_secs_f64(),
            "grace_used_secs": self.grace_used.as_secs_f64(),
            "grace_unused_secs": self.grace_unused.as_secs_f64(),
            "corrupted_secs": self.corrupted.as_secs_f64(),
            "code_ttl_secs": self.code_ttl.as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_ttl_is_clamped_to_600_and_the_default() {
        let t = OAuthTimings::default();
        let eff = |a| t.effective(TtlRequest { access: Some(a), refresh: None }).0.as_secs();
        assert_eq!(eff(100), 600);
        assert_eq!(eff(1800), 1800);
        assert_eq!(eff(7200), 3600);
        let short = OAuthTimings { access_ttl: Duration::from_secs(2), ..OAuthTimings::default() };
        assert_eq!(short.effective(TtlRequest { access: Some(3600), refresh: None }).0.as_secs(), 2);
    }

    #[test]
    fn bad_patch_changes_nothing() {
        let mut t = OAuthTimings::default();
        let patch = TimingsPatch { access_ttl_secs: Some(5.0), grace_used_secs: Some(-1.0), ..Default::default() };
        assert!(t.apply(&patch).unwrap_err().contains("grace_used_secs"));
        assert_eq!(t, OAuthTimings::default());
    }
}
