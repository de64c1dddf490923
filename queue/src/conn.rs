//! Self-healing Redis connections: [`RedisConn`], the one connection type of the project.
//!
//! redis-rs's `ConnectionManager` reconnects only after I/O errors; when its reconnect fails
//! with anything else (a refused password, say) it keeps that failed attempt and returns the
//! same error forever, so a worker stays broken after Redis is fixed. [`RedisConn`] instead
//! drops its connection after *any* error that says the connection is bad (see
//! [`is_connection_error`]) and makes a new one on the next call, spacing new-connection
//! attempts by capped exponential backoff.
//!
//! What it does not do: retry a command. The failing call returns its error and callers retry
//! with their own backoff as before; a retried `EVALSHA` or `LPUSH` inside the connection
//! could run twice.
//!
//! # URLs
//! - one server: any URL redis-rs takes, `redis://[user][:password@]host:port[/db]`
//!   (`rediss://`, `redis+unix://` too);
//! - a Redis Cluster, seed nodes listed in either form:
//!   - `redis+cluster://[user][:password@]h1:p1,h2:p2[/db]` (or `rediss+cluster://`): one
//!     scheme and one password for every node; one host is enough;
//!   - full URLs separated by commas, `redis://:pw@h1:p1,redis://h2:p2`; a node without a
//!     password takes the first node's. A literal comma in a password must be written `%2C`.
//!
//! # Layout
//! - [`ConnOptions`]: connection and response timeouts, reconnect backoff.
//! - [`RedisConn`]: connect, [`RedisConn::dedicated`] (a connection without response timeout
//!   for blocking commands), `ConnectionLike` (so commands, pipelines and scripts run on it).
//! - [`is_connection_error`]: the errors that mean "this connection is bad", shared with
//!   `QueueError::is_connection`.
//! - private: `Target` (one server or a cluster, parsed from the URL), `Shared` (the current
//!   connection, its generation and the backoff, shared by all clones), URL parsing and the
//!   redacted form of a URL shown by `Debug`.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, Pipeline, RedisError,
    RedisFuture, RedisResult, ServerError, ServerErrorKind, Value,
};

/// Timeouts and reconnect backoff of a [`RedisConn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnOptions {
    /// Longest wait for a new connection (TCP, TLS, AUTH, HELLO); for a cluster, per node.
    pub connection_timeout: Duration,
    /// Longest wait for the answer to one call; `None` waits for ever. A timed-out call drops
    /// the connection (a server that does not answer in time is presumed gone).
    pub response_timeout: Option<Duration>,
    /// Wait before the second new-connection attempt in a row; doubles per failure.
    pub backoff_min: Duration,
    /// Longest wait between two new-connection attempts.
    pub backoff_max: Duration,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            connection_timeout: Duration::from_secs(2),
            response_timeout: Some(Duration::from_secs(5)),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
        }
    }
}

impl ConnOptions {
    /// The wait after `attempts` new-connection attempts without a successful call in
    /// between: nothing before the first, then `backoff_min` doubling up to `backoff_max`.
    fn backoff(&self, attempts: u32) -> Duration {
        if attempts == 0 {
            return Duration::ZERO;
        }
        crate::backoff::backoff_ceiling(attempts, self.backoff_min, self.backoff_max)
    }
}

/// True when `error` says the connection (not the command) is bad, so it is dropped and a new
/// one made: I/O errors (refused, reset, broken pipe, EOF), timeouts, a failed AUTH
/// (`AuthenticationFailed`, `NOAUTH`, `WRONGPASS`, `ERR invalid password`), `LOADING`,
/// `MASTERDOWN` and `READONLY` (a failover happened), `CLUSTERDOWN` and `TRYAGAIN`, and a
/// cluster that cannot reach a node. All of them are also worth retrying by the caller.
/// Errors of the command itself (`WRONGTYPE`, `NOSCRIPT`, a script's error, a reply of the
/// wrong type) are not.
pub fn is_connection_error(error: &RedisError) -> bool {
    if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() || error.is_timeout() {
        return true;
    }
    if matches!(error.kind(), ErrorKind::AuthenticationFailed | ErrorKind::ClusterConnectionNotFound) {
        return true;
    }
    // A server error alone, or the errors of a pipeline or an aborted transaction: `kind()`
    // reports only the first of those, and not at all for codes redis-rs does not know
    // (`NOAUTH`, `WRONGPASS`), so every one is looked at by its code.
    error.clone().into_server_errors().is_some_and(|errors| errors.iter().any(|(_, e)| is_connection_server_error(e)))
}

