//! `redis.url`: which URLs are accepted, and the form shown in printouts and messages.
//!
//! Accepted is exactly what `snapsync_queue::RedisConn::connect` accepts, so `config check`
//! passes only URLs the worker and producer can use: one server (`redis://`, `redis+unix://`,
//! anything redis-rs parses in this build) or a Redis Cluster (`redis+cluster://h1:p1,h2:p2`
//! or `redis://h1:p1,redis://h2:p2`). [`check`] splits and parses with RedisConn's own
//! functions (`snapsync_queue::conn::cluster_nodes`, `split_before_scheme`) and then the
//! redis-rs ones it calls (`IntoConnectionInfo`, `ClusterClientBuilder::build`); none of them
//! connects. What is left here is only the messages and the redaction.

use redis::cluster::ClusterClientBuilder;
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};
use snapsync_queue::conn::{cluster_nodes, node_urls, split_before_scheme};

const REDACTED: &str = "[redacted]";

/// The expected form, for messages.
const FORM: &str = "a Redis URL like \"redis://[user][:password@]host[:port][/db]\" or \
     \"redis+unix:///path/to/socket\", or for a Redis Cluster \"redis+cluster://[:password@]h1:p1,h2:p2\" \
     or \"redis://h1:p1,redis://h2:p2\"";

/// `Ok` when `RedisConn::connect` would accept `url`; otherwise what is expected instead
/// (never quoting the URL, which may hold a password).
pub(crate) fn check(url: &str) -> Result<(), String> {
    let texts = node_urls(url)
        .map_err(|_| "host:port entries separated by commas after redis+cluster://, none empty".to_owned())?;
    let Some(texts) = texts else {
        return parse(url).map(drop);
    };
    for text in &texts {
        parse(text)?;
    }
    let nodes = cluster_nodes(url).map_err(|_| FORM.to_owned())?.unwrap_or_default();
    if nodes.iter().any(|n| matches!(n.addr(), ConnectionAddr::Unix(_))) {
        return Err("host:port cluster nodes: a Redis Cluster is not reached over a unix socket".into());
    }
    ClusterClientBuilder::new(nodes).build().map(drop).map_err(|_| {
        "every cluster node with the same password, user, database, protocol and TLS mode (a node \
         written without password or user takes the first node's)"
            .to_owned()
    })
}

/// One server's URL through redis-rs, as `RedisConn` parses it.
fn parse(text: &str) -> Result<ConnectionInfo, String> {
    text.into_connection_info().map_err(|_| {
        let tls = ["rediss://", "valkeys://"].iter().any(|s| text.starts_with(s));
        // Asked of redis-rs rather than assumed, so enabling its TLS feature just works.
        if tls && "rediss://127.0.0.1".into_connection_info().is_err() {
            "redis:// (this build has no TLS support, so rediss:// cannot connect)".to_owned()
        } else {
            FORM.to_owned()
        }
    })
}

/// `url` with every password replaced by `[redacted]`: each node's of a multi-node URL, the
/// shared one of `redis+cluster://`, and a unix socket URL's `pass=`. User, hosts, ports and
/// database stay readable. Works on the text, not a parse, so it also covers URLs that are
/// not valid: whatever precedes a node's last `@` may be a password, so when it is not
/// `scheme://user:` it is hidden whole. Nodes are split only where [`check`] splits them;
/// splitting elsewhere could cut a password in two and show half of it.
pub(crate) fn redact(url: &str) -> String {
    split_before_scheme(url).iter().map(|node| redact_node(node)).collect::<Vec<_>>().join(",")
}

fn redact_node(node: &str) -> String {
    let node = redact_query_password(node);
    let Some(at) = node.rfind('@') else { return node };
    let (before, after) = node.split_at(at);
    // Only a real scheme counts: a `://` inside a password must not pass for one.
    let is_scheme = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    let userinfo_start = before.find("://").filter(|&i| is_scheme(&before[..i])).map(|i| i + 3);
    match userinfo_start.map(|start| (start, &before[start..])) {
        Some((start, userinfo)) => match userinfo.find(':') {
            Some(colon) => format!("{}{}:{REDACTED}{after}", &before[..start], &userinfo[..colon]),
            // `scheme://user@host`: a user name alone is not secret.
            None => node.clone(),
        },
        None => format!("{REDACTED}{after}"),
    }
}

