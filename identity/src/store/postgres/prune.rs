//! Retention on PostgreSQL: each tenant's feed events older than a time deleted from the oldest
//! on, a chunk per statement (so per transaction), the tenant's floor moved with each chunk.
//! Writers append at the other end of the feed and never wait for it.

use sqlx::PgPool;
use time::OffsetDateTime;

use crate::feed::{PRUNE_CHUNK, PRUNE_WINDOW, PruneReport, PruneScan};
use crate::store::Outcome;

/// Every tenant with events, by a skip scan of the position index.
const TENANTS: &str = "\
WITH RECURSIVE t AS (
    (SELECT tenant_id FROM identity_event ORDER BY tenant_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.tenant_id FROM identity_event AS e WHERE e.tenant_id > t.tenant_id
            ORDER BY e.tenant_id LIMIT 1)
    FROM t WHERE t.tenant_id IS NOT NULL)
SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL";

/// [`TENANTS`] on Citus, which runs no recursive query over every tenant's shards: a pass over
/// the events, on every shard at once.
const TENANTS_CITUS: &str = "SELECT DISTINCT tenant_id FROM identity_event";

const FLOOR: &str =
    "SELECT coalesce((SELECT position FROM identity_feed_floor WHERE tenant_id = $1), 0)";

const WINDOW: &str = "\
SELECT position, kind, at FROM identity_event WHERE tenant_id = $1 AND position > $2
ORDER BY position LIMIT $3";

/// Deletes tenant `$1`'s events after `$2` through `$3` and moves its floor to `$3` (pruned
/// before `$4`), in one statement; answers how many went. (Both changes are CTEs of a `SELECT`:
/// Citus routes that to the tenant's worker, but refuses an `INSERT` holding a subquery.)
const PRUNE: &str = "\
WITH gone AS (
    DELETE FROM identity_event WHERE tenant_id = $1 AND position > $2 AND position <= $3
    RETURNING 1),
floor AS (
    INSERT INTO identity_feed_floor AS f (tenant_id, position, pruned_before)
    VALUES ($1, $3, $4)
    ON CONFLICT (tenant_id) DO UPDATE SET position = excluded.position,
                                          pruned_before = excluded.pruned_before
    RETURNING 1)
SELECT count(*) FROM gone";

/// Prunes every tenant's events older than `before` (`citus`: the database is distributed by
/// Citus).
pub(crate) async fn prune(
    pool: &PgPool,
    before: OffsetDateTime,
    citus: bool,
) -> Outcome<PruneReport> {
    let tenants = if citus { TENANTS_CITUS } else { TENANTS };
    let tenants: Vec<String> = sqlx::query_scalar(tenants).fetch_all(pool).await?;
    let mut report = PruneReport::default();
    for tenant in tenants {
        let floor: i64 = sqlx::query_scalar(FLOOR)
            .bind(&tenant)
            .fetch_one(pool)
            .await?;
        let mut scan = PruneScan::new(before);
        let mut from = floor;
        loop {
            let window: Vec<(i64, String, OffsetDateTime)> = sqlx::query_as(WINDOW)
                .bind(&tenant)
                .bind(from)
                .bind(PRUNE_WINDOW as i64)
                .fetch_all(pool)
                .await?;
            let more = scan.read(&window);
            match window.last() {
                Some((last, ..)) if more => from = *last,
                _ => break,
            }
        }
        let Some(cut) = scan.cut.and_then(|c| i64::try_from(c).ok()) else {
            continue;
        };
        let mut done = floor;
        while done < cut {
            let to = cut.min(done.saturating_add(PRUNE_CHUNK as i64));
            let gone: i64 = sqlx::query_scalar(PRUNE)
                .bind(&tenant)
                .bind(done)
                .bind(to)
                .bind(before)
                .fetch_one(pool)
                .await?;
            report.events += u64::try_from(gone).unwrap_or(0);
            done = to;
        }
        report.tenants += 1;
    }
    // webhook attempts are kept as long as the events
    sqlx::query("DELETE FROM identity_webhook_delivery WHERE at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(report)
}
