//! A private `redis-server` for one test: its own port, its own temp dir, AOF optional,
//! killed on drop. Never the machine's Redis on 6379.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_until};

/// A running private Redis. Dropping it kills the process and removes its directory.
pub struct RedisServer {
    port: u16,
    appendonly: bool,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a Redis with no persistence.
    pub fn start() -> RedisServer {
        Self::start_with(false)
    }

    /// Starts a Redis with AOF on (`appendfsync always`), so a restart keeps every write.
    pub fn start_with_aof() -> RedisServer {
        Self::start_with(true)
    }

    fn start_with(appendonly: bool) -> RedisServer {
        let dir =
            tempfile::Builder::new().prefix("snapsync-redis-").tempdir().expect("create a temp dir for redis-server");
        let mut server = RedisServer { port: 0, appendonly, dir, child: None };
        // A port found free can be taken before redis binds it; try a few.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!(
            "redis-server did not start on a free port after 5 tries; is redis-server installed? (.ci/run installs it)"
        );
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
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

    /// True while the server answers PING.
    pub fn is_up(&self) -> bool {
        ping(self.port)
    }

    fn spawn(&mut self) -> bool {
        let log: PathBuf = self.dir.path().join("redis.log");
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(["--appendonly", if self.appendonly { "yes" } else { "no" }])
            .args(["--appendfsync", "always"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run redis-server ({e}); install it (apt-get install redis-server) or run .ci/run"),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if ping(self.port) {
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

/// One PING over a raw socket: true when the answer is `+PONG`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    reader.read_line(&mut line).is_ok() && line.starts_with("+PONG")
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
        assert!(!ping(port), "server still answers after drop");
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
}
