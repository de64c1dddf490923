//! Integration tests, `queue`: one test binary with a module per area (each module says what it covers).

mod queue_backlog;
mod queue_cluster;
mod queue_control;
mod queue_crash;
mod queue_locks;
mod queue_lost_reply;
mod queue_prefetch;
mod queue_redis_auth;
mod queue_redis_restart;
mod queue_retry;
mod queue_support;
