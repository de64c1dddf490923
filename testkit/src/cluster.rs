//! A real Redis Cluster on loopback for one test: N masters (no replicas), each a private
//! [`RedisServer`] with cluster mode and AOF on, joined with `redis-cli --cluster create`.
//! Nodes can be killed and restarted on the same port and directory, where `nodes.conf`
//! and the AOF bring them back into the cluster with their slots and data.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::poll_until;
use crate::resp::{Conn, Reply};
use crate::RedisServer;

/// Hash slots in every Redis Cluster.
const SLOTS: u64 = 16384;
/// A node's cluster bus listens on its port plus this (Redis's default `cluster-port`).
const BUS_OFFSET: u16 = 10000;
/// Generous for 2 cores shared with a compiler: a healthy start takes a few seconds, and a
/// restarted master waits out a rejoin delay and the others' FAIL-undo time (both derived
/// from `cluster-node-timeout`).
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(30);
/// `cluster-node-timeout`: short, so a killed node is declared failed (and a restarted one
/// accepted again) within seconds, not the default 15 s.
const NODE_TIMEOUT_MS: &str = "2000";

/// A running cluster. Dropping it drops every node: each process is killed and its
/// directory removed.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    password: Option<String>,
}

impl RedisCluster {
    /// Starts `masters` nodes (at least 3: `redis-cli --cluster create` refuses fewer),
    /// assigns the slots across them and returns once every node reports a healthy
    /// cluster (see [`RedisCluster::is_healthy`]). Panics with the nodes' log tails if the
    /// cluster is not healthy within 30 s.
    pub fn start(masters: usize) -> RedisCluster {
        Self::start_with(masters, None)
    }

    /// Like [`RedisCluster::start`], every node requiring `password` (and using it to talk
    /// to the others); the URLs carry it.
    pub fn start_with_password(masters: usize, password: &str) -> RedisCluster {
        Self::start_with(masters, Some(password))
    }

    fn start_with(masters: usize, password: Option<&str>) -> RedisCluster {
        assert!(masters >= 3, "a Redis Cluster needs at least 3 masters (redis-cli --cluster create), got {masters}");
        let nodes = (0..masters)
            .map(|_| {
                let mut b = RedisServer::builder()
                    .aof(true)
                    .args(&["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"])
                    .args(&["--cluster-node-timeout", NODE_TIMEOUT_MS])
                    .pick_port(free_port_with_bus);
                if let Some(pw) = password {
                    b = b.password(pw).args(&["--masterauth", pw]);
                }
                b.start()
            })
            .collect();
        let cluster = RedisCluster { nodes, password: password.map(str::to_string) };
        cluster.create();
        cluster.wait_until_healthy();
        cluster
    }

    /// `redis://127.0.0.1:PORT` of every node, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// Every node's URL joined with commas: `redis://127.0.0.1:P1,redis://127.0.0.1:P2,...`.
    pub fn url(&self) -> String {
        self.urls().join(",")
    }

    /// Every node's port, in node order.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    /// Node `i`, e.g. for its port, directory or `is_up()`.
    pub fn node(&self, i: usize) -> &RedisServer {
        &self.nodes[i]
    }

    /// The port of the master that serves `key`, as the cluster itself says
    /// (`CLUSTER KEYSLOT`, then `CLUSTER SLOTS`). Works while that master is down: the
    /// surviving nodes still know who owns the slot.
    pub fn node_for_key(&self, key: impl AsRef<[u8]>) -> u16 {
        let key = key.as_ref();
        let slot = match self.ask_any_node(&[b"CLUSTER", b"KEYSLOT", key]) {
            Reply::Int(slot) => slot,
            other => panic!("CLUSTER KEYSLOT answered {other:?}"),
        };
        let Reply::Array(Some(ranges)) = self.ask_any_node(&[b"CLUSTER", b"SLOTS"]) else {
            panic!("CLUSTER SLOTS did not answer an array");
        };
        // Each range is [start, end, [ip, port, id, ...] of the master, replicas...].
        let owner = ranges.iter().find_map(|range| {
            let Reply::Array(Some(fields)) = range else { return None };
            let [Reply::Int(start), Reply::Int(end), Reply::Array(Some(master)), ..] = fields.as_slice() else {
                return None;
            };
            let Some(Reply::Int(port)) = master.get(1) else { return None };
            (*start..=*end).contains(&slot).then_some(*port)
        });
        let Some(port) = owner else {
            panic!(
                "no master serves slot {slot} of key {:?}: CLUSTER SLOTS = {ranges:?}",
                String::from_utf8_lossy(key)
            );
        };
        u16::try_from(port).expect("CLUSTER SLOTS port fits in u16")
    }

