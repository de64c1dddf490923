//! `redis.url`: the config accepts exactly the URLs `RedisConn::connect` accepts, one server
//! or a Redis Cluster. Checked against `RedisConn` itself: a URL it cannot parse fails at once
//! with `InvalidClientConfig`; one it parses gets as far as connecting, which fails (nothing
//! listens on ports 1 and 2 of 127.0.0.1, nor at the socket paths).

use std::time::Duration;

use snapsync::config::Config;
use snapsync_queue::{ConnOptions, RedisConn};

/// `(url, accepted)`; `None` where the answer depends on the build (TLS support), so only
/// the agreement is checked.
const URLS: [(&str, Option<bool>); 25] = [
    ("redis://127.0.0.1:1", Some(true)),
    ("redis://:pw@127.0.0.1:1/3", Some(true)),
    ("redis://user:pw@127.0.0.1:1/?protocol=resp3", Some(true)),
    ("redis+unix:///nonexistent/redis.sock", Some(true)),
    ("unix:///nonexistent/redis.sock?db=2&pass=pw", Some(true)),
    ("redis+cluster://127.0.0.1:1,127.0.0.1:2", Some(true)),
    ("redis+cluster://:pw@127.0.0.1:1", Some(true)),
    ("redis+cluster://u:pw@127.0.0.1:1, 127.0.0.1:2/0", Some(true)),
    ("redis://:pw@127.0.0.1:1,redis://127.0.0.1:2", Some(true)),
    ("redis://:pw@127.0.0.1:1,redis://:pw@127.0.0.1:2", Some(true)),
    ("redis://:p,w@127.0.0.1:1", Some(true)),
    ("127.0.0.1:1", Some(false)),
    ("http://127.0.0.1:1", Some(false)),
    ("redis://", Some(false)),
    ("redis://0.0.0.0:1", Some(false)),
    ("redis://127.0.0.1:1/x", Some(false)),
    ("redis://127.0.0.1:1/?protocol=9", Some(false)),
    ("redis+cluster://", Some(false)),
    ("redis+cluster://127.0.0.1:1,,127.0.0.1:2", Some(false)),
    ("redis://:a@127.0.0.1:1,redis://:b@127.0.0.1:2", Some(false)),
    ("redis://127.0.0.1:1/1,redis://127.0.0.1:2/2", Some(false)),
    ("redis+unix:///nonexistent.sock,redis://127.0.0.1:2", Some(false)),
    ("rediss://127.0.0.1:1", None),
    ("rediss+cluster://127.0.0.1:1,127.0.0.1:2", None),
    ("redis://127.0.0.1:1,rediss://127.0.0.1:2", Some(false)),
];

async fn redis_conn_accepts(url: &str) -> bool {
    let options = ConnOptions {
        connection_timeout: Duration::from_millis(500),
        response_timeout: Some(Duration::from_millis(500)),
        ..ConnOptions::default()
    };
    match RedisConn::connect(url, options).await {
        Ok(conn) => panic!("nothing should answer at {url}: {conn:?}"),
        Err(e) => e.kind() != redis::ErrorKind::InvalidClientConfig,
    }
}

#[tokio::test]
async fn config_accepts_what_redis_conn_accepts() {
    for (url, expected) in URLS {
        let conn = redis_conn_accepts(url).await;
        let config = Config::from_toml_str("", [("SNAPSYNC__REDIS__URL".to_owned(), url.to_owned())]);
        assert_eq!(config.is_ok(), conn, "{url}: config says {config:?}, RedisConn accepts: {conn}");
        if let Some(expected) = expected {
            assert_eq!(conn, expected, "{url}");
        }
        if let Err(err) = config {
            let keys: Vec<_> = err.problems().iter().filter_map(|p| p.key.as_deref()).collect();
            assert_eq!(keys, ["redis.url"], "{err}");
        }
    }
}
