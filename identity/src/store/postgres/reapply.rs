//! The PostgreSQL side of applying erasures again ([`crate::Identity::reapply_erasures`]), in
//! the caller's transaction under the tenant's graph lock taken alone (with its pending
//! changes applied): each record's rows the database holds are erased through the erase (and
//! split) of `erase.rs` and `operations.rs`, the original receipts and record are stored, the
//! digests suppressed, and the id sequence moved past every id the records name.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erasure::ErasureRecord;
use crate::reapply::{HeldRow, ReapplyPlan, ReapplyReport, Step, same_secret};
use crate::tenant::TenantId;

use super::erase;
use super::graph;
use super::steps::{self, customer_rows};
use crate::store::Outcome;

/// Whether tenant `$1` holds the erase of record `$4` (customer `$3`): a receipt for one of
/// its rows `$2`, or the record itself (an erase of rows all taken again).
const HOLDS: &str = "\
SELECT EXISTS (SELECT 1 FROM identity_erasure WHERE tenant_id = $1 AND contact_id = ANY($2))
    OR EXISTS (SELECT 1 FROM identity_erasure_record
               WHERE tenant_id = $1 AND customer_id = $3 AND record = $4)";

/// Tenant `$1`'s rows with the ids `$2`: id, creation, customer if visible.
const HELD: &str = "\
SELECT id, created_at, CASE WHEN deleted_at IS NULL THEN coalesce(linked_id, id) END
FROM contact WHERE tenant_id = $1 AND id = ANY($2)";

const DELETE_MARKED: &str = "\
DELETE FROM contact WHERE tenant_id = $1 AND deleted_at IS NOT NULL AND id = ANY($2)";

const DELETE_RECEIPTS: &str = "\
DELETE FROM identity_erasure WHERE tenant_id = $1 AND contact_id = ANY($2)";

const ADD_RECEIPTS: &str = "\
INSERT INTO identity_erasure (tenant_id, contact_id, customer_id, suppressed, erased_at)
SELECT $1, id, $3, $4, $5 FROM unnest($2::bigint[]) AS id";

/// Whether the id sequence of `contact` is behind `$1`.
const BEHIND: &str = "\
SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('contact', 'id')::regclass), 0) < $1";

fn ids(list: &[ContactId]) -> Vec<i64> {
    list.iter().map(|id| id.get()).collect()
}

/// Applies `records` (every one the tenant's) again, in the caller's transaction (`citus`:
/// the database is distributed, and each worker draws ids of its own).
pub(crate) async fn reapply(
    tx: &mut PgConnection,
    tenant: &TenantId,
    records: &[ErasureRecord],
    citus: bool,
) -> Outcome<ReapplyReport> {
    graph::repair(&mut *tx, tenant).await?;
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
            .bind(ids(&record.contact_ids))
            .bind(record.customer_id.get())
            .bind(record.to_line())
            .fetch_one(&mut *tx)
            .await?;
        if holds {
            report.already_erased += 1;
            continue;
        }
        let named: Vec<ContactId> = record.rows.iter().map(|r| r.id).collect();
        let held: Vec<(i64, OffsetDateTime, Option<i64>)> = sqlx::query_as(HELD)
            .bind(tenant.as_str())
            .bind(ids(&named))
            .fetch_all(&mut *tx)
            .await?;
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
                .bind(ids(list))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(ADD_RECEIPTS)
            .bind(tenant.as_str())
            .bind(ids(&plan.receipts))
            .bind(record.customer_id.get())
            .bind(record.suppressed)
            .bind(record.erased_at)
            .execute(&mut *tx)
            .await?;
        let digests = record
            .digests
            .iter()
            .map(|d| Ok((d.kind, d.bytes()?)))
            .collect::<crate::error::Result<Vec<_>>>()?;
        erase::add_digests(&mut *tx, tenant, &digests).await?;
        erase::keep_record(&mut *tx, record).await?;
        report.add(&plan, &erased, digests.len());
    }
    let highest = ReapplyPlan::highest_id(records);
    // on one server under a lock of the table, taken only when the sequence is behind, so that
    // no insert draws from it meanwhile; on Citus the tenant's worker draws its ids and the
    // function runs there (this tenant's graph lock is held alone; another tenant of the
    // worker drawing at that moment takes an id below the move, as a draw before the reapply
    // would)
    if !citus {
        let behind: bool = sqlx::query_scalar(BEHIND)
            .bind(highest)
            .fetch_one(&mut *tx)
            .await?;
        if !behind {
            return Ok(report.finish());
        }
        sqlx::query("LOCK TABLE contact IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("SELECT identity_move_ids_above($1, $2)")
        .bind(tenant.as_str())
        .bind(highest)
        .execute(&mut *tx)
        .await?;
    Ok(report.finish())
}
