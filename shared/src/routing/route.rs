//! Choosing the owner of a lead: the first matching rule, else (or when the rule's owner
//! is not active in Snapshots) a round-robin over the fallback team. The decision says
//! which rule won and why, so the run can record it.
//!
//! Round-robin: `INCR {prefix}:route:rr:<team>` picks the next of the team's active owners
//! (sorted by id), shared by every worker, so leads spread evenly across the cluster.

use serde_json::Value;
use snapsync_queue::RedisConn;

use super::error::RoutingError;
use super::rules::{Assign, Rules};
use crate::snapshots::Owner;

/// The rule name recorded when the fallback team was used.
pub const FALLBACK: &str = "fallback";

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub owner: String,
    /// The rule that chose the owner, or [`FALLBACK`].
    pub rule: String,
    pub reason: String,
}

/// Routes leads with a rules file, a Redis connection for round-robin, and a key prefix.
#[derive(Clone)]
pub struct Router {
    rules: Rules,
    redis: RedisConn,
    prefix: String,
    /// The prefix of the call-context keys (`{prefix}:call:last:<e164>`); the deployment's
    /// even when the round-robin counters live elsewhere (the preview's).
    call_prefix: String,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("file", &self.rules.file).field("prefix", &self.prefix).finish()
    }
}

impl Router {
    pub fn new(rules: Rules, redis: RedisConn, prefix: impl Into<String>) -> Router {
        let prefix = prefix.into();
        Router { rules, redis, call_prefix: prefix.clone(), prefix }
    }

    /// Reads the call context under `prefix` instead (the preview counts its round-robin
    /// under a prefix of its own but routes by the deployment's recorded calls).
    pub fn with_call_prefix(mut self, prefix: impl Into<String>) -> Router {
        self.call_prefix = prefix.into();
        self
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Picks the owner of the lead for `contact` (a RingCentral personal contact) whose
    /// owning extension is on `site`. `owners` is Snapshots' `/owners` (the caller caches it).
    /// When a rule has a call condition, the last call with any of the contact's phones is
    /// read (one `MGET`) and the rules see it.
    pub async fn route(&self, contact: &Value, site: Option<&str>, owners: &[Owner]) -> Result<Routed, RoutingError> {
        let mut facts = self.rules.facts(contact, site);
        if self.rules.uses_call() {
            let phones = self.rules.phones(contact);
            facts.call = super::call_context::lookup(&self.redis, &self.call_prefix, &phones).await?;
        }
        let mut why_fallback = "no rule matched".to_string();
        for rule in &self.rules.rules {
            let Some(matched) = rule.matches(&facts) else { continue };
            match &rule.assign {
                Assign::Owner(id) => match owners.iter().find(|o| &o.owner_id == id) {
                    Some(o) if o.active => {
                        return Ok(Routed {
                            owner: id.clone(),
                            rule: rule.name.clone(),
                            reason: format!("rule {:?} matched ({matched})", rule.name),
                        });
                    }
                    Some(_) => {
                        why_fallback =
                            format!("rule {:?} matched ({matched}) but owner {id} is inactive in Snapshots", rule.name)
                    }
                    None => {
                        why_fallback =
                            format!("rule {:?} matched ({matched}) but owner {id} is not in Snapshots", rule.name)
                    }
                },
                Assign::Team(team) => match self.round_robin(team, owners).await? {
                    Some(owner) => {
                        return Ok(Routed {
                            owner,
                            rule: rule.name.clone(),
                            reason: format!("rule {:?} matched ({matched}); round-robin over team {team}", rule.name),
                        });
                    }
                    None => {
                        why_fallback =
                            format!("rule {:?} matched ({matched}) but team {team} has no active owner", rule.name)
                    }
                },
            }
            break;
        }
        let team = &self.rules.fallback_team;
        match self.round_robin(team, owners).await? {
            Some(owner) => Ok(Routed {
                owner,
                rule: FALLBACK.into(),
                reason: format!("{why_fallback}; round-robin over fallback team {team}"),
            }),
            None => Err(RoutingError::NoActiveOwner { team: team.clone(), why: why_fallback }),
        }
    }

    /// The next active owner of `team`, or `None` when it has none.
    async fn round_robin(&self, team: &str, owners: &[Owner]) -> Result<Option<String>, RoutingError> {
        let mut members: Vec<&str> = owners
            .iter()
            .filter(|o| o.active && o.team.as_deref() == Some(team))
            .map(|o| o.owner_id.as_str())
            .collect();
        if members.is_empty() {
            return Ok(None);
        }
        members.sort_unstable();
        let mut conn = self.redis.clone();
        let n: i64 = redis::cmd("INCR")
            .arg(format!("{}:route:rr:{team}", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(|source| RoutingError::Redis { op: "INCR round-robin", source })?;
        let index = (n.max(1) - 1) as usize % members.len();
        Ok(Some(members[index].to_string()))
    }
}
