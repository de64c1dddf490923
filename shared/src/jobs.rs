//! Job kinds and their payloads. Each kind names one handler in the worker; each payload is
//! a small versioned JSON object `{"v":1, ...}` ([`Payload::encode`], [`Payload::decode`]).
//!
//! Versioning: `v` is the payload's format version. A handler decodes only the versions it
//! knows ([`PayloadError::Version`] otherwise, a permanent error), so a producer of a newer
//! release never feeds an old worker a payload it would misread. Adding an optional field
//! does not bump `v`; renaming or changing the meaning of one does.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The kinds of work the producer hands to workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    SyncLocations,
    SyncAccount,
    SyncContacts,
    UpsertContact,
    VoicemailFollowUp,
    TagCall,
    TagMessage,
    SyncCalls,
    SyncMessages,
    RenewSubscription,
}

impl JobKind {
    /// Every kind, in a stable order (used by inspection and metrics).
    pub const ALL: [JobKind; 10] = [
        JobKind::SyncLocations,
        JobKind::SyncAccount,
        JobKind::SyncContacts,
        JobKind::UpsertContact,
        JobKind::VoicemailFollowUp,
        JobKind::TagCall,
        JobKind::TagMessage,
        JobKind::SyncCalls,
        JobKind::SyncMessages,
        JobKind::RenewSubscription,
    ];

    /// The kind's name as it appears in Redis keys, logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::SyncLocations => "sync_locations",
            JobKind::SyncAccount => "sync_account",
            JobKind::SyncContacts => "sync_contacts",
            JobKind::UpsertContact => "upsert_contact",
            JobKind::VoicemailFollowUp => "voicemail_follow_up",
            JobKind::TagCall => "tag_call",
            JobKind::TagMessage => "tag_message",
            JobKind::SyncCalls => "sync_calls",
            JobKind::SyncMessages => "sync_messages",
            JobKind::RenewSubscription => "renew_subscription",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether the kind's calls count as real-time for the rate limiter: a voicemail
    /// follow-up (and the subscription that brings the events) may use the share of each
    /// budget a bulk sync leaves free, so it lands in seconds in the middle of a sync.
    pub fn is_realtime(self) -> bool {
        match self {
            JobKind::VoicemailFollowUp | JobKind::TagCall | JobKind::TagMessage | JobKind::RenewSubscription => true,
            JobKind::SyncLocations
            | JobKind::SyncAccount
            | JobKind::SyncContacts
            | JobKind::UpsertContact
            | JobKind::SyncCalls
            | JobKind::SyncMessages => false,
        }
    }
}

/// The payload format version this release writes and reads.
pub const PAYLOAD_VERSION: u32 = 1;

/// Why a job's payload could not be read. Permanent: a retry would read the same bytes.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("{kind} payload is not valid JSON for its type: {source}")]
    Json {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{kind} payload has version {found:?}; this release reads v{PAYLOAD_VERSION}")]
    Version { kind: &'static str, found: Option<u64> },
}

/// What started a job: a schedule tick or a webhook notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// A scheduler tick; `tick_ms` is the tick's start (Unix ms), also in the job's unique key.
    Schedule { tick_ms: i64 },
    /// A RingCentral notification; `uuid` is the envelope's, also in the job's unique key.
    Webhook { uuid: String },
    /// Started by hand (CLI or admin API).
    Manual,
}

/// A job payload type: its kind and the versioned JSON it travels as.
pub trait Payload: Serialize + DeserializeOwned {
    const KIND: JobKind;

    /// The JSON text to enqueue (`v` is the struct's own field).
    fn encode(&self) -> String {
        // Serialising these plain structs (strings, numbers, enums) cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("payload structs always serialise"))
    }

    /// Reads a payload; refuses any version but [`PAYLOAD_VERSION`] with [`PayloadError::Version`].
    fn decode(text: &str) -> Result<Self, PayloadError> {
        let kind = Self::KIND.as_str();
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| PayloadError::Json { kind, source })?;
        let found = value.get("v").and_then(|v| v.as_u64());
        if found != Some(u64::from(PAYLOAD_VERSION)) {
            return Err(PayloadError::Version { kind, found });
        }
        serde_json::from_value(value).map_err(|source| PayloadError::Json { kind, source })
    }
}

