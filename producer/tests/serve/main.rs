//! Integration tests, `serve`: one test binary with a module per area (each module says what it covers).

mod common;
mod config_cli;
mod serve_edge;
mod serve_process;
mod serve_redis_auth;
mod serve_scheduler;
mod serve_subscription;
mod serve_webhooks;
