//! `sync_locations`: RingCentral sites and emergency locations → Snapshots `/locations`.
//!
//! Both lists are read whole (Light, paged), each record mapped (`location_from_site`,
//! `location_from_emergency_location`) and upserted by external id; unchanged records are
//! not written. A remembered location missing from both complete listings was deleted at
//! the source and gets the configured action (`deletions`). One bad record does not stop
//! the others: the job fails at the end naming every record that failed. A record another
//! run holds (its lease lock, see `snapsync::snapshots::state`) is a wait, not a failure:
//! when only such records failed the job snoozes, else it retries (`combine`).

use std::collections::HashSet;

use serde::Serialize;
use snapsync::mapping::Resource;

use super::context::Context;
use super::deletions;
use super::failure::{combine, job_error, HandlerError};
use super::Tally;
use snapsync::jobs::SyncLocations;
use snapsync_queue::JobError;
use snapsync_queue::JobMeta;

/// The `seen:` set of location external ids.
const SEEN: &str = "locations";

pub async fn run(ctx: &Context, _payload: SyncLocations, job: &JobMeta) -> Result<(), JobError> {
    let sites = ctx.rc.sites().await.map_err(|e| job_error("reading sites", &e.into()))?;
    let emergency =
        ctx.rc.emergency_locations(&[]).await.map_err(|e| job_error("reading emergency locations", &e.into()))?;
    let started = super::sync_results::now_ms();
    let mut tally = Tally::default();
    let mut failures: Vec<(String, HandlerError)> = Vec::new();
    let mut current = HashSet::new();
    let mut mapping_failed = false;
    let records = sites.iter().map(|s| (Resource::LocationFromSite, format!("site {}", s.id), to_json(s))).chain(
        emergency
            .iter()
            .map(|l| (Resource::LocationFromEmergencyLocation, format!("emergency location {}", l.id), to_json(l))),
    );
    let mut written = Vec::new();
    // One mapping for the whole listing, even if a new one is saved meanwhile.
    let mapping = ctx.mapping();
    for (resource, name, source) in records {
        let mapped = match mapping.map(resource, &source) {
            Ok(m) => m,
            Err(e) => {
                mapping_failed = true;
                failures.push((name, e.into()));
                continue;
            }
        };
        current.insert(mapped.external_id.clone());
        for note in &mapped.notes {
            tracing::info!(record = %name, note = %note, "mapping note");
        }
        let key = super::idempotency_key(job, &mapped.external_id, &mapped.record);
        match ctx.snapshots.upsert(&job.locks, mapped.collection, &mapped.external_id, mapped.record, &key, None).await
        {
            Ok(outcome) => {
                tally.count(&outcome);
                written.push(mapped.external_id);
            }
            Err(e) => failures.push((name, e.into())),
        }
    }
    deletions::remember(ctx, SEEN, &written).await.map_err(|e| job_error("remembering locations", &e))?;
    // A record that could not be mapped has no external id in `current`; deleting what is
    // "missing" then would delete it. Deletions wait for a clean listing.
    if !mapping_failed {
        for external_id in deletions::missing(ctx, SEEN, &current).await.map_err(|e| job_error("locations", &e))? {
            match deletions::apply(ctx, &job.locks, snapsync::snapshots::Collection::Locations, &external_id).await {
                Ok(done) => {
                    tracing::info!(external_id = %external_id, action = ?done, "location deleted at the source");
                    tally.deleted += 1;
                    deletions::forget(ctx, SEEN, &external_id).await.map_err(|e| job_error(&external_id, &e))?;
                }
                Err(e) => failures.push((format!("deleted location {external_id}"), e)),
            }
        }
    }
    tracing::info!(
        sites = sites.len(),
        emergency_locations = emergency.len(),
        created = tally.created,
        updated = tally.updated,
        unchanged = tally.unchanged,
        deleted = tally.deleted,
        failed = failures.len(),
        "locations synced"
    );
    super::sync_results::finished(ctx, "locations", job, started, &tally, failures.len()).await;
    match combine(sites.len() + emergency.len(), &failures) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The typed record back to JSON with RingCentral's field names, as the mapping reads it.
pub(crate) fn to_json(record: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or(serde_json::Value::Null)
}
