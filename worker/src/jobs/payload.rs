//! The job payloads the handlers read: versioned JSON (`"v": 1`), one struct per kind.
//!
//! Defined here until the shared payload types (`snapsync::jobs`) land; the field names are
//! the ones the producer writes. A payload of an unknown version or shape is a permanent
//! error: retrying cannot make it readable.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::failure::HandlerError;

/// The only payload version this worker reads.
pub const VERSION: u32 = 1;

fn v1() -> u32 {
    VERSION
}

/// `sync_locations`: sites and emergency locations → `/locations`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncLocations {
    #[serde(default = "v1")]
    pub v: u32,
}

/// `sync_account`: account info, business address and operator → `/accounts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncAccount {
    #[serde(default = "v1")]
    pub v: u32,
}

/// `sync_contacts`: one extension's address book, or (without `extension_id`) a fan-out of
/// one `sync_contacts` job per user extension, so each job makes one Heavy call and a 429
/// retries only that extension.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncContacts {
    #[serde(default = "v1")]
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_id: Option<String>,
}

/// `upsert_contact`: one changed contact, as address-book sync returned it (carried in the
/// payload so the upsert needs no second Heavy read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpsertContact {
    #[serde(default = "v1")]
    pub v: u32,
    /// The extension whose address book holds the contact.
    pub extension_id: String,
    /// That extension's site, for routing.
    #[serde(default)]
    pub site_id: Option<String>,
    /// The RingCentral contact record (`availability` `Deleted`/`Purged` for deletions).
    pub contact: Value,
}

/// `voicemail_follow_up`: a voicemail message → a follow-up activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoicemailFollowUp {
    #[serde(default = "v1")]
    pub v: u32,
    pub extension_id: String,
    pub message_id: String,
}

/// `renew_subscription`: renew a webhook subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenewSubscription {
    #[serde(default = "v1")]
    pub v: u32,
    pub subscription_id: String,
}

/// Something every payload has: its version.
pub trait Versioned {
    fn version(&self) -> u32;
}

macro_rules! versioned {
    ($($t:ty),*) => { $(impl Versioned for $t { fn version(&self) -> u32 { self.v } })* };
}
versioned!(SyncLocations, SyncAccount, SyncContacts, UpsertContact, VoicemailFollowUp, RenewSubscription);

/// Decodes `payload` as the payload of `kind`.
pub fn decode<T: DeserializeOwned + Versioned>(kind: &str, payload: Value) -> Result<T, HandlerError> {
    let p: T = serde_json::from_value(payload)
        .map_err(|e| HandlerError::Payload(format!("{kind} payload is not as expected: {e}")))?;
    if p.version() != VERSION {
        return Err(HandlerError::Payload(format!(
            "{kind} payload version {} is not supported (this worker reads version {VERSION})",
            p.version()
        )));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_and_refuses_bad_payloads() {
        let p: UpsertContact =
            decode("upsert_contact", json!({"extension_id": "1", "contact": {"id": "5"}})).expect("decodes");
        assert_eq!(p.v, 1);
        let e = decode::<UpsertContact>("upsert_contact", json!({"contact": {}})).unwrap_err();
        assert!(e.to_string().contains("upsert_contact payload") && e.to_string().contains("extension_id"), "{e}");
        let e = decode::<SyncLocations>("sync_locations", json!({"v": 2})).unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");
    }
}
