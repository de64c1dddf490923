//! RingCentral notifications → jobs (the triggers → jobs table of `docs/job-handlers.md`).
//!
//! An envelope is `{uuid, event, timestamp, subscriptionId, ownerId, body}`. The event path
//! (query ignored) says what happened; each known event makes at most one job, enqueued with
//! the unique key `webhook:<uuid>`, so a re-sent notification makes no second job.

use serde::Deserialize;
use serde_json::Value;
use snapsync::jobs::{Payload, RenewSubscription, SyncAccount, TagCall, TagMessage, Trigger, VoicemailFollowUp};
use snapsync_queue::NewJob;

/// Hints of the extension-info event that mean the account changed.
const ACCOUNT_HINTS: [&str; 2] = ["AccountSettings", "AccountStatus"];

/// Why a body is not a usable notification; answered 400 with this text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("body is not a JSON notification envelope: {0}")]
    Envelope(String),
    #[error("notification {uuid} ({event}) is missing `{field}` in its body")]
    Missing { uuid: String, event: String, field: &'static str },
    #[error("notification {uuid} ({event}): `{field}` is not an id: {value}")]
    BadId { uuid: String, event: String, field: &'static str, value: String },
}

/// The notification envelope RingCentral posts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub uuid: String,
    pub event: String,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub body: Value,
}

/// What a notification asks for.
#[derive(Debug)]
pub enum Mapped {
    /// One job, to enqueue with [`Mapped::unique_key`].
    Job(NewJob),
    /// Not an event we act on (logged, answered 200).
    Ignored(&'static str),
}

/// The dedup key of a notification's job.
pub fn unique_key(uuid: &str) -> String {
    format!("webhook:{uuid}")
}

/// Longest `uuid` accepted. RingCentral's are a few dozen characters; a longer one is not a
/// notification, and refusing it keeps a caller's value from becoming a large Redis key (the
/// queue hashes long unique keys too, as a second line).
pub const MAX_UUID: usize = 128;
/// Longest `event` path accepted.
pub const MAX_EVENT: usize = 2048;

/// Parses an envelope; an empty `uuid` or `event` is refused like a missing one, an oversized
/// one by name.
pub fn parse(body: &[u8]) -> Result<Envelope, EventError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| EventError::Envelope(e.to_string()))?;
    if env.uuid.trim().is_empty() || env.event.trim().is_empty() {
        return Err(EventError::Envelope("`uuid` and `event` must not be empty".into()));
    }
    if env.uuid.len() > MAX_UUID {
        return Err(EventError::Envelope(format!(
            "`uuid` is {} bytes long: expected at most {MAX_UUID}",
            env.uuid.len()
        )));
    }
    if env.event.len() > MAX_EVENT {
        return Err(EventError::Envelope(format!(
            "`event` is {} bytes long: expected at most {MAX_EVENT}",
            env.event.len()
        )));
    }
    Ok(env)
}

