//! A TCP proxy in front of a Redis that breaks connections on demand: lose the reply to one
//! command (it still runs in Redis), cut every connection, refuse new ones, hold replies
//! back. This is how tests produce the network faults a client must survive, with a real
//! Redis and real sockets on both sides.
//!
//! Plain std threads: two per connection (one per direction) and one accepting, which is
//! plenty for a test and keeps each fault a few lines of blocking code.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::resp;

/// Longest pattern [`FaultyProxy::drop_reply_after`] takes: the bytes kept from the end of
/// the previous read so a pattern split across two reads still matches.
const MAX_PATTERN: usize = 1024;
/// How long a triggered connection waits for Redis to start answering before it is closed
/// anyway (a blocking command may never answer).
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// A running proxy on a free loopback port, forwarding to `127.0.0.1:upstream_port`.
/// Dropping it closes its port and every connection through it.
pub struct FaultyProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultyProxy {
    /// Starts forwarding connections on a free loopback port to `127.0.0.1:upstream_port`.
    /// When the upstream is down, a connection is accepted and closed at once, as a Redis
    /// client would see a dead server behind a load balancer.
    pub fn start(upstream_port: u16) -> FaultyProxy {
        // Bound here, on port 0, so there is no window for another process to take it.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for the proxy");
        let port = listener.local_addr().expect("local addr of a bound listener").port();
        let shared = Arc::new(Shared {
            upstream: upstream_port,
            stop: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
            armed: Mutex::new(None),
            triggered: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            links: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            paused: Mutex::new(false),
            resumed: Condvar::new(),
            holding: AtomicUsize::new(0),
            threads: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("faulty-proxy-{port}"))
                .spawn(move || accept_loop(&listener, &shared))
                .expect("spawn the proxy's accept thread")
        };
        FaultyProxy { port, shared, acceptor: Some(acceptor) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port connections are forwarded to.
    pub fn upstream_port(&self) -> u16 {
        self.shared.upstream
    }

    /// `redis://[:password@]127.0.0.1:PORT` for clients that should go through the proxy.
    pub fn url(&self, password: Option<&str>) -> String {
        resp::redis_url(self.port, password)
    }

    /// Arms a one-shot fault: the next time a client sends bytes containing `pattern`
    /// (e.g. the SHA1 of a script it EVALSHAs), that read is forwarded to Redis, the
    /// connection stops forwarding the client's bytes, and once Redis starts answering
    /// (or after 10 s) the client connection is closed without any of the answer. So the
    /// command runs in Redis and the client never learns its result. Then the trigger is
    /// disarmed and [`FaultyProxy::triggered`] counts it.
    ///
    /// The bytes the client sent in the same read as the pattern are forwarded too, and
    /// replies to earlier pipelined commands still in flight are lost with the rest.
    /// Arming again replaces an unfired pattern.
    pub fn drop_reply_after(&self, pattern: &[u8]) {
        assert!(
            !pattern.is_empty() && pattern.len() <= MAX_PATTERN,
            "drop_reply_after takes a pattern of 1..={MAX_PATTERN} bytes, got {}",
            pattern.len()
        );
        *lock(&self.shared.armed) = Some(pattern.to_vec());
    }

    /// How many `drop_reply_after` triggers have fired and closed their connection.
    pub fn triggered(&self) -> usize {
        self.shared.triggered.load(Ordering::SeqCst)
    }

    /// Closes every current connection, both sides, as a dropped network would. New
    /// connections are forwarded as usual.
    pub fn cut_all(&self) {
        let links: Vec<Arc<Link>> = lock(&self.shared.links).drain().map(|(_, l)| l).collect();
        for link in links {
            link.shut();
        }
    }

    /// While true, new connections are accepted and closed at once (existing ones keep
    /// working): Redis is reachable at the TCP level but serves nobody.
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// While true, bytes from Redis to clients are held back (requests still reach Redis);
    /// turning it off delivers them. A slow or stalled server, as the client sees it.
    pub fn pause_replies(&self, paused: bool) {
        *lock(&self.shared.paused) = paused;
        self.shared.resumed.notify_all();
    }

    /// Connections currently open through the proxy.
    pub fn connections(&self) -> usize {
        lock(&self.shared.links).len()
    }

    /// Connections accepted so far, refused ones included: lets a test wait for a client
    /// to have tried reconnecting.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections whose reply bytes are being held by [`FaultyProxy::pause_replies`].
    #[cfg(test)]
    fn holding(&self) -> usize {
        self.shared.holding.load(Ordering::SeqCst)
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // The accept thread blocks in accept(): one connection wakes it to see `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // Only now is the set of links final; shutting them returns their threads' reads
        // and writes, and the resume (taken under the lock, after `stop`) frees held replies.
        self.cut_all();
        self.pause_replies(false);
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

struct Shared {
    upstream: u16,
    stop: AtomicBool,
    refusing: AtomicBool,
    armed: Mutex<Option<Vec<u8>>>,
    triggered: AtomicUsize,
    accepted: AtomicUsize,
    /// Open connections, for `cut_all`; a link removes itself when it closes.
    links: Mutex<HashMap<u64, Arc<Link>>>,
    next_id: AtomicU64,
    paused: Mutex<bool>,
    resumed: Condvar,
    holding: AtomicUsize,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// Takes the armed pattern if it ends within `chunk` (it may start in `tail`, the end of
    /// the previous read). Taking it under the lock makes the trigger fire once even when
    /// several connections send the pattern at the same time.
    fn take_trigger(&self, tail: &[u8], chunk: &[u8]) -> bool {
        let mut armed = lock(&self.armed);
        let hit = armed.as_deref().is_some_and(|pattern| ends_in_chunk(tail, chunk, pattern));
        if hit {
            *armed = None;
        }
        hit
    }

    fn unregister(&self, id: u64) {
        lock(&self.links).remove(&id);
    }
}

/// One client connection and its upstream connection.
struct Link {
    id: u64,
    client: TcpStream,
    server: TcpStream,
    /// Set (before the triggering request is forwarded) when `drop_reply_after` fired: from
    /// then on nothing from the server reaches the client. The server-to-client thread
    /// checks it and writes under this lock, so no reply byte can slip through.
    dropping: Mutex<bool>,
    /// Set by `shut`, for the client-to-server thread waiting (with a deadline) for a
    /// triggered link to close.
    closed: Mutex<bool>,
    closed_changed: Condvar,
}

impl Link {
    /// Closes both sockets, which returns any read or write blocked on them. `shutdown`, not
    /// just dropping the fd: a child process another test is spawning holds a copy of every
    /// fd between its fork and exec, which would keep a merely closed socket open. Sockets
    /// first, flag after: a thread blocked writing while holding `dropping` must not be
    /// waited for.
    fn shut(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
        *lock(&self.closed) = true;
        self.closed_changed.notify_all();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        // A failed accept (e.g. the client gave up already) concerns that client only.
        let Ok(client) = client else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.refusing.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        // Upstream down: the client's connection is closed at once.
        let Ok(server) = TcpStream::connect(("127.0.0.1", shared.upstream)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        // RESP is many small writes; Nagle plus delayed ACKs would add tens of ms to each.
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let link = Arc::new(Link {
            id,
            client,
            server,
            dropping: Mutex::new(false),
            closed: Mutex::new(false),
            closed_changed: Condvar::new(),
        });
        lock(&shared.links).insert(id, Arc::clone(&link));
        let mut threads = lock(&shared.threads);
        threads.retain(|t| !t.is_finished());
        for (name, direction) in [("c2s", client_to_server as fn(&Link, &Shared)), ("s2c", server_to_client)] {
            let (for_thread, shared_for_thread) = (Arc::clone(&link), Arc::clone(shared));
            let spawned = std::thread::Builder::new()
                .name(format!("faulty-proxy-{id}-{name}"))
                .spawn(move || direction(&for_thread, &shared_for_thread));
            match spawned {
                Ok(t) => threads.push(t),
                Err(_) => {
                    // No thread, no forwarding: close rather than leave a half-working link.
                    link.shut();
                    shared.unregister(link.id);
                }
            }
        }
    }
}

fn client_to_server(link: &Link, shared: &Shared) {
    let mut buf = vec![0; 16 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match (&link.client).read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let hit = shared.take_trigger(&tail, chunk);
        if hit {
            *lock(&link.dropping) = true;
        }
        if (&link.server).write_all(chunk).is_err() {
            break;
        }
        if hit {
            // Nothing more from this client reaches Redis: the fault is "the request went
            // out, then the connection died". The other thread closes the link when the
            // answer starts; if Redis never answers (a blocking command), this does.
            let closed = lock(&link.closed);
            let _ = link.closed_changed.wait_timeout_while(closed, REPLY_WAIT, |closed| !*closed);
            break;
        }
        tail.extend_from_slice(chunk);
        let keep = tail.len().saturating_sub(MAX_PATTERN - 1);
        tail.drain(..keep);
    }
    link.shut();
    shared.unregister(link.id);
}

fn server_to_client(link: &Link, shared: &Shared) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let read = (&link.server).read(&mut buf);
        if *lock(&link.dropping) {
            // The triggering command's answer is arriving (or Redis went away, or we gave
            // up waiting): it ran, and the client must not see a byte of the reply.
            break;
        }
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        hold_while_paused(shared);
        let dropping = lock(&link.dropping);
        if *dropping || (&link.client).write_all(&buf[..n]).is_err() {
            break;
        }
    }
    link.shut();
    shared.unregister(link.id);
    if *lock(&link.dropping) {
        // Counted after the close, so a test that sees the count sees a closed connection.
        shared.triggered.fetch_add(1, Ordering::SeqCst);
    }
}

fn hold_while_paused(shared: &Shared) {
    let mut paused = lock(&shared.paused);
    if !*paused {
        return;
    }
    shared.holding.fetch_add(1, Ordering::SeqCst);
    while *paused && !shared.stop.load(Ordering::SeqCst) {
        paused = shared.resumed.wait(paused).unwrap_or_else(|e| e.into_inner());
    }
    shared.holding.fetch_sub(1, Ordering::SeqCst);
}

/// True if `pattern` occurs in `tail ++ chunk` ending inside `chunk`: a match entirely in
/// `tail` was forwarded before, possibly before the pattern was armed.
fn ends_in_chunk(tail: &[u8], chunk: &[u8], pattern: &[u8]) -> bool {
    let tail = &tail[tail.len().saturating_sub(pattern.len() - 1)..];
    let haystack = [tail, chunk].concat();
    haystack.windows(pattern.len()).enumerate().any(|(i, w)| w == pattern && i + pattern.len() > tail.len())
}

/// A poisoned lock only means another proxy thread panicked; the state is still usable
/// and the proxy must keep serving the test.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;
    use crate::resp::{encode, read_reply, Conn, Reply};
    use crate::{wait_until, RedisServer};

    fn conn(port: u16) -> Conn {
        Conn::connect(port, Duration::from_secs(5)).expect("connect to the proxy")
    }

    fn pong() -> Reply {
        Reply::Status("PONG".into())
    }

    #[test]
    fn pattern_must_end_in_the_new_bytes() {
        assert!(ends_in_chunk(b"", b"xxabcxx", b"abc"));
        assert!(ends_in_chunk(b"xxab", b"cxx", b"abc"), "split across two reads");
        assert!(!ends_in_chunk(b"xabcx", b"yy", b"abc"), "already forwarded");
        assert!(!ends_in_chunk(b"ab", b"d", b"abc"));
        assert!(ends_in_chunk(b"", b"a", b"a"));
    }

    #[test]
    fn forwards_commands_and_replies() {
        let redis = RedisServer::start();
        let proxy = FaultyProxy::start(redis.port());
        assert_eq!(proxy.url(None), format!("redis://127.0.0.1:{}", proxy.port()));
        assert_eq!(proxy.url(Some("pw")), format!("redis://:pw@127.0.0.1:{}", proxy.port()));
        let mut c = conn(proxy.port());
        assert_eq!(c.command(&[b"PING"]).unwrap(), pong());
        assert_eq!(c.command(&[b"SET", b"k", b"v"]).unwrap(), Reply::Status("OK".into()));
        assert_eq!(c.command(&[b"GET", b"k"]).unwrap(), Reply::Bulk(Some(b"v".to_vec())));
        assert_eq!(proxy.connections(), 1);
        assert_eq!(proxy.accepted(), 1);
        drop(c);
        wait_until("the proxy to notice the client left", Duration::from_secs(5), || {
            (proxy.connections() == 0).then_some(())
        });
    }

    #[test]
    fn drop_reply_after_runs_the_command_but_loses_the_reply_once() {
        let redis = RedisServer::start();
        let proxy = FaultyProxy::start(redis.port());
        proxy.drop_reply_after(b"lost-key");

        let mut other = conn(proxy.port());
        assert_eq!(other.command(&[b"PING"]).unwrap(), pong(), "armed, but the pattern was not sent");

        let mut victim = conn(proxy.port());
        let answer = victim.command(&[b"SET", b"lost-key", b"v"]);
        assert!(answer.is_err(), "the client must get no reply, got {answer:?}");
        wait_until("the trigger to be counted", Duration::from_secs(5), || (proxy.triggered() == 1).then_some(()));

        // It ran in Redis, and the trigger is disarmed: the same pattern passes now.
        let mut after = conn(proxy.port());
        assert_eq!(after.command(&[b"GET", b"lost-key"]).unwrap(), Reply::Bulk(Some(b"v".to_vec())));
        assert_eq!(after.command(&[b"SET", b"lost-key", b"w"]).unwrap(), Reply::Status("OK".into()));
        assert_eq!(other.command(&[b"PING"]).unwrap(), pong(), "other connections are untouched");
        assert_eq!(proxy.triggered(), 1);
    }

    #[test]
    fn drop_reply_after_ping_closes_only_that_connection() {
        let redis = RedisServer::start();
        let proxy = FaultyProxy::start(redis.port());
        proxy.drop_reply_after(b"PING");
        assert!(conn(proxy.port()).command(&[b"PING"]).is_err());
        assert_eq!(conn(proxy.port()).command(&[b"PING"]).unwrap(), pong());
    }

    #[test]
    fn cut_all_closes_current_connections_and_new_ones_work() {
        let redis = RedisServer::start();
        let proxy = FaultyProxy::start(redis.port());
        let mut a = conn(proxy.port());
        let mut b = conn(proxy.port());
        assert_eq!(a.command(&[b"PING"]).unwrap(), pong());
        assert_eq!(b.command(&[b"PING"]).unwrap(), pong());
        assert_eq!(proxy.connections(), 2);

        proxy.cut_all();
        assert_eq!(proxy.connections(), 0);
        assert!(a.command(&[b"PING"]).is_err());
        assert!(b.command(&[b"PING"]).is_err());
        assert_eq!(conn(proxy.port()).command(&[b"PING"]).unwrap(), pong());
        assert!(redis.is_up(), "only the connections were cut");
    }

    #[test]
    fn refusing_closes_new_connections_until_turned_off() {
        let redis = RedisServer::start();
        let proxy = FaultyProxy::start(redis.port());
        let mut before = conn(proxy.port());
        assert_eq!(before.command(&[b"PING"]).unwrap(), pong());

        proxy.set_refusing(true);
        assert!(conn(proxy.port()).command(&[b"PING"]).is_err());
        assert_eq!(before.command(&[b"PING"]).unwrap(), pong(), "existing connections keep working");
        assert_eq!(proxy.accepted(), 2);

        proxy.set_refusing(false);
        assert_eq!(conn(proxy.port()).command(&[b"PING"]).unwrap(), pong());
    }

    #[test]
    fn upstream_down_closes_the_client_connection() {
        let mut redis = RedisServer::start();
        let proxy = FaultyProxy::start(redis.port());
        redis.kill();
        assert!(conn(proxy.port()).command(&[b"PING"]).is_err());
        redis.restart();
        assert_eq!(conn(proxy.port()).command(&[b"PING"]).unwrap(), pong());
    }

    #[test]
    fn paused_replies_are_held_then_delivered() {
        let redis = RedisServer::start();
        let proxy = FaultyProxy::start(redis.port());
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

        proxy.pause_replies(true);
        stream.write_all(&encode(&[b"PING"])).unwrap();
        wait_until("the proxy to hold the reply", Duration::from_secs(5), || (proxy.holding() == 1).then_some(()));
        // The reply is in the proxy's hands, so none of it can have reached the client.
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let early = (&stream).read(&mut byte);
        assert_eq!(early.map_err(|e| e.kind()).unwrap_err(), std::io::ErrorKind::WouldBlock);

        stream.set_nonblocking(false).unwrap();
        proxy.pause_replies(false);
        assert_eq!(read_reply(&mut BufReader::new(&stream)).unwrap(), pong());
    }

    #[test]
    fn drop_closes_the_port_and_its_connections() {
        let redis = RedisServer::start();
        let proxy = FaultyProxy::start(redis.port());
        let port = proxy.port();
        let mut idle = conn(port);
        assert_eq!(idle.command(&[b"PING"]).unwrap(), pong());
        // Paused with a reply held: drop must not wait for a resume that never comes.
        proxy.pause_replies(true);
        let mut held = TcpStream::connect(("127.0.0.1", port)).unwrap();
        held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        held.write_all(&encode(&[b"PING"])).unwrap();
        wait_until("the proxy to hold the reply", Duration::from_secs(5), || (proxy.holding() == 1).then_some(()));
        drop(proxy);
        assert!(idle.command(&[b"PING"]).is_err());
        assert!(read_reply(&mut BufReader::new(&held)).is_err(), "the held reply is never delivered");
        // Usually refused. But a process another test is spawning holds a copy of every fd
        // between its fork and exec, the closed listener included, so the kernel may still
        // complete a handshake, then reset it: what must hold is that nobody answers.
        let after = Conn::connect(port, Duration::from_secs(5)).and_then(|mut c| c.command(&[b"PING"]));
        assert!(after.is_err(), "nothing may answer on the proxy's port after drop, got {after:?}");
    }
}
