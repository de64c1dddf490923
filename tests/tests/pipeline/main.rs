//! Integration tests, `pipeline`: one test binary with a module per area (each module says what it covers).

mod pipeline_admin;
mod pipeline_calls;
mod pipeline_changes;
mod pipeline_chaos;
mod pipeline_cli;
mod pipeline_config;
mod pipeline_dashboard;
mod pipeline_limits;
mod pipeline_login;
mod pipeline_mapping_editor;
mod pipeline_metrics;
mod pipeline_mode;
mod pipeline_oauth;
mod pipeline_outage;
mod pipeline_preflight;
mod pipeline_production_guide;
mod pipeline_schedule;
mod pipeline_support;
mod pipeline_sync;
mod pipeline_webhooks;
