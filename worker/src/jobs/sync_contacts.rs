//! `sync_contacts`: personal contacts by address-book sync → one `upsert_contact` job per
//! changed contact.
//!
//! Without an extension in the payload the job lists the user extensions and reads their
//! books itself, one after another in the listing's order (with one Heavy budget for every
//! process, parallel reads are no faster, and in turn a started book takes the next
//! permits), each with the site from the listing, so it need not read the extension. An
//! extension whose read fails gets a `sync_contacts` job of its own naming it (a payload
//! naming an extension without its site reads it), which retries by itself. Each book runs
//! ISync from the stored token (FSync the first time, or when the token is rejected),
//! enqueues an `upsert_contact` per changed contact as each page is read (deleted ones
//! included: that handler applies the configured action) with the unique key
//! `contact:<id>:<content hash>:<page's syncTime>`, and only after the last page commits
//! the new sync token. A crash between the two replays the same changes next time; the
//! unique keys and idempotent upserts make that harmless. While the Heavy budget has no
//! permit (used up, or paused for every process after a 429), the client sends nothing:
//! the job waits in place up to the page patience, beyond it snoozes until a permit is
//! due. Waiting for the rate limit spends no attempt.

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
        Some(ext) => sync_extension(ctx, ext, payload.extension_site.as_ref(), &job.id.0).await.map(|_| ()),
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
    // The extensions this run has finished (a snooze or a crash of this job resumes after
    // them); they are neither marked again (their marks went with their syncs) nor read.
    let done_key = ctx.key(&format!("contacts-sync:done:{}", job.id.0));
    let done: std::collections::HashSet<String> = redis::AsyncCommands::smembers(&mut conn, &done_key)
        .await
        .map_err(|e| job_error("reading sync progress", &e.into()))?;
    let mut wanted = Vec::with_capacity(extensions.len());
    for ext in extensions.iter().filter(|e| !done.contains(&e.id)) {
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
    let resumed = extensions.iter().filter(|e| done.contains(&e.id)).count();
    let skipped = extensions.len() - resumed - wanted.len();
    // The books are read one after another, in the listing's order, by this job: with one
    // Heavy budget for every process, reading two books at once is no faster, and reading
    // them in turn lets a book that has started take the next permits. Read in parallel,
    // the first window's permits went to whichever first pages asked first (often empty
    // books) and Snapshots sat idle for a window. Each page's contacts are queued as it is
    // read.
    let mut failed = Vec::new();
    let (mut read, mut queued) = (0, 0u64);
    let started = super::sync_results::now_ms();
    super::sync_results::contacts(ctx, job, started, None).await;
    for ext in wanted {
        let site = ExtensionSite { id: ext.site.as_ref().and_then(|s| s.id.clone()) };
        // Waits for Heavy permits in place (a snooze would leave the book half read).
        let synced = snapsync_queue::with_patience(
            snapsync::ringcentral::limits::PAGE_PATIENCE,
            sync_extension(ctx, &ext.id, Some(&site), &job.id.0),
        )
        .await;
        match synced {
            Ok(n) => {
                read += 1;
                queued += n as u64;
                let _: () = redis::pipe()
                    .sadd(&done_key, &ext.id)
                    .ignore()
                    .pexpire(&done_key, PENDING_TTL.as_millis() as i64)
                    .ignore()
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| job_error("recording sync progress", &e.into()))?;
            }
            // A wait longer than the patience (a long pause after a 429): the whole fan-out
            // comes back then, and resumes after the books it finished.
            Err(e @ JobError::Snooze { .. }) => return Err(e),
            // One book that fails does not hold up the others: it gets a job of its own, which
            // retries (or dies) by itself.
            Err(e) => {
                tracing::warn!(extension_id = %ext.id, error = %e, "contact sync of one extension failed; it gets a job of its own");
                failed.push(ext);
            }
        }
    }
    let jobs: Vec<NewJob> = failed
        .iter()
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
    let _: i64 = redis::AsyncCommands::del(&mut conn, &done_key)
        .await
        .map_err(|e| job_error("clearing sync progress", &e.into()))?;
    super::sync_results::contacts(ctx, job, started, Some(queued)).await;
    tracing::info!(
        extensions = extensions.len(),
        read,
        resumed_after = resumed,
        failed = n,
        skipped,
        "contact sync of every extension done (skipped: a sync still queued; failed: retried by a job of its own)"
    );
    Ok(())
}

/// How long an extension's queued sync keeps a newer fan-out from queueing another.
const PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

fn pending_key(ctx: &Context, ext: &str) -> String {
    ctx.key(&format!("contacts-sync:pending:{ext}"))
}

/// Reads one book and queues its changes, counted in the results of sync `run`; returns how
/// many upserts it queued.
async fn sync_extension(
    ctx: &Context,
    ext: &str,
    listed_site: Option<&ExtensionSite>,
    run: &str,
) -> Result<usize, JobError> {
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
    let mut sync = ctx.rc.contact_sync(ext).await.map_err(|e| job_error(&name, &e.into()))?;
    let (mut n, mut deleted, mut fresh) = (0, 0, 0);
    // Each page's contacts are queued as soon as it is read, so the writes start while the
    // later pages wait for their Heavy permits (a 10,000-contact book is 40 pages, four
    // windows at RingCentral's published Heavy limit).
    while let Some(page) = sync.next_page().await.map_err(|e| job_error(&name, &e.into()))? {
        let mut jobs = Vec::with_capacity(page.contacts.len());
        let read_at = page.sync_time.as_deref().unwrap_or("");
        for contact in &page.contacts {
            deleted += usize::from(contact.is_deleted());
            let contact_json = to_json(contact);
            // The read time is part of the key: a contact changed back to an earlier content
            // (A → B → A) must make a job again, while the same read enqueued twice (a sync
            // retried before its token was committed) still makes one.
            let unique = format!("contact:{}:{}:{read_at}", contact.id, super::value_hash(&contact_json));
            let p = UpsertContact {
                v: PAYLOAD_VERSION,
                extension_id: ext.to_string(),
                contact_id: contact.id.clone(),
                contact: Some(contact_json),
                site_id: site_id.clone(),
                read_at: page.sync_time.clone(),
                run: Some(run.to_owned()),
            };
            jobs.push(NewJob::new(JobKind::UpsertContact.as_str(), p.encode()).unique(unique));
        }
        n += jobs.len();
        let enqueued = ctx.queue.enqueue_batch(jobs).await.map_err(|e| job_error(&name, &e.into()))?;
        fresh += enqueued.iter().filter(|e| matches!(e, snapsync_queue::Enqueued::Created(_))).count();
    }
    let (kind, full_sync_reason) = (sync.kind(), sync.full_sync_reason().map(str::to_owned));
    let token = sync.finish().map_err(|e| job_error(&name, &e.into()))?;
    // Only now: the changes the token covers are safely in the queue.
    let committed = ctx.rc.commit_sync_token(&token).await.map_err(|e| job_error(&name, &e.into()))?;
    // Synced: the next fan-out may queue this extension again.
    let mut conn = ctx.redis.clone();
    let _: i64 =
        redis::AsyncCommands::del(&mut conn, pending_key(ctx, ext)).await.map_err(|e| job_error(&name, &e.into()))?;
    tracing::info!(
        extension_id = %ext,
        kind = ?kind,
        full_sync_reason = full_sync_reason.as_deref().unwrap_or(""),
        changed = n,
        deleted,
        enqueued = fresh,
        token_committed = committed,
        "contacts synced"
    );
    Ok(fresh)
}
