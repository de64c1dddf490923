//! Webhook subscriptions and notification delivery. Placeholder.

use std::sync::Arc;

use serde_json::Value;

use super::RcState;

#[derive(Default)]
pub struct Subscriptions {}

/// Fires an event: every active subscription with a filter matching `event` (a
/// normalised filter path with real ids, e.g. `/restapi/v1.0/account/4000/extension/4001/voicemail`)
/// gets a notification with `body`.
pub fn notify(_state: &Arc<RcState>, _event: &str, _body: Value) {}
