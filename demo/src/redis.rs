//! The demo's Redis: whatever already answers PING on the configured port, or a private
//! `redis-server` started there in a temp dir with AOF (so a crash of a worker or the
//! producer loses nothing), stopped when the demo stops.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::Proc;
use crate::DemoError;

/// True when something on `127.0.0.1:port` answers `PING` with `+PONG`.
pub fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with("+PONG")
}

/// A `redis-server` this demo started; dropping it stops it and removes its directory.
pub struct PrivateRedis {
    pub proc: Proc,
    pub dir: tempfile::TempDir,
}

/// Starts `redis-server` on `port` in a fresh temp dir with AOF and waits for its PONG.
pub fn start(port: u16) -> Result<PrivateRedis, DemoError> {
    let dir = tempfile::Builder::new().prefix("snapsync-demo-redis-").tempdir()?;
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
        .args(["--appendonly", "yes", "--appendfsync", "everysec"])
        .arg("--dir")
        .arg(dir.path());
    let log = dir.path().join("redis.log");
    let mut proc = Proc::spawn("redis-server", cmd, &log)?;
    let timeout = Duration::from_secs(10);
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if answers(port) {
            return Ok(PrivateRedis { proc, dir });
        }
        if proc.exited().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(DemoError::RedisTimeout { port, secs: timeout.as_secs(), log: proc.log_text() })
}

impl PrivateRedis {
    pub fn stop(mut self) {
        self.proc.terminate(Duration::from_secs(5));
    }
}
