//! Retention on SQLite: each tenant's feed events older than a time deleted from the oldest on,
//! a chunk per write transaction (the tenant's floor moved with each), so writers wait at most
//! one chunk.

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::feed::{PRUNE_CHUNK, PRUNE_WINDOW, PruneScan};

/// Every tenant with events.
pub(super) const TENANTS: &str = "SELECT DISTINCT tenant_id FROM identity_event";

const FLOOR: &str =
    "SELECT coalesce((SELECT position FROM identity_feed_floor WHERE tenant_id = ?1), 0)";

const WINDOW: &str = "\
SELECT position, kind, at FROM identity_event WHERE tenant_id = ?1 AND position > ?2
ORDER BY position LIMIT ?3";

const DELETE: &str =
    "DELETE FROM identity_event WHERE tenant_id = ?1 AND position > ?2 AND position <= ?3";

const FLOOR_TO: &str = "\
INSERT INTO identity_feed_floor (tenant_id, position, pruned_before) VALUES (?1, ?2, ?3)
ON CONFLICT (tenant_id) DO UPDATE SET position = excluded.position,
                                      pruned_before = excluded.pruned_before";

fn failed(e: sqlx::Error) -> Error {
    Error::store("pruning events", e)
}

/// The tenant's floor and the position to prune through (none: nothing to prune), read on
/// `conn`.
pub(super) async fn cut(
    conn: &mut SqliteConnection,
    tenant: &str,
    before: OffsetDateTime,
) -> Result<(i64, Option<i64>)> {
    let floor: i64 = sqlx::query_scalar(FLOOR)
        .bind(tenant)
        .fetch_one(&mut *conn)
        .await
        .map_err(failed)?;
    let mut scan = PruneScan::new(before);
    let mut from = floor;
    loop {
        let window: Vec<(i64, String, OffsetDateTime)> = sqlx::query_as(WINDOW)
            .bind(tenant)
            .bind(from)
            .bind(PRUNE_WINDOW as i64)
            .fetch_all(&mut *conn)
            .await
            .map_err(failed)?;
        let more = scan.read(&window);
        match window.last() {
            Some((last, ..)) if more => from = *last,
            _ => break,
        }
    }
    Ok((floor, scan.cut.and_then(|c| i64::try_from(c).ok())))
}

/// The next chunk after `done` up to `cut`.
pub(super) fn chunk_end(done: i64, cut: i64) -> i64 {
    cut.min(done.saturating_add(PRUNE_CHUNK as i64))
}

/// Deletes the tenant's events after `done` through `to` and moves its floor there, in the
/// caller's write transaction; how many went.
pub(super) async fn delete(
    tx: &mut SqliteConnection,
    tenant: &str,
    done: i64,
    to: i64,
    before: OffsetDateTime,
) -> Result<u64> {
    let gone = sqlx::query(DELETE)
        .bind(tenant)
        .bind(done)
        .bind(to)
        .execute(&mut *tx)
        .await
        .map_err(failed)?
        .rows_affected();
    sqlx::query(FLOOR_TO)
        .bind(tenant)
        .bind(to)
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    Ok(gone)
}
