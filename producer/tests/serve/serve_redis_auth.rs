//! `snapsync serve` against a password-protected Redis whose password changes under it:
//! `/readyz` turns 503 (without Redis's words or the password in the body) and back to 200
//! once the password is right again, without restarting the process.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use snapsync_sandbox::{Sandbox, SandboxConfig};
use snapsync_testkit::{free_port, wait_until, wait_until_async};

use crate::common::DEADLINE;
use crate::serve_process::{spawn_url, stop};

const RIGHT: &str = "serve-right-pw-93d1";
const CHANGED: &str = "serve-changed-pw-27fa";

/// A private `redis-server --requirepass`, restartable on its port with another password.
/// Local to this file until testkit's `RedisServer` takes a password (another branch).
struct AuthRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl AuthRedis {
    fn start(password: &str) -> AuthRedis {
        let dir = tempfile::Builder::new().prefix("snapsync-auth-redis-").tempdir().expect("temp dir");
        let mut server = AuthRedis { port: 0, dir, child: None };
        // A port found free can be taken before redis binds it; try a few.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn(password) {
                return server;
            }
        }
        panic!("redis-server did not start on a free port after 5 tries");
    }

    fn restart(&mut self, password: &str) {
        self.kill();
        wait_until("redis-server to restart on its port", Duration::from_secs(10), || {
            self.spawn(password).then_some(())
        });
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn spawn(&mut self, password: &str) -> bool {
        let mut child = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run redis-server (is it installed?)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if answers(self.port) {
                self.child = Some(child);
                return true;
            }
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for AuthRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// True once the server answers PING (with `-NOAUTH`, since it wants a password).
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).is_ok() && (line.starts_with("-NOAUTH") || line.starts_with("+PONG"))
}

/// `/readyz`'s status and body.
async fn readyz(base: &str) -> Option<(u16, String)> {
    let resp = reqwest::get(format!("{base}/readyz")).await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

#[tokio::test]
async fn readyz_follows_a_redis_password_change_without_a_restart() {
    let mut redis = AuthRedis::start(RIGHT);
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let url = format!("redis://:{RIGHT}@127.0.0.1:{}", redis.port);
    // Ready (200) once started: spawn_url waits for it.
    let serve = spawn_url(&url, &sandbox).await;

    redis.restart(CHANGED);
    // The first PING after the restart fails on the dropped connection; poll until the
    // readyz connection has been refused by the new password, then look at the answer.
    wait_until_async("a readyz connection refused by the changed password", DEADLINE, || async {
        let _ = readyz(&serve.base).await;
        let log = serve.log();
        log.lines().any(|l| l.contains("cannot connect to redis") && l.contains("AuthenticationFailed")).then_some(())
    })
    .await;
    let (status, body) = readyz(&serve.base).await.expect("/readyz answers");
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json, serde_json::json!({ "error": "redis unavailable" }));
    for word in [RIGHT, CHANGED, "auth", "Auth", "AUTH"] {
        assert!(!body.contains(word), "the body says {word:?}: {body}");
    }

    redis.restart(RIGHT);
    wait_until_async("/readyz 200 with the right password back", DEADLINE, || async {
        readyz(&serve.base).await.and_then(|(status, _)| (status == 200).then_some(()))
    })
    .await;

    let log = stop(serve, Signal::SIGTERM);
    assert!(!log.contains(RIGHT) && !log.contains(CHANGED), "a password is in the log:\n{log}");
    assert!(log.contains("readyz: redis PING failed"), "{log}");
}
