//! A private `redis-server` for one test: its own port, its own temp dir, AOF and password
//! optional, killed on drop. Never the machine's Redis on 6379.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::resp::{self, Conn, Reply};
use crate::{free_port, wait_until};

/// A running private Redis. Dropping it kills the process and removes its directory.
pub struct RedisServer {
    port: u16,
    appendonly: bool,
    /// The `requirepass` the running process was started with; [`RedisServer::url`] and
    /// [`RedisServer::is_up`] follow it across [`RedisServer::restart_with_password`].
    password: Option<String>,
    extra_args: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// Options for [`RedisServer`] beyond the `start*` shortcuts.
#[derive(Default)]
pub struct RedisServerBuilder {
    aof: bool,
    password: Option<String>,
    extra_args: Vec<String>,
    pick_port: Option<fn() -> u16>,
}

impl RedisServerBuilder {
    /// AOF on (`appendfsync always`), so a restart keeps every write.
    pub fn aof(mut self, on: bool) -> Self {
        self.aof = on;
        self
    }

    /// `requirepass`: clients must AUTH. An empty password means none, as in Redis.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = non_empty(Some(&password.into()));
        self
    }

    /// More `redis-server` arguments, e.g. the cluster options.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.extra_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// How to choose a port, for servers that need more than one free port (a cluster node
    /// also binds PORT+10000).
    pub(crate) fn pick_port(mut self, pick: fn() -> u16) -> Self {
        self.pick_port = Some(pick);
        self
    }

    pub fn start(self) -> RedisServer {
        let dir =
            tempfile::Builder::new().prefix("snapsync-redis-").tempdir().expect("create a temp dir for redis-server");
        let pick = self.pick_port.unwrap_or(free_port);
        let mut server = RedisServer {
            port: 0,
            appendonly: self.aof,
            password: self.password,
            extra_args: self.extra_args,
            dir,
            child: None,
        };
        // A port found free can be taken before redis binds it; try a few.
        for _ in 0..5 {
            server.port = pick();
            if server.spawn() {
                return server;
            }
        }
        panic!(
            "redis-server did not start on a free port after 5 tries; is redis-server installed? (.ci/run installs it)\n\
             last log lines:\n{}",
            server.log_tail(20)
        );
    }
}

impl RedisServer {
    /// Starts a Redis with no persistence.
    pub fn start() -> RedisServer {
        Self::builder().start()
    }

    /// Starts a Redis with AOF on (`appendfsync always`), so a restart keeps every write.
    pub fn start_with_aof() -> RedisServer {
        Self::builder().aof(true).start()
    }

    /// Starts a Redis with no persistence that requires `password` (`requirepass`).
    pub fn start_with_password(password: &str) -> RedisServer {
        Self::builder().password(password).start()
    }

    /// For combinations, e.g. `RedisServer::builder().aof(true).password("pw").start()`.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// `redis://127.0.0.1:PORT`, or `redis://:PASSWORD@127.0.0.1:PORT` while a password is set.
    pub fn url(&self) -> String {
        resp::redis_url(self.port, self.password.as_deref())
    }

    /// The URL with another password (or none) than the server's, to test rejected logins.
    pub fn url_with_password(&self, password: Option<&str>) -> String {
        resp::redis_url(self.port, password)
    }

    /// The password the server currently requires.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server (SIGKILL) without removing its data, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (AOF data, if on, is reloaded).
    pub fn restart(&mut self) {
        self.kill();
        wait_until("redis-server to restart on its port", Duration::from_secs(10), || self.spawn().then_some(()));
    }

    /// Like [`RedisServer::restart`], but the server comes back requiring `password` (or
    /// none): "Redis came back with a changed password". An empty password means none.
    pub fn restart_with_password(&mut self, password: Option<&str>) {
        self.password = non_empty(password);
        self.restart();
    }

    /// True while the server answers PING (after AUTH with its password, if it has one)
    /// and has finished loading its data.
    pub fn is_up(&self) -> bool {
        answers_ping(self.port, self.password.as_deref())
    }

