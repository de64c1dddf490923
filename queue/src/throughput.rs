//! Jobs finished per minute, for the dashboard's throughput chart: counted from the done and
//! dead sets, whose scores are the moments jobs got there (Redis time, ms). No counter is kept
//! on the hot path for it; the price is that the chart shows only what retention keeps
//! (`queue.done_keep_age` / `done_keep_count`, an hour and 10,000 jobs by default).

use serde::{Deserialize, Serialize};

use crate::error::QueueError;
use crate::storage::Queue;

/// One minute of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minute {
    /// The minute's start (Unix ms, on Redis's clock).
    pub start_ms: i64,
    /// Jobs that finished in it.
    pub done: u64,
    /// Jobs that were dead-lettered in it.
    pub dead: u64,
}

impl Queue {
    /// The last `minutes` whole and current minutes, oldest first.
    pub async fn throughput(&self, minutes: u32) -> Result<Vec<Minute>, QueueError> {
        let mut conn = self.conn_mut();
        let (secs, micros): (i64, i64) =
            redis::cmd("TIME").query_async(&mut conn).await.map_err(QueueError::redis("throughput"))?;
        let now = secs * 1000 + micros / 1000;
        let current = now - now.rem_euclid(60_000);
        let starts: Vec<i64> = (0..i64::from(minutes.max(1))).rev().map(|i| current - i * 60_000).collect();
        let mut pipe = redis::pipe();
        for start in &starts {
            let end = format!("({}", start + 60_000);
            pipe.zcount(self.keys.get("done"), *start, &end).zcount(self.keys.get("dead"), *start, &end);
        }
        let counts: Vec<u64> = pipe.query_async(&mut conn).await.map_err(QueueError::redis("throughput"))?;
        Ok(starts
            .iter()
            .zip(counts.chunks(2))
            .map(|(start, c)| Minute { start_ms: *start, done: c[0], dead: c.get(1).copied().unwrap_or(0) })
            .collect())
    }
}