    /// The index (for [`RedisCluster::kill_node`]) of the master that serves `key`.
    pub fn node_index_for_key(&self, key: impl AsRef<[u8]>) -> usize {
        let port = self.node_for_key(key);
        self.nodes.iter().position(|n| n.port() == port).expect("CLUSTER SLOTS names one of this cluster's nodes")
    }

    /// Kills node `i` (SIGKILL) without removing its data, as a crash would. The other
    /// nodes declare it failed after `cluster-node-timeout` (2 s); with no replicas its
    /// slots are then uncovered and the cluster reports `cluster_state:fail`.
    pub fn kill_node(&mut self, i: usize) {
        self.nodes[i].kill();
    }

    /// Restarts node `i` on its port and directory (its `nodes.conf` makes it rejoin with
    /// its slots, the AOF brings back its keys), then waits until the whole cluster is
    /// healthy again.
    pub fn restart_node(&mut self, i: usize) {
        self.nodes[i].restart();
        self.wait_until_healthy();
    }

    /// What node `i` says of the cluster: `Some(true)` for `cluster_state:ok`,
    /// `Some(false)` for any other state, `None` if it does not answer.
    pub fn node_state_ok(&self, i: usize) -> Option<bool> {
        let info = cluster_info(self.nodes[i].port(), self.password.as_deref())?;
        Some(info_field(&info, "cluster_state") == Some("ok"))
    }

    /// True when every node answers and reports `cluster_state:ok`, all 16384 slots
    /// assigned and reachable (`cluster_slots_ok`, so no node is even suspected down) and
    /// every node known: only then do all nodes route every key the same way.
    pub fn is_healthy(&self) -> bool {
        self.nodes.iter().all(|n| {
            cluster_info(n.port(), self.password.as_deref())
                .is_some_and(|info| node_is_healthy(&info, self.nodes.len()))
        })
    }

    /// Polls [`RedisCluster::is_healthy`] for up to 30 s; panics with every node's view
    /// and log tail otherwise.
    pub fn wait_until_healthy(&self) {
        self.wait_until_healthy_for(HEALTHY_TIMEOUT);
    }

    fn wait_until_healthy_for(&self, timeout: Duration) {
        if poll_until(timeout, || self.is_healthy().then_some(())).is_some() {
            return;
        }
        let mut report = String::new();
        for n in &self.nodes {
            let view = match cluster_info(n.port(), self.password.as_deref()) {
                Some(info) => ["cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_known_nodes"]
                    .iter()
                    .map(|f| format!("{f}:{}", info_field(&info, f).unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(" "),
                None => "not answering".to_string(),
            };
            report.push_str(&format!("\n--- node 127.0.0.1:{} ({view}), log tail:\n{}", n.port(), n.log_tail(15)));
        }
        panic!("Redis Cluster not healthy after {timeout:?}:{report}");
    }

    /// `redis-cli --cluster create`: spreads the slots over the nodes and introduces them
    /// to each other. It waits for the join itself; health is still checked afterwards,
    /// from every node's own view.
    fn create(&self) {
        let addrs: Vec<String> = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())).collect();
        let mut cli = Command::new("redis-cli");
        if let Some(pw) = &self.password {
            // The environment, not `-a`, so the password is not in the process list.
            cli.env("REDISCLI_AUTH", pw);
        }
        let out = cli
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output();
        match out {
            Err(e) => panic!(
                "cannot run redis-cli ({e}); it comes with redis-server (Debian package redis-tools, which .ci/run installs)"
            ),
            Ok(out) if !out.status.success() => panic!(
                "redis-cli --cluster create {} failed ({}):\n{}\n{}",
                addrs.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Ok(_) => {}
        }
    }

    /// The first answer (not an error reply) from any node that is up, so questions about
    /// the cluster's layout work while some nodes are down.
    fn ask_any_node(&self, args: &[&[u8]]) -> Reply {
        for n in &self.nodes {
            let conn = Conn::connect_auth(n.port(), Duration::from_secs(2), self.password.as_deref());
            if let Ok(reply) = conn.and_then(|mut c| c.command(args)) {
                if !matches!(reply, Reply::Error(_)) {
                    return reply;
                }
            }
        }
        panic!(
            "no node of the cluster answered {:?}",
            args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>()
        );
    }
}

/// `CLUSTER INFO` of the node on `port`, or `None` if it does not answer.
fn cluster_info(port: u16, password: Option<&str>) -> Option<String> {
    let mut conn = Conn::connect_auth(port, Duration::from_millis(500), password).ok()?;
    conn.command(&[b"CLUSTER", b"INFO"]).ok()?.text()
}

fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':')).map(str::trim)
}

fn node_is_healthy(info: &str, nodes: usize) -> bool {
    let slots = SLOTS.to_string();
    info_field(info, "cluster_state") == Some("ok")
        && info_field(info, "cluster_slots_assigned") == Some(slots.as_str())
        && info_field(info, "cluster_slots_ok") == Some(slots.as_str())
        && info_field(info, "cluster_known_nodes") == Some(nodes.to_string().as_str())
}

