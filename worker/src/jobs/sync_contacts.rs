//! `sync_contacts`: personal contacts by address-book sync → one `upsert_contact` job per
//! changed contact.
//!
//! Without an extension in the payload the job fans out one `sync_contacts` job per user
//! extension (each address-book sync is a Heavy call; separate jobs let a 429 retry only the
//! extension it hit), each carrying the extension's site from the listing, so it need not
//! read the extension (a payload naming an extension without its site reads it). With one,
//! it runs ISync from the stored token (FSync the first time, or when the token is
//! rejected), enqueues an `upsert_contact` per changed contact (deleted
//! ones included: that handler applies the configured action) with the unique key
//! `contact:<id>:<content hash>`, and only then commits the new sync token. A crash between
//! the two replays the same changes next time; the unique keys and idempotent upserts make
//! that harmless. While the Heavy budget has no permit (used up, or paused for every process
//! after a 429), the client sends nothing and the job snoozes until a permit is due: waiting
//! for the rate limit spends no attempt.

use snapsync::jobs::{ExtensionSite, JobKind, Payload, SyncContacts, UpsertContact, PAYLOAD_VERSION};
use snapsync_queue::NewJob;

use super::context::Context;
use super::failure::job_error;
use super::sync_locations::to_json;
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

pub async fn run(ctx: &Context, payload: SyncContacts, job: &JobMeta) -> Result<(), JobError> {
    match &payload.extension_id {
        None => fan_out_extensions(ctx, &payload, job).await,
        Some(ext) => sync_extension(ctx, ext, payload.extension_site.as_ref()).await,
    }
}

async fn fan_out_extensions(ctx: &Context, payload: &SyncContacts, job: &JobMeta) -> Result<(), JobError> {
    let extensions = ctx
        .rc
        .extensions(&[("type", "User".to_string())])
        .await
        .map_err(|e| job_error("listing user extensions", &e.into()))?;
    // An extension whose sync from an earlier run is still queued (snoozed for the Heavy
    // budget, say) gets no second one: overlapping syncs of one address book would spend the
    // scarcest budget twice on the same records. The mark names the fan-out that set it, so
    // a retry of this fan-out still enqueues (its unique keys make that a no-op), and it
    // expires on its own should its sync die.
    let mut conn = ctx.redis.clone();
    let mut wanted = Vec::with_capacity(extensions.len());
    for ext in &extensions {
        let key = pending_key(ctx, &ext.id);
        // `SET … NX GET`: the holder before this call, `None` when this call set it.
        let holder: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&job.id.0)
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(PENDING_TTL.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .map_err(|e| job_error("marking per-extension syncs", &e.into()))?;
        let mine = holder.is_none_or(|h| h == job.id.0);
        if mine {
            wanted.push(ext);
        }
    }
    let skipped = extensions.len() - wanted.len();
    let jobs: Vec<NewJob> = wanted
        .into_iter()
        .map(|ext| {
            let p = SyncContacts {
                v: PAYLOAD_VERSION,
                trigger: payload.trigger.clone(),
                extension_id: Some(ext.id.clone()),
                // The listing's record names the site: the extension's sync need not read it.
                extension_site: Some(ExtensionSite { id: ext.site.as_ref().and_then(|s| s.id.clone()) }),
            };
            // Keyed by this job, so a retry of the fan-out does not enqueue twice, while the
            // next scheduled run does enqueue again.
            NewJob::new(JobKind::SyncContacts.as_str(), p.encode())
                .unique(format!("sync_contacts:{}:{}", ext.id, job.id))
        })
        .collect();
    let n = jobs.len();
    ctx.queue.enqueue_batch(jobs).await.map_err(|e| job_error("enqueueing per-extension syncs", &e.into()))?;
    tracing::info!(extensions = n, skipped, "contact sync fanned out per extension (skipped: a sync still queued)");
    Ok(())
}

/// How long an extension's queued sync keeps a newer fan-out from queueing another.
const PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

fn pending_key(ctx: &Context, ext: &str) -> String {
    ctx.key(&format!("contacts-sync:pending:{ext}"))
}

async fn sync_extension(ctx: &Context, ext: &str, listed_site: Option<&ExtensionSite>) -> Result<(), JobError> {
    let name = format!("extension {ext}");
    let site_id = match listed_site {
        Some(site) => site.id.clone(),
        None => {
            let extension = ctx.rc.extension(ext).await.map_err(|e| job_error(&name, &e.into()))?;
            extension.site.as_ref().and_then(|s| s.id.clone())
        }
    };
    // A used-up Heavy budget (or one paused after a 429, for every process) is a snooze:
    // the client did not send the call, and the job comes back when a permit is due.
    let changes = ctx.rc.sync_contacts(ext).await.map_err(|e| job_error(&name, &e.into()))?;
    let mut jobs = Vec::with_capacity(changes.contacts.len());
    let mut deleted = 0;
    for contact in &changes.contacts {
        deleted += usize::from(contact.is_deleted());
        let contact_json = to_json(contact);
        // The read time is part of the key: a contact changed back to an earlier content
        // (A → B → A) must make a job again, while the same read enqueued twice (a sync retried
        // before its token was committed) still makes one.
        let read_at = changes.sync_time.as_deref().unwrap_or("");
        let unique = format!("contact:{}:{}:{read_at}", contact.id, super::value_hash(&contact_json));
        let p = UpsertContact {
            v: PAYLOAD_VERSION,
            extension_id: ext.to_string(),
            contact_id: contact.id.clone(),
            contact: Some(contact_json),
            site_id: site_id.clone(),
            read_at: changes.sync_time.clone(),
        };
        jobs.push(NewJob::new(JobKind::UpsertContact.as_str(), p.encode()).unique(unique));
    }
    let n = jobs.len();
    let enqueued = ctx.queue.enqueue_batch(jobs).await.map_err(|e| job_error(&name, &e.into()))?;
    let fresh = enqueued.iter().filter(|e| matches!(e, snapsync_queue::Enqueued::Created(_))).count();
    // Only now: the changes the token covers are safely in the queue.
    let committed = ctx.rc.commit_sync_token(&changes.token).await.map_err(|e| job_error(&name, &e.into()))?;
    // Synced: the next fan-out may queue this extension again.
    let mut conn = ctx.redis.clone();
    let _: i64 =
        redis::AsyncCommands::del(&mut conn, pending_key(ctx, ext)).await.map_err(|e| job_error(&name, &e.into()))?;
    tracing::info!(
        extension_id = %ext,
        kind = ?changes.kind,
        full_sync_reason = changes.full_sync_reason.as_deref().unwrap_or(""),
        changed = n,
        deleted,
        enqueued = fresh,
        token_committed = committed,
        "contacts synced"
    );
    Ok(())
}
