//! Integration tests, `storage`: one test binary with a module per area (each module says what it covers).

mod conn;
mod inspect;
mod limits;
mod retention;
mod storage;
mod support;