/// A port P with P and P+10000 (the cluster bus) both free a moment ago. Like
/// [`crate::free_port`] it can race with another process; [`RedisServer`] retries with a
/// new port when redis-server exits because either port was taken.
fn free_port_with_bus() -> u16 {
    for _ in 0..100 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for a free port");
        let port = listener.local_addr().expect("local addr of a bound listener").port();
        let Some(bus) = port.checked_add(BUS_OFFSET) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", bus)).is_ok() {
            return port;
        }
    }
    panic!("found no free port P with P+{BUS_OFFSET} free too in 100 tries");
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Instant;

    use super::*;
    use crate::wait_until;

    /// Sends one command like a cluster client would: to `port` first, then wherever
    /// `-MOVED slot ip:port` points. Returns the port that answered and the answer.
    fn command_following_moved(mut port: u16, args: &[&[u8]]) -> (u16, Reply) {
        for _ in 0..5 {
            let mut conn = Conn::connect(port, Duration::from_secs(5)).expect("connect to a cluster node");
            match conn.command(args).expect("a reply from a cluster node") {
                Reply::Error(e) if e.starts_with("MOVED ") => {
                    let addr = e.rsplit(' ').next().expect("MOVED names an address");
                    port = addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("MOVED address has a port");
                }
                reply => return (port, reply),
            }
        }
        panic!("more than 5 MOVED redirections for {args:?}");
    }

    #[test]
    #[should_panic(expected = "at least 3 masters")]
    fn fewer_than_three_masters_is_refused() {
        RedisCluster::start(2);
    }

    #[test]
    fn three_masters_serve_keys_and_a_restarted_node_rejoins_with_its_data() {
        let started = Instant::now();
        let mut cluster = RedisCluster::start(3);
        eprintln!("3-node cluster healthy after {:?}", started.elapsed());

        let ports = cluster.ports();
        assert!(ports.iter().all(|p| *p != 6379 && p.checked_add(BUS_OFFSET).is_some()), "{ports:?}");
        assert_eq!(cluster.urls(), ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect::<Vec<_>>());
        assert_eq!(cluster.url(), cluster.urls().join(","));
        for i in 0..3 {
            assert_eq!(cluster.node_state_ok(i), Some(true), "node {i}");
        }
        // The slots are spread: a hundred keys land on all three masters.
        let owners: HashSet<u16> = (0..100).map(|i| cluster.node_for_key(format!("key{i}"))).collect();
        assert_eq!(owners.len(), 3);

        // Ask a node that does not own the key: the cluster redirects to node_for_key's answer.
        let key = b"snapsync:testkit:cluster";
        let owner = cluster.node_index_for_key(key);
        let other = (owner + 1) % 3;
        let (answered, reply) = command_following_moved(ports[other], &[b"SET", key, b"v1"]);
        assert_eq!(reply, Reply::Status("OK".into()));
        assert_eq!(answered, ports[owner]);

        cluster.kill_node(owner);
        assert!(!cluster.node(owner).is_up());
        // Without replicas the owner's slots are uncovered once the others agree it failed.
        wait_until("the surviving nodes to declare the cluster failed", Duration::from_secs(20), || {
            (cluster.node_state_ok(other) == Some(false)).then_some(())
        });

        // The failure message shows each node's view and log, the down node included.
        let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cluster.wait_until_healthy_for(Duration::from_millis(100))
        }))
        .expect_err("a cluster with a dead master is not healthy");
        let message = failure.downcast_ref::<String>().expect("a formatted panic message");
        assert!(message.contains(&format!("127.0.0.1:{} (not answering)", ports[owner])), "{message}");
        assert!(message.contains("cluster_state:fail"), "{message}");
        assert!(message.contains("log tail"), "{message}");

        let restarted = Instant::now();
        cluster.restart_node(owner);
        eprintln!("cluster healthy again {:?} after restarting a master", restarted.elapsed());
        assert!(cluster.is_healthy());
        assert_eq!(cluster.node_for_key(key), ports[owner], "same port, same slots");
        let (answered, reply) = command_following_moved(ports[other], &[b"GET", key]);
        assert_eq!((answered, reply), (ports[owner], Reply::Bulk(Some(b"v1".to_vec()))), "AOF reloaded");

        // Back before the others even suspect it: a quick crash and restart also rejoins.
        cluster.kill_node(other);
        cluster.restart_node(other);
        assert!(cluster.is_healthy());
        let (_, reply) = command_following_moved(ports[other], &[b"GET", key]);
        assert_eq!(reply, Reply::Bulk(Some(b"v1".to_vec())));
    }
}