/// `redis+unix:///run/redis.sock?db=1&pass=secret` → `...&pass=[redacted]`; redis-rs reads
/// the query with percent-decoding, so the name is decoded before comparing.
fn redact_query_password(node: &str) -> String {
    let Some(q) = node.find('?') else { return node.to_owned() };
    let (head, query) = node.split_at(q + 1);
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| {
            let name = url::form_urlencoded::parse(param.as_bytes()).next().map(|(name, _)| name.into_owned());
            if name.as_deref() == Some("pass") {
                format!("pass={REDACTED}")
            } else {
                param.to_owned()
            }
        })
        .collect();
    format!("{head}{}{fragment}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::{check, redact};

    #[test]
    fn one_server_and_cluster_urls_are_accepted() {
        for url in [
            "redis://127.0.0.1:16379",
            "redis://user:pw@host:6379/2",
            "redis+unix:///run/redis.sock",
            "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001",
            "redis+cluster://h:7000",
            "redis+cluster://u:pw@a:1,b:2,c:3/0",
            "redis://:pw@h1:7000,redis://h2:7001",
            "redis://:pw@h1:7000,redis://:pw@h2:7001",
            // A comma in a password does not split the URL.
            "redis://:p,w@127.0.0.1:6379",
        ] {
            assert_eq!(check(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn what_redis_conn_refuses_is_refused() {
        for url in [
            "localhost:6379",
            "http://127.0.0.1:6379",
            "redis://",
            "redis://0.0.0.0:6379",
            "redis://h:1/notadb",
            "redis+cluster://",
            "redis+cluster://h:1,,h:2",
            "redis+cluster://h:1,",
            "redis://:a@h:1,redis://:b@h:2",
            "redis://u@h:1,redis://v@h:2",
            "redis://h:1/1,redis://h:2/2",
            "redis://h:1,redis://",
            "redis+unix:///a.sock,redis://h:2",
        ] {
            assert!(check(url).is_err(), "{url} should be refused");
        }
    }

    #[test]
    fn every_password_is_redacted() {
        let cases = [
            ("redis://user:pa55@host:6379/0", "redis://user:[redacted]@host:6379/0"),
            ("rediss://:pa55@host", "rediss://:[redacted]@host"),
            ("redis://host:6379", "redis://host:6379"),
            ("redis://user@host", "redis://user@host"),
            ("user:pa55@host:6379", "[redacted]@host:6379"),
            ("localhost:6379", "localhost:6379"),
            ("redis+cluster://:pa55@a:1,b:2", "redis+cluster://:[redacted]@a:1,b:2"),
            ("redis+cluster://u:pa55@a:1,b:2/0", "redis+cluster://u:[redacted]@a:1,b:2/0"),
            ("redis://:one1@a:1,redis://:two2@b:2", "redis://:[redacted]@a:1,redis://:[redacted]@b:2"),
            ("redis://:one1@a:1,redis://b:2", "redis://:[redacted]@a:1,redis://b:2"),
            ("redis://:p,w@h:1", "redis://:[redacted]@h:1"),
            ("redis://:p,w@h:1,redis://:x,y@h:2", "redis://:[redacted]@h:1,redis://:[redacted]@h:2"),
            ("redis+unix:///s.sock?db=1&pass=pa55", "redis+unix:///s.sock?db=1&pass=[redacted]"),
            ("redis+unix:///s.sock?pa%73s=pa55#x", "redis+unix:///s.sock?pass=[redacted]#x"),
            // An unencoded `@` in a password: everything up to the last `@` is hidden.
            ("redis://:pa@55@h:1", "redis://:[redacted]@h:1"),
            ("redis//:a://pa55@h:1", "[redacted]@h:1"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
