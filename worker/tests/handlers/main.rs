//! Integration tests, `handlers`: one test binary with a module per area (each module says what it covers).

mod pipeline_calls;
mod pipeline_failures;
mod pipeline_sync;
mod support;
mod worker_binary;
