//! Integration tests, `backend`: one test binary with a module per area (each module says what it covers).

mod lifecycle;
mod redis_outage;
