//! `RedisConn` against real redis-servers: it heals after Redis restarts, after a refused
//! password is right again, keeps blocking commands off the shared connection, and runs
//! commands, pipelines and scripts on a three-node Redis Cluster.

use std::time::Duration;

use redis::{AsyncCommands, ErrorKind, RedisError, Script};
use snapsync_queue::{is_connection_error, ConnOptions, RedisConn};
use snapsync_testkit::{wait_until_async, RedisCluster, RedisServer};

use crate::support::blocked_clients;

const DEADLINE: Duration = Duration::from_secs(20);
const RIGHT: &str = "right-pw-4f9c";
const CHANGED: &str = "changed-pw-81ad";

async fn ping(conn: &RedisConn) -> Result<String, RedisError> {
    redis::cmd("PING").query_async(&mut conn.clone()).await
}

fn is_auth_error(e: &RedisError) -> bool {
    e.kind() == ErrorKind::AuthenticationFailed || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
}

#[tokio::test]
async fn calls_fail_while_redis_is_down_and_succeed_after_it_is_back() {
    let mut redis = RedisServer::start();
    let conn = RedisConn::connect(&redis.url(), ConnOptions::default()).await.expect("connect");
    let mut c = conn.clone();
    c.set::<_, _, ()>("k", "before").await.unwrap();

    redis.kill();
    for _ in 0..3 {
        let err = c.get::<_, Option<String>>("k").await.expect_err("redis is down");
        assert!(is_connection_error(&err), "{err}");
    }

    redis.restart();
    // Same RedisConn, same clone: no new connection object is made by the caller.
    wait_until_async("calls succeed again on the same RedisConn", DEADLINE, || {
        let mut c = c.clone();
        async move { c.set::<_, _, ()>("k", "after").await.ok() }
    })
    .await;
    assert_eq!(c.get::<_, Option<String>>("k").await.unwrap().as_deref(), Some("after"));
    // The restarted server has an empty script cache: invoke_async loads the script again.
    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    assert_eq!(script.key("n").arg(5).invoke_async::<i64>(&mut c).await.unwrap(), 5);
    let (a, b): (i64, i64) = redis::pipe().incr("p", 1).incr("p", 1).query_async(&mut c).await.unwrap();
    assert_eq!((a, b), (1, 2));
}

