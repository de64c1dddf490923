//! Integration tests, `clients`: one test binary with a module per area (each module says what it covers).

mod ringcentral_api;
mod ringcentral_logs;
mod ringcentral_processes;
mod ringcentral_support;
mod ringcentral_sync;
mod ringcentral_tokens;
mod snapshots_upsert;