/// [`is_connection_error`] for one error reply of the server.
fn is_connection_server_error(error: &ServerError) -> bool {
    match error.kind() {
        Some(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::TryAgain,
        ) => true,
        // Servers before 6.0 said `-ERR invalid password`.
        Some(ServerErrorKind::ResponseError) => {
            error.details().is_some_and(|d| d.to_ascii_lowercase().contains("invalid password"))
        }
        Some(_) => false,
        None => matches!(error.code(), "NOAUTH" | "WRONGPASS"),
    }
}

/// What a finished call says about the connection it ran on: `Some(error)` when the
/// connection must go. Server errors arrive as values (`Value::ServerError`) at this level,
/// so replies are looked into too. A parse error here comes from the wire (the reply is
/// converted later, by the caller), so the stream is out of step and the connection goes.
fn broken_by(result: Result<&Value, &RedisError>) -> Option<RedisError> {
    match result {
        Ok(value) => broken_value(value),
        Err(e) => broken_err(e),
    }
}

fn broken_err(e: &RedisError) -> Option<RedisError> {
    (is_connection_error(e) || e.kind() == ErrorKind::Parse).then(|| e.clone())
}

fn broken_value(value: &Value) -> Option<RedisError> {
    match value {
        Value::ServerError(e) if is_connection_server_error(e) => Some(RedisError::from(e.clone())),
        // A transaction's EXEC answers with an array of the commands' replies.
        Value::Array(items) => items.iter().find_map(|item| match item {
            Value::ServerError(e) if is_connection_server_error(e) => Some(RedisError::from(e.clone())),
            _ => None,
        }),
        _ => None,
    }
}

/// One Redis connection shared by all its clones that replaces itself after a connection
/// error (see the module docs). Commands, pipelines, `AsyncCommands` and
/// `Script::invoke_async` run on it through `ConnectionLike`.
#[derive(Clone)]
pub struct RedisConn {
    shared: Arc<Shared>,
}

/// What to connect to.
#[derive(Clone)]
enum Target {
    Single(redis::Client),
    /// The seed nodes, kept so [`RedisConn::dedicated`] can build a client with other timeouts.
    Cluster {
        nodes: Vec<ConnectionInfo>,
        // Boxed: a cluster client is several times the size of a plain one.
        client: Box<redis::cluster::ClusterClient>,
    },
}

/// The live connection.
#[derive(Clone)]
enum Inner {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

struct Shared {
    target: Target,
    options: ConnOptions,
    /// The URL with the password replaced by `***`: for `Debug` and logs.
    shown: String,
    dedicated: bool,
    slot: Mutex<Slot>,
    /// New-connection attempts since the last call that succeeded; drives the backoff.
    /// Outside `slot` so a successful call only reads an atomic.
    attempts: AtomicU32,
    /// Held while making a new connection, so concurrent callers wait for one attempt
    /// instead of each making their own.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Slot {
    /// The connection calls use, with the generation it was made in.
    current: Option<(u64, Inner)>,
    /// The generation of the newest connection made.
    generation: u64,
    /// When the last new-connection attempt ended, successful or not.
    last_attempt: Option<Instant>,
    /// The error that dropped the last connection or failed the last attempt; returned to
    /// calls made while backing off.
    last_error: Option<RedisError>,
}

impl RedisConn {
    /// Parses `url` (a bad URL is an error at once) and makes the first connection. A failed
    /// first connection is returned as the error, so startup can say it cannot connect;
    /// callers that wait for Redis retry `connect` (as `snapsync_queue::connect` does). After
    /// that, the connection heals itself.
    pub async fn connect(url: &str, options: ConnOptions) -> Result<RedisConn, RedisError> {
        let (target, shown) = Target::parse(url, &options)?;
        RedisConn::start(target, shown, options, false).await
    }

    /// A separate connection to the same Redis, without response timeout, for blocking
    /// commands (`BLPOP`): they wait on it and never hold up the calls on this one. It heals
    /// itself the same way. Its clones share it, and a multiplexed connection answers in
    /// order, so give each blocking loop its own. A caller that gives up waiting on a call
    /// (its own timeout) should [`discard`](RedisConn::discard) the connection, since a call
    /// still blocked in Redis would hold up the next one.
    pub async fn dedicated(&self) -> Result<RedisConn, RedisError> {
        let options = ConnOptions { response_timeout: None, ..self.shared.options.clone() };
        let target = self.shared.target.with_options(&options)?;
        RedisConn::start(target, self.shared.shown.clone(), options, true).await
    }

