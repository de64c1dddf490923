//! One "process" of the shared-login test (`shared/tests/clients/ringcentral_processes.rs`): builds
//! a RingCentral client like a worker does, prints `ready`, waits for `go` on stdin so
//! several processes call at the same moment, makes two calls and prints `ok <accountId>`.
//!
//! Environment: `RC_SERVER_URL`, `RC_CLIENT_ID`, `RC_CLIENT_SECRET`, `RC_JWT`,
//! `REDIS_URL`, `KEY_PREFIX`.

use std::io::BufRead;

use secrecy::SecretString;
use snapsync::ringcentral::{RcSettings, RingCentral};

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let settings = RcSettings {
        server_url: var("RC_SERVER_URL")?,
        client_id: var("RC_CLIENT_ID")?,
        client_secret: SecretString::from(var("RC_CLIENT_SECRET")?),
        jwt: SecretString::from(var("RC_JWT")?),
        auth: Default::default(),
    };
    let conn = snapsync_queue::RedisConn::connect(&var("REDIS_URL")?, snapsync_queue::ConnOptions::default())
        .await
        .map_err(|e| format!("redis: {e}"))?;
    let rc = RingCentral::new(settings, conn, &var("KEY_PREFIX")?).map_err(|e| e.to_string())?;
    println!("ready");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("stdin: {e}"))?;
    let account = rc.account_info().await.map_err(|e| e.to_string())?;
    rc.extension("~").await.map_err(|e| e.to_string())?;
    println!("ok {}", account.id);
    Ok(())
}
