//! Webhook subscriptions: create (RingCentral runs the validation handshake against the
//! address before answering), list, get, renew, update, delete.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::endpoints::path_id;
use super::error::RcError;
use super::http::Call;
use super::types::Subscription;
use super::RingCentral;

const SUBSCRIPTION: &str = "/restapi/v1.0/subscription";

#[derive(Deserialize)]
struct SubscriptionList {
    #[serde(default)]
    records: Vec<Subscription>,
}

impl RingCentral {
    /// `POST /subscription` (Medium) for a WebHook to `address`. `expires_in` goes at the
    /// top level (inside `deliveryMode` RingCentral silently ignores it: 7 days).
    pub async fn create_subscription(
        &self,
        event_filters: &[String],
        address: &str,
        verification_token: Option<&str>,
        expires_in: Option<u64>,
    ) -> Result<Subscription, RcError> {
        let mut delivery = json!({"transportType": "WebHook", "address": address});
        if let Some(t) = verification_token {
            delivery["verificationToken"] = json!(t);
        }
        let mut body = json!({"eventFilters": event_filters, "deliveryMode": delivery});
        if let Some(secs) = expires_in {
            body["expiresIn"] = json!(secs);
        }
        let call = Call { method: Method::POST, target: SUBSCRIPTION, query: &[], body: Some(&body) };
        Ok(self.call_json(&call, "a subscription").await?.value)
    }

    /// `GET /subscription` (Light): this app's subscriptions for the token's extension.
    pub async fn list_subscriptions(&self) -> Result<Vec<Subscription>, RcError> {
        Ok(self.get_json::<SubscriptionList>(SUBSCRIPTION, &[]).await?.value.records)
    }

    /// `GET /subscription/{id}` (Light).
    pub async fn subscription(&self, id: &str) -> Result<Subscription, RcError> {
        let id = path_id("subscriptionId", id)?;
        Ok(self.get_json(&format!("{SUBSCRIPTION}/{id}"), &[]).await?.value)
    }

    /// `POST /subscription/{id}/renew` (Light).
    pub async fn renew_subscription(&self, id: &str) -> Result<Subscription, RcError> {
        let id = path_id("subscriptionId", id)?;
        let target = format!("{SUBSCRIPTION}/{id}/renew");
        let call = Call { method: Method::POST, target: &target, query: &[], body: None };
        Ok(self.call_json(&call, "a subscription").await?.value)
    }

    /// `PUT /subscription/{id}` (Medium): new filters (and expiry); also renews.
    pub async fn update_subscription(
        &self,
        id: &str,
        event_filters: &[String],
        expires_in: Option<u64>,
    ) -> Result<Subscription, RcError> {
        let id = path_id("subscriptionId", id)?;
        let target = format!("{SUBSCRIPTION}/{id}");
        let mut body: Value = json!({"eventFilters": event_filters});
        if let Some(secs) = expires_in {
            body["expiresIn"] = json!(secs);
        }
        let call = Call { method: Method::PUT, target: &target, query: &[], body: Some(&body) };
        Ok(self.call_json(&call, "a subscription").await?.value)
    }

    /// `DELETE /subscription/{id}` (Medium, 204).
    pub async fn delete_subscription(&self, id: &str) -> Result<(), RcError> {
        let id = path_id("subscriptionId", id)?;
        let target = format!("{SUBSCRIPTION}/{id}");
        self.send(&Call { method: Method::DELETE, target: &target, query: &[], body: None }).await?;
        Ok(())
    }
}