    async fn start(target: Target, shown: String, options: ConnOptions, dedicated: bool) -> RedisResult<RedisConn> {
        let shared = Shared {
            target,
            options,
            shown,
            dedicated,
            slot: Mutex::new(Slot::default()),
            attempts: AtomicU32::new(0),
            connecting: tokio::sync::Mutex::new(()),
        };
        let conn = RedisConn { shared: Arc::new(shared) };
        conn.shared.connection().await?;
        Ok(conn)
    }

    /// True when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.shared.target, Target::Cluster { .. })
    }

    /// The URL with its password replaced by `***`, for logs.
    pub fn redacted_url(&self) -> &str {
        &self.shared.shown
    }

    /// Drops the current connection; the next call makes a new one (backoff permitting).
    /// For a caller that stopped waiting on a call by its own timeout and so cannot tell
    /// whether the connection still works.
    pub fn discard(&self) {
        let mut slot = self.shared.slot();
        slot.current = None;
    }
}

impl fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConn")
            .field("url", &self.shared.shown)
            .field("cluster", &self.is_cluster())
            .field("dedicated", &self.shared.dedicated)
            .field("generation", &self.shared.slot().generation)
            .finish()
    }
}

impl Shared {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        // Nothing panics while holding the lock; a poisoned one still holds a valid slot.
        self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn current(&self) -> Option<(u64, Inner)> {
        self.slot().current.clone()
    }

    /// The current connection, or a new one when there is none and the backoff allows;
    /// while backing off, the last error at once.
    async fn connection(&self) -> RedisResult<(u64, Inner)> {
        if let Some(current) = self.current() {
            return Ok(current);
        }
        let _turn = self.connecting.lock().await;
        // Someone else may have connected while this call waited its turn.
        if let Some(current) = self.current() {
            return Ok(current);
        }
        let attempts = self.attempts.load(Ordering::Relaxed);
        {
            let slot = self.slot();
            if let (Some(ended), Some(error)) = (slot.last_attempt, &slot.last_error) {
                if ended.elapsed() < self.options.backoff(attempts) {
                    return Err(error.clone());
                }
            }
        }
        let result = self.target.connect(&self.options).await;
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let mut slot = self.slot();
        slot.last_attempt = Some(Instant::now());
        match result {
            Ok(inner) => {
                slot.generation += 1;
                slot.current = Some((slot.generation, inner.clone()));
                if slot.last_error.is_some() {
                    tracing::info!(redis = %self.shown, dedicated = self.dedicated, "redis connection made again");
                }
                Ok((slot.generation, inner))
            }
            Err(error) => {
                let retry_in = self.options.backoff(attempts + 1);
                // A failed first connection is the caller's to report (`connect` returns it).
                if slot.generation > 0 {
                    tracing::warn!(redis = %self.shown, dedicated = self.dedicated, %error, ?retry_in, "cannot connect to redis");
                }
                slot.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Records how a call on connection `generation` ended: a connection error drops that
    /// connection (unless a newer one replaced it already: a concurrent failure of the old
    /// one must not drop the fresh one); anything else proves the connection works, which
    /// resets the backoff.
    fn settle(&self, generation: u64, broken: Option<RedisError>) {
        match broken {
            Some(error) => {
                let mut slot = self.slot();
                if slot.current.as_ref().is_some_and(|(g, _)| *g == generation) {
                    slot.current = None;
                    tracing::warn!(redis = %self.shown, dedicated = self.dedicated, %error, "redis connection dropped; the next call makes a new one");
                    slot.last_error = Some(error);
                }
            }
            None => {
                if self.attempts.load(Ordering::Relaxed) != 0 {
                    self.attempts.store(0, Ordering::Relaxed);
                }
            }
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (generation, mut conn) = self.shared.connection().await?;
            let result = match &mut conn {
                Inner::Single(c) => c.req_packed_command(cmd).await,
                Inner::Cluster(c) => c.req_packed_command(cmd).await,
            };
            self.shared.settle(generation, broken_by(result.as_ref()));
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (generation, mut conn) = self.shared.connection().await?;
            let result = match &mut conn {
                Inner::Single(c) => c.req_packed_commands(pipeline, offset, count).await,
                Inner::Cluster(c) => c.req_packed_commands(pipeline, offset, count).await,
            };
            let broken = match &result {
                Ok(values) => values.iter().find_map(broken_value),
                Err(e) => broken_err(e),
            };
            self.shared.settle(generation, broken);
            result
        })
    }

    fn get_db(&self) -> i64 {
        match &self.shared.target {
            Target::Single(client) => client.get_connection_info().redis_settings().db(),
            // A cluster has only database 0.
            Target::Cluster { .. } => 0,
        }
    }
}

impl Target {
    /// The target named by `url` and its redacted form.
    fn parse(url: &str, options: &ConnOptions) -> RedisResult<(Target, String)> {
        match cluster_nodes(url)? {
            None => {
                let info = url.into_connection_info()?;
                let shown = show(&info, false);
                Ok((Target::Single(redis::Client::open(info)?), shown))
            }
            Some(nodes) => {
                let shown = show_cluster(&nodes);
                let client = Box::new(cluster_client(&nodes, options)?);
                Ok((Target::Cluster { nodes, client }, shown))
            }
        }
    }

    fn with_options(&self, options: &ConnOptions) -> RedisResult<Target> {
        match self {
            Target::Single(client) => Ok(Target::Single(client.clone())),
            Target::Cluster { nodes, .. } => {
                Ok(Target::Cluster { nodes: nodes.clone(), client: Box::new(cluster_client(nodes, options)?) })
            }
        }
    }

    async fn connect(&self, options: &ConnOptions) -> RedisResult<Inner> {
        match self {
            Target::Single(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(options.connection_timeout))
                    .set_response_timeout(options.response_timeout);
                client.get_multiplexed_async_connection_with_config(&config).await.map(Inner::Single)
            }
            Target::Cluster { client, .. } => {
                // The connection timeout bounds each node; reading the slot map is a call
                // more, so the whole takes at most both.
                let limit = options.connection_timeout + options.response_timeout.unwrap_or(options.connection_timeout);
                match tokio::time::timeout(limit, client.get_async_connection()).await {
                    Ok(result) => result.map(Inner::Cluster),
                    Err(_) => Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()),
                }
            }
        }
    }
}