    /// The last `lines` lines of the server's log, for failure messages.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_else(|e| format!("(no log: {e})"));
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn spawn(&mut self) -> bool {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.log_path())
            .args(["--appendonly", if self.appendonly { "yes" } else { "no" }])
            .args(["--appendfsync", "always"])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(pw) = &self.password {
            // argv, not a config file: redis-server quotes each argument itself, so any
            // password survives (checked with spaces and quotes).
            cmd.arg("--requirepass").arg(pw);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run redis-server ({e}); install it (apt-get install redis-server) or run .ci/run"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if self.is_up() {
                self.child = Some(child);
                return true;
            }
            if let Ok(Some(_)) = child.try_wait() {
                // Exited: most likely the port was taken meanwhile.
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn non_empty(password: Option<&str>) -> Option<String> {
    password.filter(|p| !p.is_empty()).map(str::to_string)
}

/// AUTH (when a password is given), then PING, over a raw socket: true when the answer is
/// `+PONG`. AUTH first rather than taking `-NOAUTH` as "up" because a server still loading
/// its AOF answers `-LOADING` to PING, and callers want a server that can serve.
fn answers_ping(port: u16, password: Option<&str>) -> bool {
    let reply = Conn::connect_auth(port, Duration::from_millis(500), password).and_then(|mut c| c.command(&[b"PING"]));
    matches!(reply, Ok(Reply::Status(ref s)) if s == "PONG")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_private_server_and_stops_on_drop() {
        let server = RedisServer::start();
        assert_ne!(server.port(), 6379, "must never use the machine's Redis");
        assert!(server.is_up());
        let port = server.port();
        drop(server);
        assert!(!answers_ping(port, None), "server still answers after drop");
    }

    #[test]
    fn kill_and_restart_keeps_the_port() {
        let mut server = RedisServer::start_with_aof();
        let port = server.port();
        server.kill();
        assert!(!server.is_up());
        server.restart();
        assert_eq!(server.port(), port);
        assert!(server.is_up());
    }

    /// What a client gets for one command after logging in with `password` (if any).
    fn as_client(port: u16, password: Option<&str>, args: &[&[u8]]) -> Reply {
        let mut conn = Conn::connect(port, Duration::from_secs(5)).expect("connect to the test redis");
        if let Some(pw) = password {
            let auth = conn.command(&[b"AUTH", pw.as_bytes()]).expect("AUTH reply");
            if auth != Reply::Status("OK".into()) {
                return auth;
            }
        }
        conn.command(args).expect("command reply")
    }

    #[test]
    fn password_is_required_and_in_the_url() {
        let server = RedisServer::start_with_password("s3cret pw");
        assert!(server.is_up(), "is_up must AUTH when a password is set");
        assert_eq!(server.password(), Some("s3cret pw"));
        assert_eq!(server.url(), format!("redis://:s3cret%20pw@127.0.0.1:{}", server.port()));
        assert_eq!(server.url_with_password(None), format!("redis://127.0.0.1:{}", server.port()));
        assert_eq!(server.url_with_password(Some("x")), format!("redis://:x@127.0.0.1:{}", server.port()));

        let ping = as_client(server.port(), None, &[b"PING"]);
        assert!(matches!(&ping, Reply::Error(e) if e.starts_with("NOAUTH")), "{ping:?}");
        let wrong = as_client(server.port(), Some("wrong"), &[b"PING"]);
        assert!(matches!(&wrong, Reply::Error(e) if e.starts_with("WRONGPASS")), "{wrong:?}");
        assert_eq!(as_client(server.port(), Some("s3cret pw"), &[b"PING"]), Reply::Status("PONG".into()));
    }

    #[test]
    fn restart_with_a_changed_password_and_back_keeps_port_and_data() {
        let mut server = RedisServer::builder().aof(true).password("one").start();
        let port = server.port();
        assert_eq!(as_client(port, Some("one"), &[b"SET", b"k", b"v"]), Reply::Status("OK".into()));

        server.restart_with_password(Some("two"));
        assert_eq!(server.port(), port);
        assert!(server.is_up());
        assert_eq!(server.url(), format!("redis://:two@127.0.0.1:{port}"));
        let old = as_client(port, Some("one"), &[b"GET", b"k"]);
        assert!(matches!(&old, Reply::Error(e) if e.starts_with("WRONGPASS")), "{old:?}");

        server.restart_with_password(None);
        assert_eq!(server.password(), None);
        assert!(server.is_up());
        assert_eq!(as_client(port, None, &[b"GET", b"k"]), Reply::Bulk(Some(b"v".to_vec())), "AOF reloaded");

        server.restart_with_password(Some("one"));
        assert_eq!(as_client(port, Some("one"), &[b"GET", b"k"]), Reply::Bulk(Some(b"v".to_vec())));
    }
}
