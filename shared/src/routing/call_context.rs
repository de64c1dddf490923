//! The call that brought a contact in: what `tag_call` remembers of the last call with a
//! number, for the rules' call conditions (`call_site`, `call_extension`, `call_direction`,
//! `call_result`, `dialled_number`).
//!
//! One key per other party's number (E.164): `{prefix}:call:last:<e164>` → the JSON of a
//! [`CallContext`], kept for [`CONTEXT_TTL`]. A call older than the one stored (a catch-up
//! job behind the webhook's, a retried job) does not replace it: the comparison is on the
//! call's `startTime` (RFC 3339 in UTC as RingCentral writes it, so ordered as text).

use redis::Script;
use serde::{Deserialize, Serialize};
use snapsync_queue::RedisConn;

use super::error::RoutingError;

/// How long the last call with a number is remembered.
pub const CONTEXT_TTL: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// The last call with one number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallContext {
    /// The call-log record's id.
    pub call_id: String,
    /// The site of the extension that handled the call.
    #[serde(default)]
    pub site: Option<String>,
    /// The extension that handled the call.
    #[serde(default)]
    pub extension_id: Option<String>,
    /// `Inbound` or `Outbound`.
    #[serde(default)]
    pub direction: Option<String>,
    /// `answered`, `missed` or `voicemail` (see [`call_result`]).
    #[serde(default)]
    pub result: Option<String>,
    /// The number the caller dialled (E.164 when it reads as one): of an inbound call, the
    /// company's number that was called (a campaign line, say).
    #[serde(default)]
    pub dialled_number: Option<String>,
    /// The call's `startTime`.
    #[serde(default)]
    pub at: Option<String>,
}

/// RingCentral's call-log `result` as the rules see it: `Voicemail` → `voicemail`;
/// `Accepted`, `Call connected` → `answered`; any other result (`Missed`, `No Answer`,
/// `Busy`, `Rejected`, `Hang Up`, `Abandoned`, ...) → `missed`.
pub fn call_result(result: &str) -> &'static str {
    match result.trim().to_ascii_lowercase().as_str() {
        "voicemail" => "voicemail",
        "accepted" | "call connected" => "answered",
        _ => "missed",
    }
}

/// The Redis key of the last call with `e164`.
pub fn key(prefix: &str, e164: &str) -> String {
    format!("{prefix}:call:last:{e164}")
}

const RECORD: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur and ARGV[2] ~= '' then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == 'table' and type(old['at']) == 'string' and old['at'] > ARGV[2] then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
"#;

/// Remembers `context` as the last call with `e164`, unless a later call is stored; `true`
/// when it was stored.
pub async fn record(redis: &RedisConn, prefix: &str, e164: &str, context: &CallContext) -> Result<bool, RoutingError> {
    let json = serde_json::to_string(context).unwrap_or_default();
    let stored: i64 = Script::new(RECORD)
        .key(key(prefix, e164))
        .arg(json)
        .arg(context.at.as_deref().unwrap_or(""))
        .arg(CONTEXT_TTL.as_millis() as u64)
        .invoke_async(&mut redis.clone())
        .await
        .map_err(|source| RoutingError::Redis { op: "SET last call", source })?;
    Ok(stored == 1)
}

/// The latest call with any of `phones` (E.164), if one is remembered. A stored value that
/// does not read (written by another release) counts as none.
pub async fn lookup(redis: &RedisConn, prefix: &str, phones: &[String]) -> Result<Option<CallContext>, RoutingError> {
    if phones.is_empty() {
        return Ok(None);
    }
    let keys: Vec<String> = phones.iter().map(|p| key(prefix, p)).collect();
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&keys)
        .query_async(&mut redis.clone())
        .await
        .map_err(|source| RoutingError::Redis { op: "MGET last call", source })?;
    Ok(values
        .into_iter()
        .flatten()
        .filter_map(|v| serde_json::from_str::<CallContext>(&v).ok())
        .max_by(|a, b| a.at.cmp(&b.at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_as_answered_missed_or_voicemail() {
        assert_eq!(call_result("Voicemail"), "voicemail");
        assert_eq!(call_result("Accepted"), "answered");
        assert_eq!(call_result("Call connected"), "answered");
        for r in ["Missed", "No Answer", "Busy", "Rejected", "Hang Up", "Abandoned", "Unknown", ""] {
            assert_eq!(call_result(r), "missed", "{r}");
        }
    }
}
