//! The account's call log by call-log sync (`GET /account/~/call-log-sync`, Heavy), with one
//! sync token in Redis (`{prefix}:rc:synctoken:call-log:account`; the test target's under
//! `rc:synctoken:test:`): the catch-up of ended
//! calls whose telephony event never came (`sync_calls`).
//!
//! [`RingCentral::call_log_sync`] reads one batch: ISync from the stored token, or FSync
//! (from `date_from`) when there is none or RingCentral rejects it (`CLG-101`..`105`, or 400
//! on `syncToken`). ISync answers at most 250 records; a full batch means more may follow
//! and the caller reads again from the new token. As with contacts, **the new token is not
//! stored by the read**: the caller enqueues the records' work, then
//! [`RingCentral::commit_call_log_token`] stores it by compare-and-set on the token the read
//! started from, so a crash in between replays the batch (its jobs are unique per call) and a
//! slow older run cannot move the token back.

use redis::{AsyncCommands, Script};
use serde::Deserialize;
use serde_json::Value;

use super::contact_sync::{is_sync_reset, SyncKind, COMMIT};
use super::error::RcError;
use super::types::SyncInfo;
use super::RingCentral;

const PATH: &str = "/restapi/v1.0/account/~/call-log-sync";

/// The most records one ISync answers (RingCentral's documented cap); also asked as
/// `recordCount` of an FSync.
pub const CALL_LOG_SYNC_BATCH: usize = 250;

/// One read of the call-log sync.
#[derive(Debug, Clone)]
pub struct CallLogBatch {
    pub kind: SyncKind,
    /// Why a full sync ran although a token was stored (e.g. `CLG-101 on syncToken`).
    pub full_sync_reason: Option<String>,
    /// The records as RingCentral answered them (each checked by the job that tags it, so one
    /// malformed record cannot hide the others).
    pub records: Vec<Value>,
    /// The token the read started from (`None`: there was none).
    pub previous: Option<String>,
    /// The token to commit once the records' jobs are queued.
    pub next: String,
}

impl CallLogBatch {
    /// An ISync batch as large as RingCentral's cap: more records may follow.
    pub fn maybe_more(&self) -> bool {
        self.kind == SyncKind::Incremental && self.records.len() >= CALL_LOG_SYNC_BATCH
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncAnswer {
    #[serde(default)]
    records: Vec<Value>,
    sync_info: SyncInfo,
}

impl std::fmt::Debug for SyncAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncAnswer").field("records", &self.records.len()).finish_non_exhaustive()
    }
}

impl RingCentral {
    fn call_log_key(&self) -> String {
        // Per target, like the address-book tokens (`with_sync_namespace`).
        format!("{}:{}:call-log:account", self.inner.tag, self.sync_ns)
    }

    /// The stored call-log sync token.
    pub async fn stored_call_log_token(&self) -> Result<Option<String>, RcError> {
        self.inner.redis.clone().get(self.call_log_key()).await.map_err(RcError::redis("call-log token read"))
    }

    /// Reads one batch of the account's call-log sync: ISync from the stored token, else
    /// FSync of the calls since `date_from` (RFC 3339; RingCentral reaches back 30 days).
    pub async fn call_log_sync(&self, date_from: &str) -> Result<CallLogBatch, RcError> {
        let previous = self.stored_call_log_token().await?;
        let (kind, answer, full_sync_reason) = match &previous {
            Some(token) => {
                let query = [("syncType", "ISync".to_string()), ("syncToken", token.clone())];
                match self.get_json::<SyncAnswer>(PATH, &query).await {
                    Ok(a) => (SyncKind::Incremental, a.value, None),
                    Err(e) if is_sync_reset(&e) => {
                        let reason =
                            format!("{} on {}", e.error_code().unwrap_or("?"), e.parameter().unwrap_or("syncToken"));
                        tracing::warn!(reason = %reason, "call-log sync token rejected; running a full sync");
                        (SyncKind::Full, self.full_call_log_sync(date_from).await?, Some(reason))
                    }
                    Err(e) => return Err(e),
                }
            }
            None => (SyncKind::Full, self.full_call_log_sync(date_from).await?, None),
        };
        let next = answer.sync_info.sync_token.ok_or_else(|| RcError::Protocol {
            method: "GET",
            path: PATH.into(),
            reason: "the call-log-sync answer carries no syncInfo.syncToken".into(),
        })?;
        Ok(CallLogBatch { kind, full_sync_reason, records: answer.records, previous, next })
    }

    async fn full_call_log_sync(&self, date_from: &str) -> Result<SyncAnswer, RcError> {
        let query = [
            ("syncType", "FSync".to_string()),
            ("dateFrom", date_from.to_string()),
            ("recordCount", CALL_LOG_SYNC_BATCH.to_string()),
        ];
        Ok(self.get_json::<SyncAnswer>(PATH, &query).await?.value)
    }

    /// Stores the token of a batch whose records are queued, unless another run moved the
    /// stored token on meanwhile (then `false`, and nothing changes).
    pub async fn commit_call_log_token(&self, batch: &CallLogBatch) -> Result<bool, RcError> {
        let stored: i64 = Script::new(COMMIT)
            .key(self.call_log_key())
            .arg(batch.previous.as_deref().unwrap_or(""))
            .arg(&batch.next)
            .invoke_async(&mut self.inner.redis.clone())
            .await
            .map_err(RcError::redis("call-log token commit"))?;
        Ok(stored == 1)
    }

    /// Forgets the call-log sync token: the next catch-up runs a full sync.
    pub async fn forget_call_log_token(&self) -> Result<(), RcError> {
        let _: i64 =
            self.inner.redis.clone().del(self.call_log_key()).await.map_err(RcError::redis("call-log token delete"))?;
        Ok(())
    }
}
