//! # Test support for snapsync
//!
//! Real parts only: a private `redis-server` (or a Redis Cluster) on free ports in temp
//! dirs, a real TCP proxy for network faults, and polling a condition with a deadline
//! instead of sleeping.
//!
//! # Layout
//! - [`redis`]: [`RedisServer`], started per test, killed and its files removed on drop;
//!   AOF and `requirepass` optional ([`RedisServerBuilder`]), restartable on the same port
//!   with the same data and the same or another password.
//! - [`cluster`]: [`RedisCluster`], N masters on free ports (bus port +10000 free too),
//!   joined with `redis-cli --cluster create`; nodes can be killed and restarted on the
//!   same port and directory and rejoin with their slots and AOF data.
//! - [`poll`]: [`wait_until`] / [`wait_until_async`], the only way tests wait;
//!   [`poll_until`] for callers that build their own failure message.
//! - [`ports`]: [`free_port`] for the rare case a port must be chosen before binding.
//! - [`proxy`]: [`FaultyProxy`], a loopback TCP proxy in front of a Redis that loses the
//!   reply to one command (which still runs), cuts every connection, refuses new ones or
//!   holds replies back.
//! - `resp` (private): just enough RESP over a `TcpStream` for testkit to check the
//!   servers it starts without depending on the client under test.

pub mod cluster;
pub mod poll;
pub mod ports;
pub mod proxy;
pub mod redis;
mod resp;

pub use cluster::RedisCluster;
pub use poll::{poll_until, poll_until_async, wait_until, wait_until_async};
pub use ports::free_port;
pub use proxy::FaultyProxy;
pub use redis::{RedisServer, RedisServerBuilder};