fn cluster_client(nodes: &[ConnectionInfo], options: &ConnOptions) -> RedisResult<redis::cluster::ClusterClient> {
    let mut builder = ClusterClientBuilder::new(nodes.to_vec()).connection_timeout(options.connection_timeout);
    if let Some(timeout) = options.response_timeout {
        builder = builder.response_timeout(timeout);
    }
    builder.build()
}

const CLUSTER_SCHEMES: [(&str, &str); 2] = [("redis+cluster://", "redis://"), ("rediss+cluster://", "rediss://")];

/// The node URLs when `url` names a cluster (see the module docs), `None` for one server: the
/// hosts of `redis+cluster://[userinfo@]h1:p1,h2:p2[/db]` each with the shared userinfo and
/// tail, or the URLs of a comma-separated list. Text only: nothing is parsed or checked yet.
pub fn node_urls(url: &str) -> RedisResult<Option<Vec<String>>> {
    let invalid = |what: &'static str| RedisError::from((ErrorKind::InvalidClientConfig, what));
    if let Some((scheme, rest)) =
        CLUSTER_SCHEMES.iter().find_map(|(cluster, plain)| url.strip_prefix(cluster).map(|rest| (*plain, rest)))
    {
        // The hosts end where the path or query starts and begin after the last `@` before that.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => authority.split_at(at + 1),
            None => ("", authority),
        };
        if hosts.split(',').any(|h| h.trim().is_empty()) {
            return Err(invalid("a redis+cluster:// URL needs host:port entries separated by commas"));
        }
        return Ok(Some(hosts.split(',').map(|host| format!("{scheme}{userinfo}{}{tail}", host.trim())).collect()));
    }
    if url.contains(",redis://") || url.contains(",rediss://") {
        return Ok(Some(split_before_scheme(url)));
    }
    Ok(None)
}

/// `a,redis://b,rediss://c` → `["a", "redis://b", "rediss://c"]`: split only before a scheme,
/// so a comma elsewhere (in a password) stays in its URL. The config's redaction splits the
/// same way, so it can never cut a password in two.
pub fn split_before_scheme(url: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for piece in url.split(',') {
        match parts.last_mut() {
            Some(last) if !(piece.starts_with("redis://") || piece.starts_with("rediss://")) => {
                last.push(',');
                last.push_str(piece);
            }
            _ => parts.push(piece.to_owned()),
        }
    }
    parts
}

