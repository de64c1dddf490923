//! # Test support for snapsync
//!
//! Real parts only: a private `redis-server` on a free port in a temp dir, and polling a
//! condition with a deadline instead of sleeping.
//!
//! # Layout
//! - [`redis`]: [`RedisServer`], started per test, killed and its files removed on drop.
//! - [`poll`]: [`wait_until`] / [`wait_until_async`], the only way tests wait.
//! - [`ports`]: [`free_port`] for the rare case a port must be chosen before binding.

pub mod poll;
pub mod ports;
pub mod redis;

pub use poll::{wait_until, wait_until_async};
pub use ports::free_port;
pub use redis::RedisServer;