fn v1() -> u32 {
    PAYLOAD_VERSION
}

/// `sync_locations`: sites and emergency locations → Snapshots `/locations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLocations {
    #[serde(default = "v1")]
    pub v: u32,
    pub trigger: Trigger,
}

/// `sync_account`: the account, its business address and operator → Snapshots `/accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAccount {
    #[serde(default = "v1")]
    pub v: u32,
    pub trigger: Trigger,
    /// The extension-info event's `hints` (`AccountSettings`, `AccountStatus`); empty on a tick.
    #[serde(default)]
    pub hints: Vec<String>,
}

/// `sync_contacts`: address-book sync (ISync, FSync on an invalid token); one
/// `upsert_contact` per changed contact. `extension_id` `None` = every synced extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncContacts {
    #[serde(default = "v1")]
    pub v: u32,
    pub trigger: Trigger,
    #[serde(default)]
    pub extension_id: Option<String>,
    /// The extension's site as the fan-out's listing of extensions gave it, so the sync of
    /// one extension needs no read of the extension; absent → the worker reads
    /// `extension/{extension_id}` (Light) for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_site: Option<ExtensionSite>,
}

/// An extension's site (`site.id` of RingCentral's extension record; `None`: it has none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionSite {
    #[serde(default)]
    pub id: Option<String>,
}

/// `upsert_contact`: one personal contact → a Snapshots lead (enqueued by `sync_contacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertContact {
    #[serde(default = "v1")]
    pub v: u32,
    pub extension_id: String,
    pub contact_id: String,
    /// The contact as address-book sync returned it, so the upsert needs no second Heavy
    /// read; absent → the worker reads `address-book/contact/{contact_id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<serde_json::Value>,
    /// The site of `extension_id`, for owner routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<String>,
    /// When `contact` was read: the address-book sync's `syncTime`. The lead is written only if
    /// no later read of the contact was written already (an upsert of an older read, retried
    /// or delayed behind a newer one, is skipped as stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    /// The contacts sync (its job id) that queued this upsert: its outcome is counted in that
    /// sync's results (`created`, `updated`, `unchanged`, `deleted`, `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// `voicemail_follow_up`: the message `message_id` of `extension_id` (carried, or read from
/// `message-store/{message_id}`) → the follow-up activity for the lead's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoicemailFollowUp {
    #[serde(default = "v1")]
    pub v: u32,
    /// The notification's `uuid`.
    pub uuid: String,
    pub account_id: Option<String>,
    pub extension_id: String,
    pub message_id: String,
    /// The message as the voicemail notification carried it (its body is the message-store
    /// record), so the follow-up needs no second read; absent → the worker reads
    /// `message-store/{message_id}` (Light).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<serde_json::Value>,
}

/// `tag_call`: a call ended (telephony session `Disconnected`, or a record the call-log
/// catch-up `sync_calls` found); find its call-log record and tag an activity with the
/// extension's location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCall {
    #[serde(default = "v1")]
    pub v: u32,
    /// The notification's `uuid`; empty for a job of the catch-up.
    #[serde(default)]
    pub uuid: String,
    pub account_id: Option<String>,
    /// The extension whose party disconnected.
    pub extension_id: Option<String>,
    pub telephony_session_id: String,
    /// The call-log `sessionId`, when the event carried it.
    pub session_id: Option<String>,
    /// The party's status reason (`Accepted`, `Missed`, `Voicemail`, ...).
    pub result: Option<String>,
    /// The call-log record itself, when the catch-up (`sync_calls`) read it: the worker
    /// need not look it up; absent → it is found by `telephony_session_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
}

