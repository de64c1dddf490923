//! RingCentral's resources with RingCentral's field names (camelCase). Only the fields the
//! pipeline reads are typed; unknown fields are ignored, every field is optional unless
//! RingCentral always sends it, and ids are `String` whether sent as numbers or strings
//! (the spec says int64, samples and event bodies use strings).

use serde::{Deserialize, Deserializer, Serialize};

/// Accepts `123` and `"123"`.
pub fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(i64),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
    })
}

fn opt_id_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "id_string")] String);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

/// `{id, uri, name, extensionNumber}` references (operator, site, owner...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Reference {
    #[serde(deserialize_with = "opt_id_string", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub uri: Option<String>,
    pub name: Option<String>,
    pub extension_number: Option<String>,
}

/// Street address as sites, business address and contacts carry it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    pub street: Option<String>,
    pub street2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub state_name: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub country_iso_code: Option<String>,
    pub country_name: Option<String>,
    pub customer_name: Option<String>,
}

/// `GET /account/{accountId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub uri: Option<String>,
    pub main_number: Option<String>,
    pub status: Option<String>,
    pub setup_wizard_state: Option<String>,
    pub operator: Option<Reference>,
    pub service_info: Option<serde_json::Value>,
    pub regional_settings: Option<serde_json::Value>,
}

/// `GET /account/{accountId}/business-address`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessAddressInfo {
    pub uri: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub main_site_name: Option<String>,
    pub business_address: Option<Address>,
}

/// An extension's `contact` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExtensionContact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub business_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub business_address: Option<Address>,
}

/// One extension (list record or `GET /extension/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub uri: Option<String>,
    pub extension_number: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub contact: ExtensionContact,
    pub site: Option<Reference>,
}

/// `GET /account/{accountId}/sites` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub uri: Option<String>,
    pub name: Option<String>,
    pub extension_number: Option<String>,
    pub caller_id_name: Option<String>,
    pub email: Option<String>,
    pub code: Option<String>,
    pub business_address: Option<Address>,
    pub operator: Option<Reference>,
}

/// `GET /account/{accountId}/emergency-locations` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyLocation {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub uri: Option<String>,
    pub name: Option<String>,
    pub address: Option<Address>,
    pub site: Option<Reference>,
    pub address_status: Option<String>,
    pub usage_status: Option<String>,
    pub sync_status: Option<String>,
    pub visibility: Option<String>,
}

/// A personal contact (`address-book/contact`, `address-book-sync` records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub uri: Option<String>,
    /// `Alive`, `Deleted` or `Purged` (sync answers carry deleted ones).
    pub availability: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub nick_name: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub email: Option<String>,
    pub email2: Option<String>,
    pub email3: Option<String>,
    pub business_phone: Option<String>,
    pub business_phone2: Option<String>,
    pub mobile_phone: Option<String>,
    pub home_phone: Option<String>,
    pub company_phone: Option<String>,
    pub other_phone: Option<String>,
    pub business_fax: Option<String>,
    pub web_page: Option<String>,
    pub notes: Option<String>,
    pub business_address: Option<Address>,
    pub home_address: Option<Address>,
    pub other_address: Option<Address>,
}

impl Contact {
    pub fn is_deleted(&self) -> bool {
        matches!(self.availability.as_deref(), Some("Deleted") | Some("Purged"))
    }
}

/// `syncInfo` of an address-book-sync answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncInfo {
    pub sync_type: Option<String>,
    pub sync_token: Option<String>,
    pub sync_time: Option<String>,
    pub older_records_exist: Option<bool>,
}

/// One page of `GET .../address-book-sync`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressBookSyncPage {
    #[serde(default)]
    pub records: Vec<Contact>,
    pub sync_info: SyncInfo,
    #[serde(default, deserialize_with = "opt_id_string")]
    pub next_page_id: Option<String>,
}

/// A caller or callee (`from`, `to[]`) of a message or call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Party {
    pub phone_number: Option<String>,
    pub extension_number: Option<String>,
    #[serde(deserialize_with = "opt_id_string", skip_serializing_if = "Option::is_none")]
    pub extension_id: Option<String>,
    pub name: Option<String>,
    pub location: Option<String>,
}

/// An attachment of a message (voicemail audio, transcription...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub uri: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub content_type: Option<String>,
    pub vm_duration: Option<u64>,
}

/// `GET .../message-store/{messageId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub uri: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub direction: Option<String>,
    pub availability: Option<String>,
    pub read_status: Option<String>,
    pub message_status: Option<String>,
    pub creation_time: Option<String>,
    pub last_modified_time: Option<String>,
    pub subject: Option<String>,
    pub from: Option<Party>,
    #[serde(default)]
    pub to: Vec<Party>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub vm_transcription_status: Option<String>,
}

/// One call-log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallLogRecord {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub uri: Option<String>,
    pub session_id: Option<String>,
    pub telephony_session_id: Option<String>,
    pub start_time: Option<String>,
    pub duration: Option<u64>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub direction: Option<String>,
    pub action: Option<String>,
    pub result: Option<String>,
    pub from: Option<Party>,
    pub to: Option<Party>,
    pub extension: Option<Reference>,
    pub message: Option<Reference>,
    pub last_modified_time: Option<String>,
}

/// `deliveryMode` of a subscription (the verification token is write-only: sent on
/// create, never returned).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMode {
    pub transport_type: String,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<bool>,
}

impl std::fmt::Debug for DeliveryMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryMode")
            .field("transport_type", &self.transport_type)
            .field("address", &self.address)
            .field("verification_token", &self.verification_token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// Blacklisting details of a subscription RingCentral gave up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlacklistedData {
    pub blacklisted_at: Option<String>,
    pub reason: Option<String>,
}

/// `SubscriptionInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub uri: Option<String>,
    #[serde(default)]
    pub event_filters: Vec<String>,
    pub expiration_time: Option<String>,
    pub expires_in: Option<u64>,
    /// `Active`, `Blacklisted` (older: `Suspended`).
    pub status: Option<String>,
    pub creation_time: Option<String>,
    pub delivery_mode: Option<DeliveryMode>,
    pub blacklisted_data: Option<BlacklistedData>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_numbers_or_strings_and_extra_fields() {
        let c: Contact =
            serde_json::from_str(r#"{"id":500000001,"firstName":"A","unknownField":{"x":1},"availability":"Alive"}"#)
                .unwrap();
        assert_eq!(c.id, "500000001");
        let m: Message = serde_json::from_str(r#"{"id":"82063400004","from":{"extensionId":7},"to":[]}"#).unwrap();
        assert_eq!(m.id, "82063400004");
        assert_eq!(m.from.and_then(|f| f.extension_id).as_deref(), Some("7"));
    }

    #[test]
    fn verification_token_is_redacted() {
        let d = DeliveryMode {
            transport_type: "WebHook".into(),
            address: "http://x".into(),
            verification_token: Some("hunter2-verif".into()),
            encryption: None,
        };
        assert!(!format!("{d:?}").contains("hunter2"));
    }
}
