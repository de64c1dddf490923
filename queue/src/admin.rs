//! Controlling the queue: retry, discard, purge done or dead jobs, pause and resume. Each change
//! is one Lua script (`lua/admin_*.lua`, with `common.lua` prepended like the storage's own
//! scripts) so the job's record, its state's list or zset and the `counts` hash move together.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::inspect::JobState;
use crate::{JobId, Queue, QueueError};

/// Jobs removed per purge script call; the call repeats until fewer come back.
pub const PURGE_CHUNK: usize = 500;

/// What retry did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RetryOutcome {
    /// Back on ready, next in line. From dead its attempts restart at 0.
    Retried {
        from: JobState,
    },
    /// Dead, scheduled, snoozed and running jobs are retried; a ready job is already on its way
    /// and a done job succeeded.
    NotRetryable {
        state: JobState,
    },
    NotFound,
}

impl Queue {
    /// Puts a job back on ready at once, ahead of the backlog, and wakes a worker:
    /// - dead: its attempts are reset to 0, so it gets its full `max_attempts` again (an operator
    ///   retries after fixing the cause; one last try would often be spent on a transient
    ///   error); its history is kept, so earlier attempts stay visible;
    /// - scheduled or snoozed: it stops waiting, attempts kept;
    /// - running: its lease ends now — the worker running it is told at its next heartbeat and
    ///   cancels the run, whose ack or fail then changes nothing — and the cut run is not
    ///   charged (for a run that is stuck).
    pub async fn retry(&self, id: &JobId) -> Result<RetryOutcome, QueueError> {
        let mut inv = self.call(&self.scripts.retry, &[]);
        inv.arg(&id.0);
        let (code, state): (i64, String) =
            inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("retry"))?;
        if code < 0 {
            return Ok(RetryOutcome::NotFound);
        }
        let state = parse_state("retry", &state)?;
        Ok(if code == 1 { RetryOutcome::Retried { from: state } } else { RetryOutcome::NotRetryable { state } })
    }

    /// Removes a job wherever it is; returns the state it was in, `None` when there is no such job.
    /// A running job's worker loses its lease (its heartbeat reports it lost and the run is
    /// cancelled; its ack or fail is ignored). A unique key stays until its TTL, so the same
    /// event is not enqueued again meanwhile.
    pub async fn discard(&self, id: &JobId) -> Result<Option<JobState>, QueueError> {
        let mut inv = self.call(&self.scripts.discard, &[]);
        inv.arg(&id.0);
        let state: String = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("discard"))?;
        if state.is_empty() {
            return Ok(None);
        }
        parse_state("discard", &state).map(Some)
    }

    /// Removes done jobs that finished more than `age` ago; see [`Queue::purge_older_than`].
    pub async fn purge_done_older_than(&self, age: Duration) -> Result<u64, QueueError> {
        self.purge_older_than(JobState::Done, age).await
    }

    /// Removes done or dead jobs that got there more than `age` ago, [`PURGE_CHUNK`] per script
    /// call so Redis is never blocked for long; returns how many were removed. Other states are
    /// refused (`QueueError::Invalid`): their jobs are still to run.
    pub async fn purge_older_than(&self, state: JobState, age: Duration) -> Result<u64, QueueError> {
        if !matches!(state, JobState::Done | JobState::Dead) {
            return Err(QueueError::Invalid(format!("purge takes done or dead jobs, not {state} ones")));
        }
        let mut removed = 0u64;
        loop {
            let mut inv = self.call(&self.scripts.purge, &[]);
            inv.arg(state.as_str()).arg(age.as_millis() as u64).arg(PURGE_CHUNK);
            let n: u64 = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("purge"))?;
            removed += n;
            if (n as usize) < PURGE_CHUNK {
                return Ok(removed);
            }
        }
    }

    /// Stops reserve from handing out jobs (running jobs go on; enqueue, retry and recovery still
    /// work). Returns false when the queue was already paused.
    pub async fn pause(&self) -> Result<bool, QueueError> {
        self.set_paused(true).await
    }

    /// Lets reserve hand out jobs again and wakes idle workers at once. Returns false when the
    /// queue was not paused.
    pub async fn resume(&self) -> Result<bool, QueueError> {
        self.set_paused(false).await
    }

    pub async fn is_paused(&self) -> Result<bool, QueueError> {
        let mut cmd = redis::cmd("EXISTS");
        cmd.arg(self.keys.get("paused"));
        cmd.query_async(&mut self.conn_mut()).await.map_err(QueueError::redis("is_paused"))
    }

    async fn set_paused(&self, paused: bool) -> Result<bool, QueueError> {
        let mut inv = self.call(&self.scripts.pause, &[]);
        inv.arg(if paused { "1" } else { "0" });
        let changed: i64 = inv.invoke_async(&mut self.conn_mut()).await.map_err(QueueError::redis("pause"))?;
        Ok(changed == 1)
    }
}

fn parse_state(op: &'static str, s: &str) -> Result<JobState, QueueError> {
    s.parse().map_err(|e: crate::inspect::UnknownState| QueueError::Reply { op, detail: e.to_string() })
}
