//! Address-book sync with per-extension sync tokens: FSync, a change made through the
//! sandbox's control API, ISync returning exactly that change; the token is stored only
//! when the caller commits (a crash before that replays); an invalid or reset token →
//! full sync; FSync paging over `nextPageId`.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::ringcentral_support::{start, start_with, ADMIN_EXT};
use redis::AsyncCommands;
use reqwest::Method;
use serde_json::json;
use snapsync::ringcentral::SyncKind;
use snapsync_sandbox::SandboxConfig;

const TOKEN_KEY: &str = "{t-rc}:rc:synctoken:400000101";

#[tokio::test]
async fn fsync_then_a_change_then_isync_returns_exactly_the_change() {
    let env = start().await;
    let rc = env.client().await;
    let full = rc.sync_contacts(ADMIN_EXT).await.expect("fsync");
    assert_eq!((full.kind, full.full_sync_reason.as_deref()), (SyncKind::Full, None));
    assert_eq!(full.contacts.len(), 80);
    assert!(full.contacts.iter().all(|c| c.availability.as_deref() == Some("Alive")));
    assert_eq!(rc.stored_sync_token(ADMIN_EXT).await.expect("read"), None, "not stored before the commit");
    assert!(rc.commit_sync_token(&full.token).await.expect("commit"));
    assert_eq!(rc.stored_sync_token(ADMIN_EXT).await.expect("read").as_deref(), Some(full.token.next.as_str()));

    let base = format!("/sandbox/extensions/{ADMIN_EXT}/contacts");
    let created = env
        .control(
            Method::POST,
            &base,
            Some(json!({"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"})),
        )
        .await;
    let new_id = created["id"].to_string().trim_matches('"').to_owned();
    env.control(Method::PATCH, &format!("{base}/500000001"), Some(json!({"company": "New Co"}))).await;
    env.control(Method::DELETE, &format!("{base}/500000002"), None).await;

    let changes = rc.sync_contacts(ADMIN_EXT).await.expect("isync");
    assert_eq!(changes.kind, SyncKind::Incremental);
    let got: BTreeMap<&str, (Option<&str>, Option<&str>)> = changes
        .contacts
        .iter()
        .map(|c| (c.id.as_str(), (c.availability.as_deref(), c.company.as_deref().or(c.first_name.as_deref()))))
        .collect();
    let mut want = BTreeMap::new();
    want.insert(new_id.as_str(), (Some("Alive"), Some("Ada")));
    want.insert("500000001", (Some("Alive"), Some("New Co")));
    want.insert("500000002", (Some("Deleted"), got.get("500000002").and_then(|v| v.1)));
    assert_eq!(got, want, "exactly the three changes");
    assert!(changes.contacts.iter().any(|c| c.id == "500000002" && c.is_deleted()));
    assert!(rc.commit_sync_token(&changes.token).await.expect("commit"));

    let none = rc.sync_contacts(ADMIN_EXT).await.expect("isync after commit");
    assert_eq!((none.kind, none.contacts.len()), (SyncKind::Incremental, 0));
}

#[tokio::test]
async fn without_a_commit_the_same_changes_come_back() {
    let env = start().await;
    let rc = env.client().await;
    let full = rc.sync_contacts(ADMIN_EXT).await.expect("fsync");
    assert!(rc.commit_sync_token(&full.token).await.expect("commit"));
    env.control(
        Method::PATCH,
        &format!("/sandbox/extensions/{ADMIN_EXT}/contacts/500000003"),
        Some(json!({"notes": "x"})),
    )
    .await;
    // A worker that crashed after reading but before committing: the next run replays.
    let first = rc.sync_contacts(ADMIN_EXT).await.expect("isync");
    let again = rc.sync_contacts(ADMIN_EXT).await.expect("isync again");
    let ids = |c: &snapsync::ringcentral::ContactChanges| c.contacts.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&first), vec!["500000003".to_string()]);
    assert_eq!(ids(&first), ids(&again));
    // Two runs from the same stored token: the first commit wins, the older one is refused.
    assert!(rc.commit_sync_token(&again.token).await.expect("commit"));
    assert!(!rc.commit_sync_token(&first.token).await.expect("stale commit"));
}

#[tokio::test]
async fn an_invalid_stored_token_leads_to_a_full_sync() {
    let env = start().await;
    let rc = env.client().await;
    let _: () = env.conn().await.set(TOKEN_KEY, "not-a-real-sync-token").await.expect("plant a bad token");
    let changes = rc.sync_contacts(ADMIN_EXT).await.expect("falls back to fsync");
    assert_eq!(changes.kind, SyncKind::Full);
    assert_eq!(changes.full_sync_reason.as_deref(), Some("CMN-101 on syncToken"));
    assert_eq!(changes.contacts.len(), 80);
    assert_eq!(changes.token.previous.as_deref(), Some("not-a-real-sync-token"));
    assert!(rc.commit_sync_token(&changes.token).await.expect("commit replaces the bad token"));
    assert_eq!(rc.sync_contacts(ADMIN_EXT).await.expect("isync").kind, SyncKind::Incremental);

    // A reset at the server invalidates the stored token the same way.
    env.control(Method::POST, &format!("/sandbox/extensions/{ADMIN_EXT}/address-book-sync/reset"), None).await;
    let after_reset = rc.sync_contacts(ADMIN_EXT).await.expect("fsync after reset");
    assert_eq!((after_reset.kind, after_reset.contacts.len()), (SyncKind::Full, 80));

    rc.forget_sync_token(ADMIN_EXT).await.expect("forget");
    let fresh = rc.sync_contacts(ADMIN_EXT).await.expect("fsync");
    assert_eq!((fresh.kind, fresh.full_sync_reason), (SyncKind::Full, None));
}

#[tokio::test]
async fn fsync_follows_next_page_id() {
    // 1,000 contacts: 400 in extension 101's book, two FSync pages of 250 and 150.
    let env =
        start_with(SandboxConfig { window: Duration::from_secs(2), contacts: Some(1000), ..Default::default() }).await;
    let rc = env.client().await;
    let full = rc.sync_contacts(ADMIN_EXT).await.expect("fsync");
    let ids: HashSet<&str> = full.contacts.iter().map(|c| c.id.as_str()).collect();
    assert_eq!((full.contacts.len(), ids.len()), (400, 400));
    assert!(rc.commit_sync_token(&full.token).await.expect("commit"));
    assert_eq!(rc.sync_contacts(ADMIN_EXT).await.expect("isync").contacts.len(), 0);
}
