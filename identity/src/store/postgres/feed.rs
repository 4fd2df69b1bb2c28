//! The PostgreSQL side of the change feed: a page of a tenant's events with the feed's bounds,
//! in one statement (so one snapshot, no transaction to begin). Positions are given by
//! `migrations/postgres/*_feed.sql` as the events are written.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};

use crate::feed::stored::{FeedBounds, StoredFeedRow};
use crate::stats::FeedStats;
use crate::store::Outcome;
use crate::store::webhooks::StoredBacklog;
use crate::tenant::TenantId;

/// The bounds, then up to `$3` events of tenant `$1` after position `$2` (none: one row of
/// bounds with the event's columns NULL).
const PAGE: &str = "\
SELECT coalesce((SELECT f.position FROM identity_feed_floor AS f WHERE f.tenant_id = $1), 0)
           AS floor,
       identity_feed_head($1) AS head,
       e.id AS seq, e.position, e.customer_id AS customer, e.kind, e.contact_id AS contact,
       array_to_string(e.contact_ids, ',') AS contacts, array_to_string(e.kept_ids, ',') AS kept,
       e.email, e.phone, e.at
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT * FROM identity_event AS x
    WHERE x.tenant_id = $1 AND x.position > $2
      AND x.kind IN ('existing', 'created', 'merged', 'split_off', 'erased')
    ORDER BY x.position LIMIT $3) AS e ON true
ORDER BY e.position";

/// The tenant's feed bounds and up to `limit` of its feed events after position `after`.
pub(crate) async fn page(
    conn: &mut PgConnection,
    tenant: &TenantId,
    after: u64,
    limit: usize,
) -> Outcome<(FeedBounds, Vec<StoredFeedRow>)> {
    let rows: Vec<PgRow> = sqlx::query(PAGE)
        .bind(tenant.as_str())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await?;
    let mut bounds = FeedBounds::default();
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let floor: i64 = row.try_get("floor")?;
        let head: i64 = row.try_get("head")?;
        bounds = FeedBounds {
            floor: u64::try_from(floor).unwrap_or(0),
            head: u64::try_from(head).unwrap_or(0),
        };
        if row.try_get::<Option<i64>, _>("seq")?.is_some() {
            events.push(StoredFeedRow::from_row(row)?);
        }
    }
    Ok((bounds, events))
}

/// Every tenant's last position, summed: the tenants are found by a skip scan of the events'
/// (tenant, position) index (one probe per tenant, not a pass over the events), and a tenant
/// whose events were all pruned counts its floor.
const WRITTEN: &str = "\
WITH RECURSIVE tenants (id) AS (
    SELECT min(tenant_id) FROM identity_event
    UNION ALL
    SELECT (SELECT min(e.tenant_id) FROM identity_event AS e WHERE e.tenant_id > t.id)
    FROM tenants AS t WHERE t.id IS NOT NULL)
SELECT (coalesce((SELECT sum(identity_feed_head(t.id)) FROM tenants AS t WHERE t.id IS NOT NULL), 0)
      + coalesce((SELECT sum(f.position) FROM identity_feed_floor AS f
                  WHERE NOT EXISTS (SELECT 1 FROM identity_event AS e
                                    WHERE e.tenant_id = f.tenant_id)), 0))::bigint";

/// [`WRITTEN`] on Citus, which runs no recursive query over every tenant's shards: each tenant
/// with events found by a pass over the events, on every shard at once.
const WRITTEN_CITUS: &str = "\
SELECT (coalesce((SELECT sum(h.head) FROM (SELECT max(position) AS head FROM identity_event
                                             GROUP BY tenant_id) AS h), 0)
      + coalesce((SELECT sum(f.position) FROM identity_feed_floor AS f
                  WHERE NOT EXISTS (SELECT 1 FROM identity_event AS e
                                    WHERE e.tenant_id = f.tenant_id)), 0))::bigint";

/// Every endpoint, with the positions after its cursor and the time of the first of them.
const BACKLOGS: &str = "\
SELECT w.id, w.tenant_id AS tenant, w.state,
       greatest(identity_feed_head(w.tenant_id) - w.delivered, 0) AS undelivered,
       (SELECT e.at FROM identity_event AS e
        WHERE e.tenant_id = w.tenant_id AND e.position > w.delivered
        ORDER BY e.position LIMIT 1) AS oldest
FROM identity_webhook AS w ORDER BY w.id";

/// The feed's size and every endpoint's backlog, in `conn`'s snapshot (`citus`: the database
/// is distributed by Citus).
pub(crate) async fn stats(conn: &mut PgConnection, citus: bool) -> Outcome<FeedStats> {
    let written = if citus { WRITTEN_CITUS } else { WRITTEN };
    let written: i64 = sqlx::query_scalar(written).fetch_one(&mut *conn).await?;
    let rows: Vec<StoredBacklog> = sqlx::query_as(BACKLOGS).fetch_all(&mut *conn).await?;
    Ok(StoredBacklog::stats(written, rows)?)
}
