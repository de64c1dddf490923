//! What the call and message activities share: the extension's site and the location
//! `sync_locations` wrote for it.

use snapsync::mapping::Resource;
use snapsync::snapshots::{state, Collection};

use super::context::Context;
use super::failure::HandlerError;

/// The site of `extension_id` (`extension/{id}`, Light); `None` when it has none.
pub async fn extension_site(ctx: &Context, extension_id: &str) -> Result<Option<String>, HandlerError> {
    Ok(ctx.rc.extension(extension_id).await?.site.and_then(|s| s.id))
}

/// The Snapshots id of the location of `site`. A site whose location `sync_locations` has
/// not written yet is [`HandlerError::NotYet`] (the next locations sync writes it); no site,
/// no location.
pub async fn site_location(ctx: &Context, site: Option<&str>) -> Result<Option<String>, HandlerError> {
    let Some(site) = site else { return Ok(None) };
    let location = ctx.mapping().map(Resource::LocationFromSite, &serde_json::json!({ "id": site }))?;
    let mut conn = ctx.redis.clone();
    match state::load(&mut conn, &ctx.state_prefix, Collection::Locations, &location.external_id).await?.id {
        Some(id) => Ok(Some(id)),
        None => Err(HandlerError::NotYet(format!(
            "the location of site {site} ({}) is not synced yet; sync_locations writes it",
            location.external_id
        ))),
    }
}
