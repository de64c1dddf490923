//! Deletions at the source. RingCentral tells us about a deleted contact (address-book sync
//! returns it with `availability: Deleted`), but sites and emergency locations simply stop
//! being listed; for those the worker remembers the external ids it wrote
//! (`{prefix}:seen:<what>`, a Redis set) and treats the ones missing from a complete listing
//! as deleted.
//!
//! The action is `sync.deleted_contact_action`: `tag` adds the tag `deleted` (nothing is
//! lost), `delete` deletes the record. Snapshots cannot delete leads or accounts, so for
//! those `delete` falls back to the tag.

use std::collections::HashSet;

use redis::AsyncCommands;
use snapsync::config::DeletedContactAction;
use snapsync::snapshots::Collection;
use snapsync_queue::LeaseLocks;

use super::context::Context;
use super::failure::HandlerError;

/// The tag a record deleted at the source gets.
pub const DELETED_TAG: &str = "deleted";

/// What was done to one record deleted at the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    Tagged,
    Removed,
    /// Not in Snapshots (never written, or already removed).
    Absent,
}

/// Applies the configured action to the record `external_id` of `collection`, under the
/// record's lock from `locks` (the job's lease locks).
pub async fn apply(
    ctx: &Context,
    locks: &LeaseLocks,
    collection: Collection,
    external_id: &str,
) -> Result<Deleted, HandlerError> {
    use snapsync::snapshots::{DeleteOutcome, TagOutcome};
    let deletable = collection == Collection::Locations;
    if ctx.sync.deleted_contact_action == DeletedContactAction::Delete && deletable {
        return Ok(match ctx.snapshots.delete(locks, collection, external_id).await? {
            DeleteOutcome::Deleted { .. } => Deleted::Removed,
            DeleteOutcome::NotFound => Deleted::Absent,
        });
    }
    Ok(match ctx.snapshots.tag(locks, collection, external_id, DELETED_TAG).await? {
        TagOutcome::Tagged { .. } | TagOutcome::AlreadyTagged { .. } => Deleted::Tagged,
        TagOutcome::NotFound => Deleted::Absent,
    })
}

fn seen_key(ctx: &Context, what: &str) -> String {
    ctx.key(&format!("seen:{what}"))
}

/// Remembers that `external_ids` exist at the source.
pub async fn remember(ctx: &Context, what: &str, external_ids: &[String]) -> Result<(), HandlerError> {
    if external_ids.is_empty() {
        return Ok(());
    }
    let mut conn = ctx.redis.clone();
    let _: i64 = conn.sadd(seen_key(ctx, what), external_ids).await?;
    Ok(())
}

/// The remembered external ids missing from `current`, a complete listing of the source.
pub async fn missing(ctx: &Context, what: &str, current: &HashSet<String>) -> Result<Vec<String>, HandlerError> {
    let mut conn = ctx.redis.clone();
    let seen: Vec<String> = conn.smembers(seen_key(ctx, what)).await?;
    let mut gone: Vec<String> = seen.into_iter().filter(|id| !current.contains(id)).collect();
    gone.sort();
    Ok(gone)
}

/// Forgets `external_id` once its deletion was applied.
pub async fn forget(ctx: &Context, what: &str, external_id: &str) -> Result<(), HandlerError> {
    let mut conn = ctx.redis.clone();
    let _: i64 = conn.srem(seen_key(ctx, what), external_id).await?;
    Ok(())
}
