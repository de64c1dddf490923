//! Integration tests, `sandbox`: one test binary with a module per area (each module says what it covers).

mod deploy_checks;
mod rc_control;
mod rc_faults;
mod rc_oauth;
mod rc_oauth_code_flow;
mod rc_official_sdk;
mod rc_rate_limit;
mod rc_read;
mod rc_subscriptions;
mod rc_support;
mod rc_sync;
mod rc_telephony;
mod rc_webhook_delivery;
mod sandbox_smoke;
mod snapshots_api;
mod snapshots_control;
mod snapshots_support;
