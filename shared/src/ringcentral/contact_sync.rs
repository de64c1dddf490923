//! Personal contacts by address-book sync, with one sync token per extension in Redis
//! (`{prefix}:rc:synctoken:<extensionId>`).
//!
//! [`RingCentral::sync_contacts`] runs ISync from the stored token, or FSync when there is
//! none or RingCentral rejects it (400 on `syncToken`, or a documented sync-reset code).
//!
//! **The new token is not stored by `sync_contacts`.** It comes back as a
//! [`PendingSyncToken`]; the caller enqueues the work for every changed contact and only
//! then calls [`RingCentral::commit_sync_token`]. A crash between the two replays the
//! same changes next time (the Snapshots upserts are idempotent) instead of losing them.
//! The commit is a compare-and-set on the token the sync started from, so a slow, older
//! run can never move the token backwards over a newer run's commit.

use std::fmt;

use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};

use super::endpoints::path_id;
use super::error::RcError;
use super::types::{AddressBookSyncPage, Contact};
use super::RingCentral;

/// FSync reads at most 10,000 contacts (RingCentral's per-book cap) at 250 a page; this
/// bounds a server that keeps handing out `nextPageId`s.
const MAX_SYNC_PAGES: usize = 1_000;

/// Codes RingCentral uses for "this sync token is no good, start over" (call-log and
/// message sync; the address book documents none and answers CMN-101 on `syncToken`).
const SYNC_RESET_CODES: &[&str] = &["CLG-101", "CLG-102", "CLG-103", "CLG-104", "CLG-105", "MSG-333"];

const COMMIT: &str = r#"
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncKind {
    /// FSync: every alive contact of the book.
    Full,
    /// ISync: exactly the contacts changed since the token (deleted ones included).
    Incremental,
}

/// A sync token to store once the changes it covers are safely enqueued. Serializable,
/// so it can ride along in a job payload.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSyncToken {
    pub extension_id: String,
    /// The stored token the sync started from (`None`: there was none).
    pub previous: Option<String>,
    pub next: String,
}

impl fmt::Debug for PendingSyncToken {
    // Sync tokens are cursors, not credentials, but they are opaque server state: kept out
    // of logs like every other token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSyncToken")
            .field("extension_id", &self.extension_id)
            .field("previous", &self.previous.as_ref().map(|_| "[REDACTED]"))
            .field("next", &"[REDACTED]")
            .finish()
    }
}

/// What one `sync_contacts` found.
#[derive(Debug, Clone)]
pub struct ContactChanges {
    pub kind: SyncKind,
    /// Why a full sync ran although a token was stored (e.g. `CMN-101 on syncToken`).
    pub full_sync_reason: Option<String>,
    /// Changed contacts with their `availability` (`Alive`, `Deleted`, `Purged`).
    pub contacts: Vec<Contact>,
    pub token: PendingSyncToken,
    /// The sync's `syncInfo.syncTime` (its last page's): every contact returned was read at
    /// or before it, and a later sync reads later. RingCentral gives personal contacts no
    /// modification time of their own, so this orders two reads of one contact: the
    /// version that keeps an older read from overwriting a newer one in Snapshots.
    pub sync_time: Option<String>,
}

impl RingCentral {
    fn sync_key(&self, extension_id: &str) -> String {
        format!("{}:rc:synctoken:{extension_id}", self.inner.tag)
    }

    /// ISync from the stored token, or FSync when there is none or it is rejected. The
    /// new token is returned, not stored: see [`RingCentral::commit_sync_token`].
    pub async fn sync_contacts(&self, extension_id: &str) -> Result<ContactChanges, RcError> {
        let ext = path_id("extensionId", extension_id)?.to_owned();
        let previous = self.stored_sync_token(&ext).await?;
        let mut full_sync_reason = None;
        if let Some(token) = &previous {
            match self.address_book_sync(&ext, Some(token)).await {
                Ok(SyncRead { contacts, next, sync_time }) => {
                    let token = PendingSyncToken { extension_id: ext, previous: previous.clone(), next };
                    return Ok(ContactChanges {
                        kind: SyncKind::Incremental,
                        full_sync_reason,
                        contacts,
                        token,
                        sync_time,
                    });
                }
                Err(e) if is_sync_reset(&e) => {
                    let reason =
                        format!("{} on {}", e.error_code().unwrap_or("?"), e.parameter().unwrap_or("syncToken"));
                    tracing::warn!(extension_id = %ext, reason = %reason, "sync token rejected; running a full sync");
                    full_sync_reason = Some(reason);
                }
                Err(e) => return Err(e),
            }
        }
        let SyncRead { contacts, next, sync_time } = self.address_book_sync(&ext, None).await?;
        let token = PendingSyncToken { extension_id: ext, previous, next };
        Ok(ContactChanges { kind: SyncKind::Full, full_sync_reason, contacts, token, sync_time })
    }

