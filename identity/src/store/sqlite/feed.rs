//! The SQLite side of the change feed: the next position of a tenant's feed (taken as each
//! event is written, by the one writer SQLite allows at a time) and a page of its events with
//! the feed's bounds, read in the caller's snapshot.

use sqlx::SqliteConnection;

use crate::error::Error;
use crate::feed::stored::{FeedBounds, StoredFeedRow};
use crate::stats::FeedStats;
use crate::store::Outcome;
use crate::store::webhooks::StoredBacklog;
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

/// A tenant's last position, for the tenant in column `$t` (see [`feed_head!`]).
macro_rules! head_of {
    ($t:literal) => {
        concat!(
            "coalesce((SELECT max(e.position) FROM identity_event AS e WHERE e.tenant_id = ",
            $t,
            "), (SELECT f.position FROM identity_feed_floor AS f WHERE f.tenant_id = ",
            $t,
            "), 0)"
        )
    };
}

/// Every tenant's last position, summed: the tenants are found by a skip scan of the events'
/// (tenant, position) index, and a tenant whose events were all pruned counts its floor.
const WRITTEN: &str = concat!(
    "WITH RECURSIVE tenants (id) AS (
        SELECT min(tenant_id) FROM identity_event
        UNION ALL
        SELECT (SELECT min(e.tenant_id) FROM identity_event AS e WHERE e.tenant_id > t.id)
        FROM tenants AS t WHERE t.id IS NOT NULL)
    SELECT coalesce((SELECT sum(",
    head_of!("t.id"),
    ") FROM tenants AS t WHERE t.id IS NOT NULL), 0)
         + coalesce((SELECT sum(f.position) FROM identity_feed_floor AS f
                     WHERE NOT EXISTS (SELECT 1 FROM identity_event AS e
                                       WHERE e.tenant_id = f.tenant_id)), 0)"
);

/// Every endpoint, with the positions after its cursor and the time of the first of them.
const BACKLOGS: &str = concat!(
    "SELECT w.id, w.tenant_id AS tenant, w.state, max(",
    head_of!("w.tenant_id"),
    " - w.delivered, 0) AS undelivered,
       (SELECT e.at FROM identity_event AS e
        WHERE e.tenant_id = w.tenant_id AND e.position > w.delivered
        ORDER BY e.position LIMIT 1) AS oldest
    FROM identity_webhook AS w ORDER BY w.id"
);

/// The feed's size and every endpoint's backlog, on `conn` (one snapshot when it holds a
/// transaction).
pub(crate) async fn stats(conn: &mut SqliteConnection) -> Outcome<FeedStats> {
    let written: i64 = sqlx::query_scalar(WRITTEN).fetch_one(&mut *conn).await?;
    let rows: Vec<StoredBacklog> = sqlx::query_as(BACKLOGS).fetch_all(&mut *conn).await?;
    Ok(StoredBacklog::stats(written, rows)?)
}
