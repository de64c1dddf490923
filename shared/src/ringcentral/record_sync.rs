//! The two record feeds the catch-ups read, each a RingCentral sync API with one sync token
//! in Redis (the test target's under `rc:synctoken:test:`):
//! - [`Feed::CallLog`]: the account's call log (`GET /account/~/call-log-sync`, Heavy;
//!   token `{prefix}:rc:synctoken:call-log:account`), for ended calls whose telephony event
//!   never came (`sync_calls`);
//! - [`Feed::Messages`]: the SMS and faxes of the mailbox the message events come from
//!   (`GET /account/~/extension/~/message-sync`, Light; token
//!   `{prefix}:rc:synctoken:messages:extension`), for messages whose event never came
//!   (`sync_messages`).
//!
//! [`RingCentral::feed_sync`] reads one batch: ISync from the stored token, or FSync (from
//! `date_from`) when there is none or RingCentral rejects it (`CLG-101`..`105`, `MSG-333`, or
//! 400 on `syncToken`). ISync answers at most 250 records; a full batch means more may follow
//! and the caller reads again from the new token. As with contacts, **the new token is not
//! stored by the read**: the caller enqueues the records' work, then
//! [`RingCentral::commit_feed_token`] stores it by compare-and-set on the token the read
//! started from, so a crash in between replays the batch (its jobs are unique per record) and
//! a slow older run cannot move the token back.

use redis::{AsyncCommands, Script};
use serde::Deserialize;
use serde_json::Value;

use super::contact_sync::{is_sync_reset, SyncKind, COMMIT};
use super::error::RcError;
use super::types::SyncInfo;
use super::RingCentral;

/// The most records one ISync answers (RingCentral's documented cap); also asked as
/// `recordCount` of an FSync.
pub const SYNC_BATCH: usize = 250;

/// A sync API whose records a catch-up reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// The account's call log: ended calls.
    CallLog,
    /// The authorised extension's message store, SMS and faxes only.
    Messages,
}

impl Feed {
    fn path(self) -> &'static str {
        match self {
            Feed::CallLog => "/restapi/v1.0/account/~/call-log-sync",
            Feed::Messages => "/restapi/v1.0/account/~/extension/~/message-sync",
        }
    }

    /// The token's key below `{tag}:{namespace}:`.
    fn token_name(self) -> &'static str {
        match self {
            Feed::CallLog => "call-log:account",
            Feed::Messages => "messages:extension",
        }
    }

    /// For logs and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Feed::CallLog => "call-log",
            Feed::Messages => "message",
        }
    }

    /// What an FSync asks besides its type, start and count.
    fn full_sync_filters(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Feed::CallLog => &[],
            Feed::Messages => &[("messageType", "SMS"), ("messageType", "Fax")],
        }
    }
}

/// One read of a feed.
#[derive(Debug, Clone)]
pub struct SyncBatch {
    pub feed: Feed,
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

impl SyncBatch {
    /// An ISync batch as large as RingCentral's cap: more records may follow.
    pub fn maybe_more(&self) -> bool {
        self.kind == SyncKind::Incremental && self.records.len() >= SYNC_BATCH
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
    fn feed_key(&self, feed: Feed) -> String {
        // Per target, like the address-book tokens (`with_sync_namespace`).
        format!("{}:{}:{}", self.inner.tag, self.sync_ns, feed.token_name())
    }

    /// The stored sync token of `feed`.
    pub async fn stored_feed_token(&self, feed: Feed) -> Result<Option<String>, RcError> {
        self.inner.redis.clone().get(self.feed_key(feed)).await.map_err(RcError::redis("sync token read"))
    }

    /// Reads one batch of `feed`: ISync from the stored token, else FSync of the records
    /// since `date_from` (RFC 3339; RingCentral reaches back 30 days).
    pub async fn feed_sync(&self, feed: Feed, date_from: &str) -> Result<SyncBatch, RcError> {
        let previous = self.stored_feed_token(feed).await?;
        let (kind, answer, full_sync_reason) = match &previous {
            Some(token) => {
                let query = [("syncType", "ISync".to_string()), ("syncToken", token.clone())];
                match self.get_json::<SyncAnswer>(feed.path(), &query).await {
                    Ok(a) => (SyncKind::Incremental, a.value, None),
                    Err(e) if is_sync_reset(&e) => {
                        let reason =
                            format!("{} on {}", e.error_code().unwrap_or("?"), e.parameter().unwrap_or("syncToken"));
                        tracing::warn!(feed = feed.as_str(), reason = %reason, "sync token rejected; running a full sync");
                        (SyncKind::Full, self.full_feed_sync(feed, date_from).await?, Some(reason))
                    }
                    Err(e) => return Err(e),
                }
            }
            None => (SyncKind::Full, self.full_feed_sync(feed, date_from).await?, None),
        };
        let next = answer.sync_info.sync_token.ok_or_else(|| RcError::Protocol {
            method: "GET",
            path: feed.path().into(),
            reason: format!("the {} sync answer carries no syncInfo.syncToken", feed.as_str()),
        })?;
        Ok(SyncBatch { feed, kind, full_sync_reason, records: answer.records, previous, next })
    }

    async fn full_feed_sync(&self, feed: Feed, date_from: &str) -> Result<SyncAnswer, RcError> {
        let mut query = vec![
            ("syncType", "FSync".to_string()),
            ("dateFrom", date_from.to_string()),
            ("recordCount", SYNC_BATCH.to_string()),
        ];
        query.extend(feed.full_sync_filters().iter().map(|(k, v)| (*k, v.to_string())));
        Ok(self.get_json::<SyncAnswer>(feed.path(), &query).await?.value)
    }

    /// Stores the token of a batch whose records are queued, unless another run moved the
    /// stored token on meanwhile (then `false`, and nothing changes).
    pub async fn commit_feed_token(&self, batch: &SyncBatch) -> Result<bool, RcError> {
        let stored: i64 = Script::new(COMMIT)
            .key(self.feed_key(batch.feed))
            .arg(batch.previous.as_deref().unwrap_or(""))
            .arg(&batch.next)
            .invoke_async(&mut self.inner.redis.clone())
            .await
            .map_err(RcError::redis("sync token commit"))?;
        Ok(stored == 1)
    }

    /// Forgets `feed`'s sync token: the next catch-up runs a full sync.
    pub async fn forget_feed_token(&self, feed: Feed) -> Result<(), RcError> {
        let _: i64 =
            self.inner.redis.clone().del(self.feed_key(feed)).await.map_err(RcError::redis("sync token delete"))?;
        Ok(())
    }
}