#[tokio::test]
async fn a_refused_password_heals_once_it_is_right_again() {
    let mut server = RedisServer::start_with_password(RIGHT);
    let conn = RedisConn::connect(&server.url(), ConnOptions::default()).await.expect("connect");
    let clone = conn.clone();
    assert_eq!(ping(&conn).await.unwrap(), "PONG");
    let shown = format!("{conn:?}");
    assert!(!shown.contains(RIGHT) && shown.contains("***"), "{shown}");

    // Redis comes back with another password: the old connection breaks, new ones are refused.
    server.restart_with_password(Some(CHANGED));
    let err = wait_until_async("an auth error", DEADLINE, || async {
        match ping(&conn).await {
            Err(e) if is_auth_error(&e) => Some(e),
            _ => None,
        }
    })
    .await;
    assert!(is_connection_error(&err), "{err}");
    assert!(!err.to_string().contains(RIGHT), "{err}");
    assert!(ping(&clone).await.is_err(), "a clone shares the refused connection");

    // The password is right again: the same RedisConn and its clones work again.
    server.restart_with_password(Some(RIGHT));
    wait_until_async("the same RedisConn works again", DEADLINE, || async { ping(&conn).await.ok() }).await;
    assert_eq!(ping(&clone).await.unwrap(), "PONG");
    let mut c = clone.clone();
    c.set::<_, _, ()>("k", "v").await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_at_connect_is_an_auth_error() {
    let server = RedisServer::start_with_password(RIGHT);
    let err = RedisConn::connect(&server.url_with_password(Some(CHANGED)), ConnOptions::default())
        .await
        .expect_err("refused");
    assert!(is_auth_error(&err) && is_connection_error(&err), "{err}");
    assert!(RedisConn::connect("redis://127.0.0.1:notaport", ConnOptions::default()).await.is_err());
}

#[tokio::test]
async fn a_dedicated_connections_blpop_does_not_block_the_shared_one() {
    let redis = RedisServer::start();
    // A short response timeout on the shared connection: the dedicated one must not have it.
    let options = ConnOptions { response_timeout: Some(Duration::from_millis(500)), ..ConnOptions::default() };
    let conn = RedisConn::connect(&redis.url(), options).await.expect("connect");
    let blocker = conn.dedicated().await.expect("dedicated connection");
    assert!(format!("{blocker:?}").contains("dedicated: true"));

    let waiting = tokio::spawn({
        let mut b = blocker.clone();
        async move { b.blpop::<_, Option<[String; 2]>>("wake", 30.0).await }
    });
    // While BLPOP blocks, the shared connection answers (and sees the blocked client).
    wait_until_async("BLPOP blocks on the dedicated connection", DEADLINE, || async {
        (blocked_clients(&conn).await == 1).then_some(())
    })
    .await;
    let mut c = conn.clone();
    c.set::<_, _, ()>("other", "1").await.unwrap();
    c.rpush::<_, _, ()>("wake", "token").await.unwrap();
    let woken = waiting.await.unwrap().unwrap();
    assert_eq!(woken, Some(["wake".to_owned(), "token".to_owned()]));

    // A block longer than the shared response timeout ends by the server's timeout, not by a
    // client-side one.
    let mut b = blocker.clone();
    assert_eq!(b.blpop::<_, Option<[String; 2]>>("nothing", 1.0).await.unwrap(), None);
}

const CLUSTER_PW: &str = "cluster-pw-5e2b";

/// A plain (non-cluster) connection to one node of `cluster`.
async fn node(cluster: &RedisCluster, i: usize) -> RedisConn {
    RedisConn::connect(&cluster.node(i).url(), ConnOptions::default()).await.expect("connect to a node")
}

/// The first two nodes as seeds of a `redis+cluster://` URL: the third is found from the slot map.
fn seed_url(cluster: &RedisCluster) -> String {
    let hosts: Vec<String> = cluster.ports()[..2].iter().map(|p| format!("127.0.0.1:{p}")).collect();
    format!("redis+cluster://:{CLUSTER_PW}@{}", hosts.join(","))
}

#[tokio::test]
async fn a_cluster_url_runs_commands_pipelines_and_scripts_on_every_node() {
    let cluster = RedisCluster::start_with_password(3, CLUSTER_PW);
    let conn = RedisConn::connect(&seed_url(&cluster), ConnOptions::default()).await.expect("connect to the cluster");
    assert!(conn.is_cluster());
    let shown = format!("{conn:?}");
    assert!(!shown.contains(CLUSTER_PW) && shown.contains("redis+cluster://:***@"), "{shown}");

    // 30 keys hash to slots on all three nodes.
    let mut c = conn.clone();
    for i in 0..30 {
        c.set::<_, _, ()>(format!("key{i}"), i).await.unwrap();
    }
    for i in 0..30 {
        assert_eq!(c.get::<_, i64>(format!("key{i}")).await.unwrap(), i);
    }
    // Only the third node was not a seed; it holds some of the keys all the same.
    let mut third = node(&cluster, 2).await;
    let held: i64 = redis::cmd("DBSIZE").query_async(&mut third).await.unwrap();
    assert!(held > 0, "no key on the third node");

    // EVALSHA → NOSCRIPT → SCRIPT LOAD (to every node) → EVALSHA on the key's node.
    let script = Script::new("return redis.call('INCR', KEYS[1])");
    for i in 0..30 {
        assert_eq!(script.key(format!("counter{i}")).invoke_async::<i64>(&mut c).await.unwrap(), 1);
    }
    for i in 0..3 {
        let mut n = node(&cluster, i).await;
        let exists: Vec<bool> =
            redis::cmd("SCRIPT").arg("EXISTS").arg(script.get_hash()).query_async(&mut n).await.unwrap();
        assert_eq!(exists, vec![true], "script not loaded on node {i}");
    }

    // A pipeline over one hash tag goes to its slot's node.
    let (a, b): (i64, i64) = redis::pipe().incr("{q}:a", 1).incr("{q}:b", 2).query_async(&mut c).await.unwrap();
    assert_eq!((a, b), (1, 2));

    // A dedicated cluster connection blocks without holding up the shared one.
    let blocker = conn.dedicated().await.expect("dedicated cluster connection");
    assert!(blocker.is_cluster());
    let waiting = tokio::spawn({
        let mut b = blocker.clone();
        async move { b.blpop::<_, Option<[String; 2]>>("{q}:wake", 30.0).await }
    });
    assert_eq!(c.get::<_, i64>("{q}:a").await.unwrap(), 1);
    c.rpush::<_, _, ()>("{q}:wake", "token").await.unwrap();
    assert_eq!(waiting.await.unwrap().unwrap(), Some(["{q}:wake".to_owned(), "token".to_owned()]));
}

#[tokio::test]
async fn a_cluster_connection_heals_after_a_node_restarts() {
    let mut cluster = RedisCluster::start_with_password(3, CLUSTER_PW);
    // A short response timeout: a call to the stopped node fails after it.
    let options = ConnOptions { response_timeout: Some(Duration::from_secs(1)), ..ConnOptions::default() };
    let conn = RedisConn::connect(&seed_url(&cluster), options).await.expect("connect to the cluster");
    let mut c = conn.clone();
    for i in 0..30 {
        c.set::<_, _, ()>(format!("key{i}"), i).await.unwrap();
    }
    cluster.kill_node(2);
    // While the node is down, calls on its slots fail (after redis-rs's own retries, within
    // the response timeout).
    let mut failed = None;
    for i in 0..30 {
        if let Err(e) = c.set::<_, _, ()>(format!("key{i}"), i).await {
            failed = Some(e);
            break;
        }
    }
    let failed = failed.expect("a key on the stopped node");
    assert!(is_connection_error(&failed), "{failed}");
    cluster.restart_node(2);
    // Writes to its slots work again (the node came back with its AOF).
    wait_until_async("every slot takes writes again", DEADLINE, || {
        let mut c = c.clone();
        async move {
            for i in 0..30 {
                c.set::<_, _, ()>(format!("key{i}"), i).await.ok()?;
            }
            Some(())
        }
    })
    .await;
    for i in 0..30 {
        assert_eq!(c.get::<_, i64>(format!("key{i}")).await.unwrap(), i);
    }
}
