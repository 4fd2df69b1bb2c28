//! The SQLite side of applying erasures again ([`crate::Identity::reapply_erasures`]), inside
//! the caller's write transaction with the tenant's pending changes applied: each record's
//! rows the database holds are erased through the erase of `erase.rs` (and the split of
//! `operations.rs`), the original receipts and record are stored, the digests suppressed, and the id
//! sequence moved past every id the records name.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erasure::ErasureRecord;
use crate::error::{Error, Result};
use crate::reapply::{HeldRow, ReapplyPlan, ReapplyReport, Step, same_secret};
use crate::tenant::TenantId;

use super::json;
use super::steps::{self, customer_rows};
use super::{erase, erase_steps, settings};

/// Whether tenant `?1` holds the erase of record `?4` (customer `?3`): a receipt for one of
/// its rows (the JSON array `?2`), or the record itself (an erase of rows all taken again).
const HOLDS: &str = "\
SELECT EXISTS (SELECT 1 FROM identity_erasure
               WHERE tenant_id = ?1 AND contact_id IN (SELECT value FROM json_each(?2)))
    OR EXISTS (SELECT 1 FROM identity_erasure_record
               WHERE tenant_id = ?1 AND customer_id = ?3 AND record = ?4)";

/// Tenant `?1`'s rows with the ids in the JSON array `?2`: id, creation, customer if visible.
const HELD: &str = "\
SELECT id, created_at, CASE WHEN deleted_at IS NULL THEN coalesce(linked_id, id) END
FROM contact WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))";

const DELETE_MARKED: &str = "\
DELETE FROM contact WHERE tenant_id = ?1 AND deleted_at IS NOT NULL
  AND id IN (SELECT value FROM json_each(?2))";

const DELETE_RECEIPTS: &str = "\
DELETE FROM identity_erasure WHERE tenant_id = ?1 AND contact_id IN (SELECT value FROM json_each(?2))";

/// Moves the id sequence of `contact` to `?1` unless it is there already.
const BUMP: &str = "\
UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'contact' AND seq < ?1";
const BUMP_FIRST: &str = "\
INSERT INTO sqlite_sequence (name, seq)
SELECT 'contact', ?1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'contact')";

fn failed(e: sqlx::Error) -> Error {
    Error::store("applying erasures again", e)
}

/// Applies `records` (every one the tenant's) again.
pub(super) async fn reapply(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    records: &[ErasureRecord],
) -> Result<ReapplyReport> {
    if records.iter().any(|r| !r.digests.is_empty()) {
        let ours = erase::store_secret(&mut *tx).await?.fingerprint();
        same_secret(records, &ours)?;
    }
    let mut report = ReapplyReport {
        records: records.len(),
        ..ReapplyReport::default()
    };
    for record in records {
        let holds: bool = sqlx::query_scalar(HOLDS)
            .bind(tenant.as_str())
            .bind(json(&record.contact_ids))
            .bind(record.customer_id.get())
            .bind(record.to_line())
            .fetch_one(&mut *tx)
            .await
            .map_err(failed)?;
        if holds {
            report.already_erased += 1;
            continue;
        }
        let ids: Vec<ContactId> = record.rows.iter().map(|r| r.id).collect();
        let held: Vec<(i64, OffsetDateTime, Option<i64>)> = sqlx::query_as(HELD)
            .bind(tenant.as_str())
            .bind(json(&ids))
            .fetch_all(&mut *tx)
            .await
            .map_err(failed)?;
        let held: Vec<HeldRow> = held.into_iter().map(HeldRow::stored).collect();
        let mut members = BTreeMap::new();
        for customer in held.iter().filter_map(|h| h.customer) {
            let (_, rows) = customer_rows(&mut *tx, tenant, customer).await?;
            members.insert(customer, rows.iter().map(|c| c.id).collect::<BTreeSet<_>>());
        }
        let plan = ReapplyPlan::new(record, &held, &members);
        let mut erased = Vec::new();
        for step in &plan.steps {
            let target = match step {
                Step::Erase(customer) => *customer,
                Step::SplitOff { customer, rows } => {
                    let split = steps::split(&mut *tx, tenant, *customer, rows, true).await?;
                    split.primary_holding(rows[0])
                }
            };
            let (receipt, _) = steps::erase(&mut *tx, tenant, target, false).await?;
            erased.extend(receipt.contact_ids);
        }
        for (statement, list) in [(DELETE_MARKED, &plan.deleted), (DELETE_RECEIPTS, &erased)] {
            sqlx::query(statement)
                .bind(tenant.as_str())
                .bind(json(list))
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        for id in &plan.receipts {
            sqlx::query(erase::ADD_RECEIPT)
                .bind(tenant.as_str())
                .bind(id.get())
                .bind(record.customer_id.get())
                .bind(record.suppressed)
                .bind(record.erased_at)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        let digests = record
            .digests
            .iter()
            .map(|d| Ok((d.kind, d.bytes()?)))
            .collect::<Result<Vec<_>>>()?;
        let version = settings::state(&mut *tx, tenant).await?.blocked.version;
        let now = OffsetDateTime::now_utc();
        erase::add_digests(&mut *tx, tenant, &digests, version, now).await?;
        erase_steps::keep_record(&mut *tx, record).await?;
        report.add(&plan, &erased, digests.len());
    }
    let highest = ReapplyPlan::highest_id(records);
    for statement in [BUMP, BUMP_FIRST].into_iter().filter(|_| highest > 0) {
        sqlx::query(statement)
            .bind(highest)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    Ok(report.finish())
}