    /// Stores the token of a finished sync, unless another run already moved the stored
    /// token on (then `false`, and nothing changes).
    pub async fn commit_sync_token(&self, token: &PendingSyncToken) -> Result<bool, RcError> {
        let key = self.sync_key(path_id("extensionId", &token.extension_id)?);
        let stored: i64 = Script::new(COMMIT)
            .key(key)
            .arg(token.previous.as_deref().unwrap_or(""))
            .arg(&token.next)
            .invoke_async(&mut self.inner.redis.clone())
            .await
            .map_err(RcError::redis("sync token commit"))?;
        Ok(stored == 1)
    }

    /// The stored sync token of an extension.
    pub async fn stored_sync_token(&self, extension_id: &str) -> Result<Option<String>, RcError> {
        let key = self.sync_key(path_id("extensionId", extension_id)?);
        self.inner.redis.clone().get(key).await.map_err(RcError::redis("sync token read"))
    }

    /// Forgets an extension's sync token: the next `sync_contacts` runs a full sync.
    pub async fn forget_sync_token(&self, extension_id: &str) -> Result<(), RcError> {
        let key = self.sync_key(path_id("extensionId", extension_id)?);
        let _: i64 = self.inner.redis.clone().del(key).await.map_err(RcError::redis("sync token delete"))?;
        Ok(())
    }

    /// Raw `GET .../address-book-sync` (Heavy): FSync (`token` = `None`) or ISync, every
    /// page (following `nextPageId`); the records and the last page's `syncToken` and `syncTime`.
    pub async fn address_book_sync(&self, extension_id: &str, token: Option<&str>) -> Result<SyncRead, RcError> {
        let ext = path_id("extensionId", extension_id)?;
        let path = format!("/restapi/v1.0/account/~/extension/{ext}/address-book-sync");
        let sync_type = if token.is_some() { "ISync" } else { "FSync" };
        let mut query: Vec<(&str, String)> = vec![("syncType", sync_type.into())];
        if let Some(t) = token {
            query.push(("syncToken", t.to_owned()));
        }
        let mut contacts = Vec::new();
        for n in 0..MAX_SYNC_PAGES {
            // Once a page is read, a snooze would throw it away (the sync restarts from its
            // first page): later pages wait for their permits instead.
            let read = self.get_json(&path, &query);
            let mut page: AddressBookSyncPage = if n == 0 {
                read.await?.value
            } else {
                snapsync_queue::with_patience(super::limits::PAGE_PATIENCE, read).await?.value
            };
            contacts.append(&mut page.records);
            match page.next_page_id {
                Some(id) => query = vec![("syncType", sync_type.into()), ("pageId", id)],
                None => {
                    let next = page.sync_info.sync_token.ok_or_else(|| RcError::Protocol {
                        method: "GET",
                        path: path.clone(),
                        reason: "the last address-book-sync page carries no syncInfo.syncToken".into(),
                    })?;
                    return Ok(SyncRead { contacts, next, sync_time: page.sync_info.sync_time });
                }
            }
        }
        Err(RcError::Protocol {
            method: "GET",
            path,
            reason: format!("more than {MAX_SYNC_PAGES} address-book-sync pages; nextPageId never ended"),
        })
    }
}

/// What one address-book sync read: the records, the next token and the sync's time.
#[derive(Debug, Clone)]
pub struct SyncRead {
    pub contacts: Vec<Contact>,
    pub next: String,
    pub sync_time: Option<String>,
}

/// The stored token is no good: 400 naming `syncToken`, or a documented reset code.
fn is_sync_reset(e: &RcError) -> bool {
    let on_token = e.status() == Some(400) && e.parameter() == Some("syncToken");
    on_token || e.error_code().is_some_and(|c| SYNC_RESET_CODES.contains(&c))
}