/// Maps one envelope to its job (or to nothing).
pub fn map(env: &Envelope) -> Result<Mapped, EventError> {
    let path = env.event.split_once('?').map_or(env.event.as_str(), |(p, _)| p);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let missing = |field| EventError::Missing { uuid: env.uuid.clone(), event: env.event.clone(), field };
    let text = |v: &Value, key: &str| match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let job = match segments.as_slice() {
        ["restapi", "v1.0", "account", acc, "extension", ext, "voicemail"] => {
            let message_id = text(&env.body, "id").ok_or_else(|| missing("id"))?;
            let payload = VoicemailFollowUp {
                v: 1,
                uuid: env.uuid.clone(),
                account_id: Some((*acc).to_owned()),
                extension_id: (*ext).to_owned(),
                message_id,
                // The body is the message-store record: the worker need not read it again.
                message: env.body.is_object().then(|| env.body.clone()),
            };
            // Real-time: ahead of any sync backlog (its calls may use the budgets' reserve).
            NewJob::new(VoicemailFollowUp::KIND.as_str(), payload.encode()).at_front()
        }
        ["restapi", "v1.0", "account", acc, "extension", ext, "message-store", "instant"]
        | ["restapi", "v1.0", "account", acc, "extension", ext, "fax"] => {
            let message_id = text(&env.body, "id").ok_or_else(|| missing("id"))?;
            let is_id = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
            for (field, value) in [("id", message_id.as_str()), ("extensionId", *ext)] {
                if !is_id(value) {
                    let value: String = value.chars().take(64).flat_map(char::escape_default).collect();
                    return Err(EventError::BadId { uuid: env.uuid.clone(), event: env.event.clone(), field, value });
                }
            }
            let payload = TagMessage {
                v: 1,
                uuid: env.uuid.clone(),
                account_id: Some((*acc).to_owned()),
                extension_id: (*ext).to_owned(),
                message_id,
                // The body is the message-store record: the worker need not read it again.
                message: env.body.is_object().then(|| env.body.clone()),
            };
            NewJob::new(TagMessage::KIND.as_str(), payload.encode()).at_front()
        }
        ["restapi", "v1.0", "account", _, "extension", _] => {
            let hints: Vec<String> = env
                .body
                .get("hints")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            if !hints.iter().any(|h| ACCOUNT_HINTS.contains(&h.as_str())) {
                return Ok(Mapped::Ignored("extension-info event without an account hint"));
            }
            let payload = SyncAccount { v: 1, trigger: Trigger::Webhook { uuid: env.uuid.clone() }, hints };
            NewJob::new(SyncAccount::KIND.as_str(), payload.encode())
        }
        ["restapi", "v1.0", "subscription", id] => {
            let expires_in = env.body.get("expiresIn").and_then(Value::as_u64).ok_or_else(|| missing("expiresIn"))?;
            let payload = RenewSubscription {
                v: 1,
                trigger: Trigger::Webhook { uuid: env.uuid.clone() },
                subscription_id: Some(env.subscription_id.clone().unwrap_or_else(|| (*id).to_owned())),
                expires_in: Some(expires_in),
            };
            NewJob::new(RenewSubscription::KIND.as_str(), payload.encode())
        }
        ["restapi", "v1.0", "account", acc, "telephony", "sessions"]
        | ["restapi", "v1.0", "account", acc, "extension", _, "telephony", "sessions"] => {
            let parties = env.body.get("parties").and_then(Value::as_array).ok_or_else(|| missing("parties"))?;
            let Some(party) = parties
                .iter()
                .find(|p| p.get("status").and_then(|s| s.get("code")).and_then(Value::as_str) == Some("Disconnected"))
            else {
                return Ok(Mapped::Ignored("telephony session still in progress"));
            };
            let telephony_session_id =
                text(&env.body, "telephonySessionId").ok_or_else(|| missing("telephonySessionId"))?;
            let payload = TagCall {
                v: 1,
                uuid: env.uuid.clone(),
                account_id: Some((*acc).to_owned()),
                extension_id: text(party, "extensionId"),
                telephony_session_id,
                session_id: text(&env.body, "sessionId"),
                result: party.get("status").and_then(|s| text(s, "reason")),
                record: None,
            };
            NewJob::new(TagCall::KIND.as_str(), payload.encode()).at_front()
        }
        _ => return Ok(Mapped::Ignored("no job for this event")),
    };
    Ok(Mapped::Job(job.unique(unique_key(&env.uuid))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(json: &str) -> Result<Mapped, EventError> {
        map(&parse(json.as_bytes())?)
    }

    #[test]
    fn envelopes_missing_uuid_or_event_are_refused() {
        assert!(matches!(parse(b"{\"event\":\"/x\"}"), Err(EventError::Envelope(e)) if e.contains("uuid")));
        assert!(matches!(parse(b"{\"uuid\":\"\",\"event\":\"/x\"}"), Err(EventError::Envelope(_))));
        let huge = format!("{{\"uuid\":\"{}\",\"event\":\"/x\"}}", "u".repeat(200_000));
        let refused = parse(huge.as_bytes()).expect_err("a 200 KB uuid");
        assert!(refused.to_string().contains("at most 128"), "{refused}");
        assert!(refused.to_string().len() < 200, "the error does not echo the value");
        assert!(matches!(parse(b"[1,2]"), Err(EventError::Envelope(_))));
    }

    #[test]
    fn each_event_maps_to_its_kind() {
        let vm = r#"{"uuid":"u1","event":"/restapi/v1.0/account/1/extension/400000101/voicemail","body":{"id":82}}"#;
        let Ok(Mapped::Job(job)) = mapped(vm) else { panic!("voicemail maps to a job") };
        assert_eq!(job.kind, "voicemail_follow_up");
        assert_eq!(job.unique_key.as_deref(), Some("webhook:u1"));
        assert!(job.payload.contains(r#""message_id":"82""#) && job.payload.contains("400000101"), "{}", job.payload);
        let payload = VoicemailFollowUp::decode(&job.payload).expect("decodes");
        assert_eq!(payload.message, Some(serde_json::json!({"id": 82})), "the message rides in the payload");
        let acc = r#"{"uuid":"u2","event":"/restapi/v1.0/account/1/extension/2","body":{"hints":["AccountSettings"]}}"#;
        assert!(matches!(mapped(acc), Ok(Mapped::Job(_))));
        let other = r#"{"uuid":"u3","event":"/restapi/v1.0/account/1/extension/2","body":{"hints":["Features"]}}"#;
        assert!(matches!(mapped(other), Ok(Mapped::Ignored(_))));
        let rem =
            r#"{"uuid":"u4","event":"/restapi/v1.0/subscription/s1?threshold=1&interval=1","body":{"expiresIn":50}}"#;
        assert!(matches!(mapped(rem), Ok(Mapped::Job(_))));
        let tel = r#"{"uuid":"u5","event":"/restapi/v1.0/account/1/telephony/sessions","body":{"telephonySessionId":"s","parties":[{"extensionId":"2","status":{"code":"Disconnected","reason":"Missed"}}]}}"#;
        assert!(matches!(mapped(tel), Ok(Mapped::Job(_))));
        let ringing = r#"{"uuid":"u6","event":"/restapi/v1.0/account/1/telephony/sessions","body":{"telephonySessionId":"s","parties":[{"status":{"code":"Proceeding"}}]}}"#;
        assert!(matches!(mapped(ringing), Ok(Mapped::Ignored(_))));
        assert!(matches!(
            mapped(r#"{"uuid":"u7","event":"/restapi/v1.0/account/1/presence"}"#),
            Ok(Mapped::Ignored(_))
        ));
    }

    #[test]
    fn sms_and_fax_events_map_to_tag_message_with_the_message() {
        let sms = r#"{"uuid":"u8","event":"/restapi/v1.0/account/1/extension/400000101/message-store/instant?type=SMS","body":{"id":"91","type":"SMS","from":{"phoneNumber":"+14155550199"}}}"#;
        let Ok(Mapped::Job(job)) = mapped(sms) else { panic!("an SMS maps to a job") };
        assert_eq!((job.kind.as_str(), job.unique_key.as_deref()), ("tag_message", Some("webhook:u8")));
        let p = TagMessage::decode(&job.payload).expect("decodes");
        assert_eq!((p.extension_id.as_str(), p.message_id.as_str()), ("400000101", "91"));
        assert_eq!(p.message.as_ref().and_then(|m| m["type"].as_str()), Some("SMS"), "the message rides along");
        let fax = r#"{"uuid":"u9","event":"/restapi/v1.0/account/1/extension/400000103/fax?direction=Inbound","body":{"id":92}}"#;
        let Ok(Mapped::Job(job)) = mapped(fax) else { panic!("a fax maps to a job") };
        assert_eq!(TagMessage::decode(&job.payload).expect("decodes").message_id, "92");
        let tel = r#"{"uuid":"u5","event":"/restapi/v1.0/account/1/telephony/sessions","body":{"telephonySessionId":"s","sessionId":"7","parties":[{"extensionId":"2","status":{"code":"Disconnected","reason":"Missed"}}]}}"#;
        let Ok(Mapped::Job(job)) = mapped(tel) else { panic!("an ended call maps to a job") };
        let p = TagCall::decode(&job.payload).expect("decodes");
        assert_eq!((p.telephony_session_id.as_str(), p.result.as_deref(), p.record), ("s", Some("Missed"), None));
    }

    #[test]
    fn malformed_message_and_call_events_are_refused_by_name() {
        let no_id =
            r#"{"uuid":"m1","event":"/restapi/v1.0/account/1/extension/2/message-store/instant?type=SMS","body":{}}"#;
        assert!(matches!(mapped(no_id), Err(EventError::Missing { field: "id", .. })));
        let bad_id = r#"{"uuid":"m2","event":"/restapi/v1.0/account/1/extension/2/fax","body":{"id":"../../x\n"}}"#;
        let err = mapped(bad_id).unwrap_err();
        assert!(matches!(err, EventError::BadId { field: "id", .. }), "{err}");
        assert!(!err.to_string().contains('\n'), "the value is escaped: {err}");
        let no_parties =
            r#"{"uuid":"c1","event":"/restapi/v1.0/account/1/telephony/sessions","body":{"telephonySessionId":"s"}}"#;
        assert!(matches!(mapped(no_parties), Err(EventError::Missing { field: "parties", .. })));
        let no_session = r#"{"uuid":"c2","event":"/restapi/v1.0/account/1/telephony/sessions","body":{"parties":[{"status":{"code":"Disconnected"}}]}}"#;
        assert!(matches!(mapped(no_session), Err(EventError::Missing { field: "telephonySessionId", .. })));
    }

    #[test]
    fn known_events_without_their_ids_are_refused_by_name() {
        let vm = r#"{"uuid":"u1","event":"/restapi/v1.0/account/1/extension/2/voicemail","body":{}}"#;
        let err = mapped(vm).unwrap_err();
        assert!(err.to_string().contains("`id`") && err.to_string().contains("u1"), "{err}");
    }
}
