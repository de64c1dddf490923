//! Personal contacts by address-book sync, with one sync token per extension in Redis
//! (`{prefix}:rc:synctoken:<extensionId>`).
//!
//! [`RingCentral::contact_sync`] runs ISync from the stored token, or FSync when there is
//! none or RingCentral rejects it (400 on `syncToken`, or a documented sync-reset code), a
//! page at a time; [`RingCentral::sync_contacts`] reads every page at once.
//!
//! **The new token is not stored by the sync.** It comes back as a
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

pub(super) const COMMIT: &str = r#"
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
        format!("{}:{}:{extension_id}", self.inner.tag, self.sync_ns)
    }

    /// Starts an extension's sync, page by page: ISync from the stored token, or FSync when
    /// there is none or RingCentral rejects it. Nothing is read until
    /// [`ContactSync::next_page`]; the new token is returned by [`ContactSync::finish`],
    /// not stored (see [`RingCentral::commit_sync_token`]).
    pub async fn contact_sync(&self, extension_id: &str) -> Result<ContactSync<'_>, RcError> {
        let ext = path_id("extensionId", extension_id)?.to_owned();
        let previous = self.stored_sync_token(&ext).await?;
        let kind = if previous.is_some() { SyncKind::Incremental } else { SyncKind::Full };
        Ok(ContactSync {
            rc: self,
            path: format!("/restapi/v1.0/account/~/extension/{ext}/address-book-sync"),
            ext,
            previous,
            kind,
            full_sync_reason: None,
            page_id: None,
            pages: 0,
            next: None,
        })
    }

    /// A full sync (FSync) whatever token is stored, for reading an address book without
    /// syncing it (`snapsync mapping check --preview`): its token, if finished, would only
    /// commit where none is stored.
    pub async fn full_contact_sync(&self, extension_id: &str) -> Result<ContactSync<'_>, RcError> {
        let mut sync = self.contact_sync(extension_id).await?;
        sync.previous = None;
        sync.kind = SyncKind::Full;
        Ok(sync)
    }

    /// The whole sync at once (every page): what [`RingCentral::contact_sync`] reads,
    /// collected.
    pub async fn sync_contacts(&self, extension_id: &str) -> Result<ContactChanges, RcError> {
        let mut sync = self.contact_sync(extension_id).await?;
        let mut contacts = Vec::new();
        let mut sync_time = None;
        while let Some(mut page) = sync.next_page().await? {
            contacts.append(&mut page.contacts);
            sync_time = page.sync_time;
        }
        let (kind, full_sync_reason) = (sync.kind(), sync.full_sync_reason().map(str::to_owned));
        let token = sync.finish()?;
        Ok(ContactChanges { kind, full_sync_reason, contacts, token, sync_time })
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
}

/// One extension's address-book sync in progress, read a page at a time, so the caller
/// can queue each page's contacts while the next page waits for its Heavy permit.
pub struct ContactSync<'a> {
    rc: &'a RingCentral,
    ext: String,
    path: String,
    /// The stored token the sync started from.
    previous: Option<String>,
    kind: SyncKind,
    full_sync_reason: Option<String>,
    /// The `nextPageId` to read next (`None` before the first page).
    page_id: Option<String>,
    pages: usize,
    /// The new token, once the last page is read.
    next: Option<String>,
}

/// One page of a sync: its records and the `syncInfo.syncTime` the server answered it at.
#[derive(Debug, Clone)]
pub struct ContactPage {
    pub contacts: Vec<Contact>,
    /// When this page was read (RingCentral gives personal contacts no modification time of
    /// their own): every record on it was read at this time, and any later read of the same
    /// contact (a later page never repeats one; a later sync starts after this one) is
    /// answered later. It is the version that keeps an older read from overwriting a newer
    /// one in Snapshots.
    pub sync_time: Option<String>,
}

impl ContactSync<'_> {
    /// FSync or ISync (it turns to FSync when the stored token is rejected on the first page).
    pub fn kind(&self) -> SyncKind {
        self.kind
    }

    /// Why a full sync runs although a token was stored (e.g. `CMN-101 on syncToken`).
    pub fn full_sync_reason(&self) -> Option<&str> {
        self.full_sync_reason.as_deref()
    }

    /// The next page (`GET .../address-book-sync`, Heavy), or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<ContactPage>, RcError> {
        if self.next.is_some() {
            return Ok(None);
        }
        if self.pages >= MAX_SYNC_PAGES {
            return Err(RcError::Protocol {
                method: "GET",
                path: self.path.clone(),
                reason: format!("more than {MAX_SYNC_PAGES} address-book-sync pages; nextPageId never ended"),
            });
        }
        let page = match self.read().await {
            Err(e) if self.pages == 0 && self.kind == SyncKind::Incremental && is_sync_reset(&e) => {
                let reason = format!("{} on {}", e.error_code().unwrap_or("?"), e.parameter().unwrap_or("syncToken"));
                tracing::warn!(extension_id = %self.ext, reason = %reason, "sync token rejected; running a full sync");
                self.full_sync_reason = Some(reason);
                self.kind = SyncKind::Full;
                self.read().await?
            }
            read => read?,
        };
        self.pages += 1;
        match page.next_page_id {
            Some(id) => self.page_id = Some(id),
            None => {
                let next = page.sync_info.sync_token.ok_or_else(|| RcError::Protocol {
                    method: "GET",
                    path: self.path.clone(),
                    reason: "the last address-book-sync page carries no syncInfo.syncToken".into(),
                })?;
                self.next = Some(next);
            }
        }
        Ok(Some(ContactPage { contacts: page.records, sync_time: page.sync_info.sync_time }))
    }

    async fn read(&self) -> Result<AddressBookSyncPage, RcError> {
        let sync_type = match self.kind {
            SyncKind::Full => "FSync",
            SyncKind::Incremental => "ISync",
        };
        let mut query: Vec<(&str, String)> = vec![("syncType", sync_type.into())];
        match (&self.page_id, &self.previous, self.kind) {
            (Some(id), _, _) => query.push(("pageId", id.clone())),
            (None, Some(token), SyncKind::Incremental) => query.push(("syncToken", token.clone())),
            (None, _, _) => {}
        }
        let read = self.rc.get_json(&self.path, &query);
        if self.pages == 0 {
            Ok(read.await?.value)
        } else {
            // A later page waits for its permit rather than snoozing: a snooze would start
            // the sync over from its first page.
            Ok(snapsync_queue::with_patience(super::limits::PAGE_PATIENCE, read).await?.value)
        }
    }

    /// The token to commit once every page's changes are safely queued; an error before
    /// the last page is read.
    pub fn finish(self) -> Result<PendingSyncToken, RcError> {
        let next = self.next.ok_or_else(|| RcError::Protocol {
            method: "GET",
            path: self.path.clone(),
            reason: "the sync was finished before its last page was read".into(),
        })?;
        Ok(PendingSyncToken { extension_id: self.ext, previous: self.previous, next })
    }
}

/// The stored token is no good: 400 naming `syncToken`, or a documented reset code.
pub(super) fn is_sync_reset(e: &RcError) -> bool {
    let on_token = e.status() == Some(400) && e.parameter() == Some("syncToken");
    on_token || e.error_code().is_some_and(|c| SYNC_RESET_CODES.contains(&c))
}
