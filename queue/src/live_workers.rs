//! The live-worker registry as an operator sees it: who is heartbeating, with what, holding
//! which jobs; and who went silent (pruned as it is reported).

use redis::Value;
use serde::{Deserialize, Serialize};

use crate::storage::string as text;
use crate::{JobId, Queue, QueueError, WorkerId, WorkerInfo};

/// Workers reported per call, live and gone each (a deployment has far fewer).
pub const MAX_WORKERS: usize = 1_000;
/// A worker silent for this many leases is gone: its heartbeat task renews every lease/3, so
/// three leases means nine missed beats, not a slow one.
pub const GONE_AFTER_LEASES: u32 = 3;

/// A worker that heartbeated within the last [`GONE_AFTER_LEASES`] leases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveWorker {
    pub id: WorkerId,
    /// From the worker's last heartbeat; empty/zero if its record expired or could not be read.
    pub host: String,
    pub pid: u32,
    pub started_ms: u64,
    pub concurrency: usize,
    pub last_beat_ms: u64,
    /// Jobs whose lease it held at its last heartbeat (running or waiting in its prefetch
    /// buffer); the first [`crate::storage::SETTLE_CHUNK`] (1,000) when it held more.
    pub inflight: Vec<JobId>,
}

/// A worker that stopped heartbeating without deregistering (crashed, killed, cut off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoneWorker {
    pub id: WorkerId,
    pub last_beat_ms: u64,
}

/// The registry at one moment (Redis time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workers {
    pub now_ms: u64,
    /// Most recent heartbeat first.
    pub live: Vec<LiveWorker>,
    /// Reported once: they are removed from the registry by this call. Their jobs come back
    /// through lease recovery, not through this.
    pub gone: Vec<GoneWorker>,
}

impl Queue {
    /// Live workers and the ones gone silent for more than [`GONE_AFTER_LEASES`] leases (which
    /// this call prunes). One bounded script call.
    pub async fn workers(&self) -> Result<Workers, QueueError> {
        let stale = self.config().lease * GONE_AFTER_LEASES;
        let mut inv = self.call(&self.scripts.workers, &[]);
        inv.arg(stale.as_millis() as u64).arg(MAX_WORKERS);
        let reply: Vec<Value> = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("workers"))?;
        let bad = |detail: &str| QueueError::Reply { op: "workers", detail: detail.to_string() };
        let (Some(now), Some(n_gone)) = (reply.first().and_then(int), reply.get(1).and_then(int)) else {
            return Err(bad("missing header"));
        };
        let gone_end = 2 + 2 * n_gone as usize;
        let (Some(gone), Some(live)) = (reply.get(2..gone_end), reply.get(gone_end..)) else {
            return Err(bad("gone list shorter than announced"));
        };
        let mut out = Workers { now_ms: now, live: Vec::new(), gone: Vec::new() };
        for g in gone.chunks_exact(2) {
            out.gone.push(GoneWorker { id: WorkerId(text(&g[0])), last_beat_ms: int(&g[1]).unwrap_or(0) });
        }
        for w in live.chunks_exact(3) {
            out.live.push(live_worker(WorkerId(text(&w[0])), int(&w[1]).unwrap_or(0), &text(&w[2])));
        }
        Ok(out)
    }
}

/// A worker's registry record: `{"info": "<WorkerInfo JSON>", "beat": ms, "inflight": [ids]}`.
fn live_worker(id: WorkerId, last_beat_ms: u64, record: &str) -> LiveWorker {
    let record: serde_json::Value = serde_json::from_str(record).unwrap_or_default();
    let info: Option<WorkerInfo> =
        record.get("info").and_then(|i| i.as_str()).and_then(|i| serde_json::from_str(i).ok());
    // Lua's cjson writes an empty list as `{}`: anything but an array of strings means none.
    let inflight = match record.get("inflight") {
        Some(serde_json::Value::Array(ids)) => ids.iter().filter_map(|v| v.as_str()).map(|s| JobId(s.into())).collect(),
        _ => Vec::new(),
    };
    LiveWorker {
        id,
        host: info.as_ref().map(|i| i.host.clone()).unwrap_or_default(),
        pid: info.as_ref().map_or(0, |i| i.pid),
        started_ms: info.as_ref().map_or(0, |i| i.started_ms),
        concurrency: info.as_ref().map_or(0, |i| i.concurrency),
        last_beat_ms,
        inflight,
    }
}

/// Scores come back as strings (`WITHSCORES`), `now` as an integer.
fn int(v: &Value) -> Option<u64> {
    match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse::<f64>().ok().map(|f| f.max(0.0) as u64),
        _ => None,
    }
}
