//! A page of a tenant's feed, read once for every backend.

use crate::feed::stored;
use crate::feed::{Cursor, FeedPage};
use crate::store::Outcome;
use crate::store::steps::Steps;
use crate::tenant::TenantId;

/// The tenant's feed events after `after` (from the oldest retained when `None`), at most
/// `limit`, with the feed's bounds read in the same snapshot.
///
/// # Errors
/// As `feed::stored::page`: [`crate::Error::CursorExpired`], or [`crate::Error::InvalidInput`] for a
/// cursor past the feed's last event.
pub(crate) async fn feed_page<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    after: Option<Cursor>,
    limit: usize,
) -> Outcome<FeedPage> {
    let from = after.map_or(0, Cursor::position);
    let (bounds, rows) = steps.feed_events(tenant, from, limit).await?;
    Ok(stored::page(tenant, after, bounds, rows)?)
}
