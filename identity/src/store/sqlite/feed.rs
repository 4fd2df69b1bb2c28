//! The SQLite side of the change feed: the next position of a tenant's feed (taken as each
//! event is written, by the one writer SQLite allows at a time) and a page of its events with
//! the feed's bounds, read in the caller's snapshot.

use sqlx::SqliteConnection;

use crate::error::Error;
use crate::feed::stored::{FeedBounds, StoredFeedRow};
use crate::store::Outcome;
use crate::tenant::TenantId;

/// The last position of tenant `?1`'s feed: its highest, else the highest pruned, else 0.
/// Written into the statements that record events (`feed_head!() + 1`).
macro_rules! feed_head {
    () => {
        "coalesce((SELECT max(position) FROM identity_event WHERE tenant_id = ?1), \
                  (SELECT position FROM identity_feed_floor WHERE tenant_id = ?1), 0)"
    };
}
pub(crate) use feed_head;

const BOUNDS: &str = concat!(
    "SELECT coalesce((SELECT position FROM identity_feed_floor WHERE tenant_id = ?1), 0), ",
    feed_head!()
);

const EVENTS: &str = "\
SELECT id AS seq, position, customer_id AS customer, kind, contact_id AS contact,
       contact_ids AS contacts, kept_ids AS kept, email, phone, at
FROM identity_event
WHERE tenant_id = ?1 AND position > ?2
  AND kind IN ('existing', 'created', 'merged', 'split_off', 'erased')
ORDER BY position LIMIT ?3";

fn failed(operation: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::store(operation, e)
}

/// The tenant's feed bounds and up to `limit` of its feed events after position `after`, on
/// `conn`, which holds one snapshot for both reads.
pub(crate) async fn page(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    after: u64,
    limit: usize,
) -> Outcome<(FeedBounds, Vec<StoredFeedRow>)> {
    let (floor, head): (i64, i64) = sqlx::query_as(BOUNDS)
        .bind(tenant.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(failed("reading the feed"))?;
    let events = sqlx::query_as(EVENTS)
        .bind(tenant.as_str())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(failed("reading the feed"))?;
    let bounds = FeedBounds {
        floor: u64::try_from(floor).unwrap_or(0),
        head: u64::try_from(head).unwrap_or(0),
    };
    Ok((bounds, events))
}
