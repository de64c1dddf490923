//! The benchmark's Redis: which one it may wipe, the server's CPU clock, the queue's depth,
//! and per-command statistics for finding where Redis spends its time.

use anyhow::{bail, Context};
use redis::aio::MultiplexedConnection;

/// The port of a developer's or production Redis, never wiped by a benchmark.
const PROTECTED_PORT: u16 = 6379;

/// Refuses a URL that points at port 6379: every run starts with FLUSHALL.
pub fn check_url(url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url)
        .with_context(|| format!("--redis-url {url:?} is not a URL: expected redis://host:port"))?;
    let port = parsed.port().unwrap_or(PROTECTED_PORT);
    if port == PROTECTED_PORT {
        bail!(
            "refusing to FLUSHALL the Redis on port {PROTECTED_PORT} ({url}): start the isolated bench Redis \
             (bench/peers/redis_server.sh start, port 6390) and pass --redis-url redis://127.0.0.1:6390"
        );
    }
    Ok(())
}

/// How many of the queue's jobs sit in each state, read with one pipelined round trip.
#[derive(Debug, Clone, Copy, Default)]
pub struct Depth {
    pub ready: u64,
    pub scheduled: u64,
    pub running: u64,
    pub dead: u64,
}

impl Depth {
    /// Jobs not yet finished (acked or dead).
    pub fn pending(&self) -> u64 {
        self.ready + self.scheduled + self.running
    }
}

/// A plain connection beside the queue's own, for measuring.
pub struct BenchRedis {
    conn: MultiplexedConnection,
    tag: String,
}

impl BenchRedis {
    pub async fn connect(url: &str, tag: &str) -> anyhow::Result<BenchRedis> {
        check_url(url)?;
        let client = redis::Client::open(url).with_context(|| format!("cannot use --redis-url {url}"))?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("cannot connect to {url}: is the bench Redis running?"))?;
        Ok(BenchRedis { conn, tag: tag.to_string() })
    }

    pub async fn flushall(&mut self) -> anyhow::Result<()> {
        redis::cmd("FLUSHALL").query_async::<()>(&mut self.conn).await.context("FLUSHALL")
    }

    /// CPU seconds (user + sys) the Redis server has used so far, from `INFO cpu`.
    pub async fn cpu_seconds(&mut self) -> anyhow::Result<f64> {
        let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut self.conn).await.context("INFO cpu")?;
        let field = |name: &str| -> f64 {
            info.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0.0)
        };
        Ok(field("used_cpu_sys") + field("used_cpu_user"))
    }

    pub async fn depth(&mut self) -> anyhow::Result<Depth> {
        let key = |s: &str| format!("{}:{s}", self.tag);
        let (ready, scheduled, running, dead): (u64, u64, u64, u64) = redis::pipe()
            .llen(key("ready"))
            .zcard(key("scheduled"))
            .zcard(key("running"))
            .zcard(key("dead"))
            .query_async(&mut self.conn)
            .await
            .context("reading the queue's depth")?;
        Ok(Depth { ready, scheduled, running, dead })
    }

    /// Zeroes `INFO commandstats` so the next read covers only the timed window.
    pub async fn reset_stats(&mut self) -> anyhow::Result<()> {
        redis::cmd("CONFIG").arg("RESETSTAT").query_async::<()>(&mut self.conn).await.context("CONFIG RESETSTAT")
    }

    /// `INFO commandstats`, one `cmdstat_<name>:calls=..,usec=..` line per command (commands
    /// run inside scripts are counted too, which is what shows a script's cost).
    pub async fn commandstats(&mut self) -> anyhow::Result<String> {
        redis::cmd("INFO").arg("commandstats").query_async(&mut self.conn).await.context("INFO commandstats")
    }
}

/// CPU seconds (user + sys, all threads) this process has used, from `/proc/self/stat`
/// (clock ticks of 10 ms: coarse, but the client figure is only a side note).
pub fn client_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // The command name in field 2 may hold spaces; the fields after its ')' are plain.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the ')'.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_the_default_port() {
        assert!(check_url("redis://127.0.0.1:6379").is_err());
        assert!(check_url("redis://127.0.0.1").is_err());
        assert!(check_url("redis://127.0.0.1:6390").is_ok());
    }
}
