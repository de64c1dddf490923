//! Free loopback ports. Servers under test bind port 0 themselves where they can; this is
//! for processes that must be told a port up front (`redis-server --port`).

use std::net::TcpListener;

/// A loopback port that was free a moment ago. The listener is dropped before returning,
/// so a racing process could take it; callers retry on a bind failure.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for a free port");
    listener.local_addr().expect("local addr of a bound listener").port()
}