/// The seed nodes when `url` names a cluster (see the module docs), `None` for one server;
/// each node parsed, one without credentials given the first node's. Nothing connects.
pub fn cluster_nodes(url: &str) -> RedisResult<Option<Vec<ConnectionInfo>>> {
    let invalid = |what: &'static str| RedisError::from((ErrorKind::InvalidClientConfig, what));
    let Some(texts) = node_urls(url)? else { return Ok(None) };
    let mut nodes = texts.iter().map(|t| t.as_str().into_connection_info()).collect::<RedisResult<Vec<_>>>()?;
    // Every node authenticates the same way; a node written without credentials takes the
    // first node's (redis-rs refuses nodes whose credentials differ).
    let (username, password) = match nodes.first() {
        Some(first) => {
            let settings = first.redis_settings();
            (settings.username().map(str::to_owned), settings.password().map(str::to_owned))
        }
        None => return Err(invalid("a cluster URL names no node")),
    };
    for node in &mut nodes {
        let mut settings = node.redis_settings().clone();
        if settings.password().is_none() {
            if let Some(password) = &password {
                settings = settings.set_password(password);
            }
        }
        if settings.username().is_none() {
            if let Some(username) = &username {
                settings = settings.set_username(username);
            }
        }
        *node = node.clone().set_redis_settings(settings);
    }
    Ok(Some(nodes))
}

/// `scheme://[user][:***@]address[/db]`, built from the parsed parts so no password can slip
/// through.
fn show(info: &ConnectionInfo, cluster: bool) -> String {
    let scheme = match (info.addr(), cluster) {
        (ConnectionAddr::TcpTls { .. }, false) => "rediss",
        (ConnectionAddr::TcpTls { .. }, true) => "rediss+cluster",
        (ConnectionAddr::Unix(_), _) => "redis+unix",
        (_, false) => "redis",
        (_, true) => "redis+cluster",
    };
    let settings = info.redis_settings();
    let userinfo = match (settings.username(), settings.password()) {
        (Some(user), Some(_)) => format!("{user}:***@"),
        (None, Some(_)) => ":***@".to_owned(),
        (Some(user), None) => format!("{user}@"),
        (None, None) => String::new(),
    };
    let db = match settings.db() {
        0 => String::new(),
        db => format!("/{db}"),
    };
    format!("{scheme}://{userinfo}{}{db}", info.addr())
}