/// `tag_message`: an inbound SMS (`.../message-store/instant?type=SMS`) or fax
/// (`.../fax?direction=Inbound`) → an activity of type `message` tagged with the location of
/// the extension that received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagMessage {
    #[serde(default = "v1")]
    pub v: u32,
    /// The notification's `uuid`.
    pub uuid: String,
    pub account_id: Option<String>,
    pub extension_id: String,
    pub message_id: String,
    /// The message as the notification carried it (the message-store record); absent → the
    /// worker reads `message-store/{message_id}` (Light).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<serde_json::Value>,
}

/// `sync_calls`: the catch-up of ended calls by the account's call-log sync (FSync the first
/// time, ISync after): one `tag_call` per record, unique per call-log id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCalls {
    #[serde(default = "v1")]
    pub v: u32,
    pub trigger: Trigger,
}

/// `sync_messages`: the catch-up of inbound SMS and faxes by the message-store sync of the
/// mailbox the events come from (FSync the first time, ISync after): one `tag_message` per
/// message, unique per message id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMessages {
    #[serde(default = "v1")]
    pub v: u32,
    pub trigger: Trigger,
}

/// `renew_subscription`: bring the webhook subscription to a good state
/// (`snapsync::subscription::ensure`: reuse, renew, recreate when blacklisted, drop duplicates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewSubscription {
    #[serde(default = "v1")]
    pub v: u32,
    pub trigger: Trigger,
    /// The subscription the renewal reminder was about, if it came from one.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// Seconds left, from the reminder's body.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl Payload for SyncLocations {
    const KIND: JobKind = JobKind::SyncLocations;
}
impl Payload for SyncAccount {
    const KIND: JobKind = JobKind::SyncAccount;
}
impl Payload for SyncContacts {
    const KIND: JobKind = JobKind::SyncContacts;
}
impl Payload for UpsertContact {
    const KIND: JobKind = JobKind::UpsertContact;
}
impl Payload for VoicemailFollowUp {
    const KIND: JobKind = JobKind::VoicemailFollowUp;
}
impl Payload for TagCall {
    const KIND: JobKind = JobKind::TagCall;
}
impl Payload for TagMessage {
    const KIND: JobKind = JobKind::TagMessage;
}
impl Payload for SyncCalls {
    const KIND: JobKind = JobKind::SyncCalls;
}
impl Payload for SyncMessages {
    const KIND: JobKind = JobKind::SyncMessages;
}
impl Payload for RenewSubscription {
    const KIND: JobKind = JobKind::RenewSubscription;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_with_version() {
        let vm = VoicemailFollowUp {
            v: 1,
            uuid: "u-1".into(),
            account_id: Some("1".into()),
            extension_id: "400000101".into(),
            message_id: "82".into(),
            message: None,
        };
        let text = vm.encode();
        assert!(text.starts_with(r#"{"v":1,"#), "{text}");
        assert_eq!(VoicemailFollowUp::decode(&text).unwrap(), vm);
        let tick = SyncLocations { v: 1, trigger: Trigger::Schedule { tick_ms: 60_000 } };
        assert_eq!(tick.encode(), r#"{"v":1,"trigger":{"type":"schedule","tick_ms":60000}}"#);
        assert_eq!(SyncLocations::decode(&tick.encode()).unwrap(), tick);
    }

    #[test]
    fn other_versions_and_bad_json_are_refused_with_the_kind() {
        let err = SyncLocations::decode(r#"{"v":2,"trigger":{"type":"manual"}}"#).unwrap_err();
        assert!(matches!(err, PayloadError::Version { found: Some(2), .. }), "{err}");
        assert!(err.to_string().contains("sync_locations"), "{err}");
        let err = SyncLocations::decode(r#"{"trigger":{"type":"manual"}}"#).unwrap_err();
        assert!(matches!(err, PayloadError::Version { found: None, .. }), "{err}");
        let err = TagCall::decode("{not json").unwrap_err();
        assert!(matches!(err, PayloadError::Json { kind: "tag_call", .. }), "{err}");
        let err = TagCall::decode(r#"{"v":1,"uuid":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("telephony_session_id"), "{err}");
    }

    #[test]
    fn names_match_serde() {
        for kind in JobKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
