//! Typed reads the pipeline needs. Paths use `~` for "the token's account" (RingCentral's
//! documented default); lists are read through every page.

use super::error::RcError;
use super::types::{AccountInfo, BusinessAddressInfo, CallLogRecord, EmergencyLocation, Extension, Message, Site};
use super::RingCentral;

const ACCOUNT: &str = "/restapi/v1.0/account/~";

/// Rejects ids that would change the path (`/`, `?`, `#`, `..`): they come from webhook
/// bodies and job payloads.
pub(crate) fn path_id<'a>(what: &'static str, id: &'a str) -> Result<&'a str, RcError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_~".contains(c));
    if ok {
        Ok(id)
    } else {
        Err(RcError::InvalidId { what, id: id.chars().take(80).collect() })
    }
}

impl RingCentral {
    /// `GET /account/~` (Light).
    pub async fn account_info(&self) -> Result<AccountInfo, RcError> {
        Ok(self.get_json(ACCOUNT, &[]).await?.value)
    }

    /// `GET /account/~/business-address` (Light): company name, email, address.
    pub async fn business_address(&self) -> Result<BusinessAddressInfo, RcError> {
        Ok(self.get_json(&format!("{ACCOUNT}/business-address"), &[]).await?.value)
    }

    /// `GET /account/~/extension` (Medium), all pages; `query` adds filters such as
    /// `("status", "Enabled")`, `("type", "User")` or `("perPage", "100")`.
    pub async fn extensions(&self, query: &[(&str, String)]) -> Result<Vec<Extension>, RcError> {
        self.pages(&format!("{ACCOUNT}/extension"), query).await
    }

    /// `GET /account/~/extension/{extensionId}` (Light); `~` is the token's own extension.
    pub async fn extension(&self, extension_id: &str) -> Result<Extension, RcError> {
        let id = path_id("extensionId", extension_id)?;
        Ok(self.get_json(&format!("{ACCOUNT}/extension/{id}"), &[]).await?.value)
    }

    /// `GET /account/~/sites` (Light), all pages.
    pub async fn sites(&self) -> Result<Vec<Site>, RcError> {
        self.pages(&format!("{ACCOUNT}/sites"), &[]).await
    }

    /// `GET /account/~/emergency-locations` (Light), all pages; `query` adds filters
    /// (`siteId`, `addressStatus`, `usageStatus`, `perPage`...).
    pub async fn emergency_locations(&self, query: &[(&str, String)]) -> Result<Vec<EmergencyLocation>, RcError> {
        self.pages(&format!("{ACCOUNT}/emergency-locations"), query).await
    }

    /// `GET /account/~/extension/{extensionId}/message-store/{messageId}` (Light).
    pub async fn message(&self, extension_id: &str, message_id: &str) -> Result<Message, RcError> {
        let ext = path_id("extensionId", extension_id)?;
        let msg = path_id("messageId", message_id)?;
        Ok(self.get_json(&format!("{ACCOUNT}/extension/{ext}/message-store/{msg}"), &[]).await?.value)
    }

    /// `GET .../extension/{extensionId}/call-log` (Heavy), all pages; without `dateFrom`
    /// RingCentral returns only the last 24 hours.
    pub async fn call_log(&self, extension_id: &str, query: &[(&str, String)]) -> Result<Vec<CallLogRecord>, RcError> {
        let ext = path_id("extensionId", extension_id)?;
        self.pages(&format!("{ACCOUNT}/extension/{ext}/call-log"), query).await
    }

    /// `GET /account/~/call-log` (Heavy): the whole account's calls, all pages.
    pub async fn account_call_log(&self, query: &[(&str, String)]) -> Result<Vec<CallLogRecord>, RcError> {
        self.pages(&format!("{ACCOUNT}/call-log"), query).await
    }

    /// `GET /account/~/call-log?telephonySessionId=...` (Heavy): the account's call-log
    /// records of one telephony session (one per party that has one; empty while RingCentral
    /// has not written it yet, which takes a little while after the call ends).
    /// The records come as RingCentral wrote them, every field kept.
    pub async fn call_log_by_session(&self, telephony_session_id: &str) -> Result<Vec<serde_json::Value>, RcError> {
        // A query value (encoded by the client), not a path segment: any visible ASCII.
        let id = telephony_session_id;
        if id.is_empty() || id.len() > 256 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RcError::InvalidId { what: "telephonySessionId", id: id.chars().take(80).collect() });
        }
        self.pages(&format!("{ACCOUNT}/call-log"), &[("telephonySessionId", id.to_string())]).await
    }

    /// `GET .../extension/{extensionId}/call-log/{callRecordId}` (Heavy).
    pub async fn call_log_record(&self, extension_id: &str, record_id: &str) -> Result<CallLogRecord, RcError> {
        let ext = path_id("extensionId", extension_id)?;
        let rec = path_id("callRecordId", record_id)?;
        Ok(self.get_json(&format!("{ACCOUNT}/extension/{ext}/call-log/{rec}"), &[]).await?.value)
    }
}