fn show_cluster(nodes: &[ConnectionInfo]) -> String {
    let Some(first) = nodes.first() else { return String::new() };
    let head = show(first, true);
    let rest: Vec<String> = nodes[1..].iter().map(|n| n.addr().to_string()).collect();
    if rest.is_empty() {
        head
    } else {
        format!("{head},{}", rest.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(line: &str) -> RedisError {
        // The parser's own path from an error line to an error: the same values a server
        // reply becomes.
        let reply = format!("-{line}\r\n");
        match redis::parse_redis_value(reply.as_bytes()) {
            Ok(Value::ServerError(e)) => RedisError::from(e),
            other => panic!("not a server error: {other:?}"),
        }
    }

    #[test]
    fn connection_errors_are_told_from_command_errors() {
        let io = |kind| RedisError::from(std::io::Error::from(kind));
        let connection = [
            io(std::io::ErrorKind::ConnectionRefused),
            io(std::io::ErrorKind::ConnectionReset),
            io(std::io::ErrorKind::BrokenPipe),
            io(std::io::ErrorKind::UnexpectedEof),
            io(std::io::ErrorKind::TimedOut),
            RedisError::from((ErrorKind::Io, "connection dropped")),
            RedisError::from((ErrorKind::AuthenticationFailed, "Password authentication failed")),
            RedisError::from((ErrorKind::ClusterConnectionNotFound, "no node")),
            server("NOAUTH Authentication required."),
            server("WRONGPASS invalid username-password pair or user is disabled."),
            server("ERR invalid password"),
            server("LOADING Redis is loading the dataset in memory"),
            server("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
            server("READONLY You can't write against a read only replica."),
            server("CLUSTERDOWN The cluster is down"),
            server("TRYAGAIN Multiple keys request during rehashing of slot"),
        ];
        for e in &connection {
            assert!(is_connection_error(e), "should be a connection error: {e}");
        }
        let command = [
            server("WRONGTYPE Operation against a key holding the wrong kind of value"),
            server("NOSCRIPT No matching script. Please use EVAL."),
            server("ERR Error running script (call to f_1234): @user_script:1: boom"),
            server("ERR unknown command 'NOPE'"),
            server("MOVED 3999 127.0.0.1:6381"),
            server("CROSSSLOT Keys in request don't hash to the same slot"),
            server("NOPERM this user has no permissions to run the 'get' command"),
            RedisError::from((ErrorKind::UnexpectedReturnType, "not an integer")),
            RedisError::from((ErrorKind::InvalidClientConfig, "bad url")),
            RedisError::from((ErrorKind::Client, "empty command")),
        ];
        for e in &command {
            assert!(!is_connection_error(e), "should not be a connection error: {e}");
        }
    }

    #[test]
    fn a_pipeline_failing_with_noauth_anywhere_is_a_connection_error() {
        let reply = b"*2\r\n-WRONGTYPE wrong kind\r\n-NOAUTH Authentication required.\r\n";
        let Ok(Value::Array(items)) = redis::parse_redis_value(reply) else { panic!("not an array") };
        assert!(broken_value(&Value::Array(items.clone())).is_some());
        assert!(items.iter().find_map(broken_value).is_some());
        let fine = b"*2\r\n-WRONGTYPE wrong kind\r\n:1\r\n";
        let Ok(value) = redis::parse_redis_value(fine) else { panic!("not a value") };
        assert!(broken_value(&value).is_none());
    }

    #[test]
    fn redis_conn_is_shareable_between_tasks() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<RedisConn>();
    }

    #[test]
    fn backoff_doubles_from_min_to_max() {
        let o = ConnOptions::default();
        let waits: Vec<u128> = (0..9).map(|n| o.backoff(n).as_millis()).collect();
        assert_eq!(waits, vec![0, 50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(o.backoff(u32::MAX), o.backoff_max);
    }

    #[test]
    fn one_server_urls_are_not_clusters() {
        assert!(cluster_nodes("redis://127.0.0.1:6379").unwrap().is_none());
        assert!(cluster_nodes("redis://:p,w@127.0.0.1:6379").unwrap().is_none());
    }

    #[test]
    fn cluster_urls_list_their_nodes_with_one_password() {
        let addrs = |nodes: &[ConnectionInfo]| nodes.iter().map(|n| n.addr().to_string()).collect::<Vec<_>>();
        let nodes = cluster_nodes("redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7001").unwrap().unwrap();
        assert_eq!(addrs(&nodes), ["10.0.0.1:7000", "10.0.0.2:7001"]);
        assert!(nodes.iter().all(|n| n.redis_settings().password() == Some("s3cret")));

        let nodes = cluster_nodes("redis://u:s3cret@a:1,redis://b:2,redis://u:s3cret@c:3").unwrap().unwrap();
        assert_eq!(addrs(&nodes), ["a:1", "b:2", "c:3"]);
        assert!(nodes.iter().all(|n| n.redis_settings().password() == Some("s3cret")));
        assert!(nodes.iter().all(|n| n.redis_settings().username() == Some("u")));

        let one = cluster_nodes("redis+cluster://h:7000").unwrap().unwrap();
        assert_eq!(addrs(&one), ["h:7000"]);

        assert!(cluster_nodes("redis+cluster://h:1,,h:2").is_err());
        assert!(cluster_nodes("redis+cluster://").is_err());
    }

    #[test]
    fn shown_urls_never_hold_the_password() {
        let o = ConnOptions::default();
        let (_, shown) = Target::parse("redis://:hunter2@127.0.0.1:6390/3", &o).unwrap();
        assert_eq!(shown, "redis://:***@127.0.0.1:6390/3");
        let (_, shown) = Target::parse("redis://alice:hunter2@127.0.0.1:6390", &o).unwrap();
        assert_eq!(shown, "redis://alice:***@127.0.0.1:6390");
        let (target, shown) = Target::parse("redis+cluster://:hunter2@a:1,b:2", &o).unwrap();
        assert!(matches!(target, Target::Cluster { .. }));
        assert_eq!(shown, "redis+cluster://:***@a:1,b:2");
    }

    #[test]
    fn a_bad_url_is_an_error() {
        let o = ConnOptions::default();
        assert!(Target::parse("not a url", &o).is_err());
        assert!(Target::parse("http://127.0.0.1:6379", &o).is_err());
        assert!(Target::parse("redis://:a@h:1,redis://:b@h:2", &o).is_err(), "different passwords");
    }
}
