//! The SQLite import: in the caller's write transaction, the planned rows inserted in time order
//! (so their ids ascend in that order), an `existing` event per row, and the derived records
//! built from the plan.

use sqlx::SqliteConnection;

use crate::contact::{ContactId, Email, Phone};
use crate::error::{Error, Result};
use crate::import::{
    Checkout, ImportOptions, ImportReport, derive_imported, plan_import, refuse_not_empty,
};
use crate::tenant::TenantId;

const INSERT_ROW: &str = "\
INSERT INTO contact (tenant_id, email, phone_number, linked_id, link_precedence, created_at,
    updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
RETURNING id";

// as the migration that added history records the rows it found
const RECORD_EVENTS: &str = "\
INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, email, phone, at)
SELECT tenant_id, coalesce(linked_id, id), 'existing', id, email, phone_number, created_at
FROM contact WHERE tenant_id = ?1 ORDER BY id";

/// Imports `checkouts` into `tenant` inside the caller's write transaction.
pub(super) async fn import(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    checkouts: Vec<Checkout>,
    options: ImportOptions,
) -> Result<ImportReport> {
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM contact WHERE tenant_id = ?1")
        .bind(tenant.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::store("reading contacts", e))?;
    if existing > 0 {
        return Err(refuse_not_empty(tenant, existing.unsigned_abs()));
    }
    let state = super::settings::state(&mut *tx, tenant).await?;
    let plan = plan_import(checkouts, &state, options.on_error)?;
    let mut report = plan.report.clone();
    if options.dry_run || plan.rows.is_empty() {
        return Ok(report);
    }
    let fail = |e| Error::store("importing contacts", e);
    let mut ids: Vec<ContactId> = Vec::with_capacity(plan.rows.len());
    for row in &plan.rows {
        let linked = row.primary.map(|p| ids[p].get());
        let id: i64 = sqlx::query_scalar(INSERT_ROW)
            .bind(tenant.as_str())
            .bind(row.email.as_ref().map(Email::as_str))
            .bind(row.phone_number.as_ref().map(Phone::as_str))
            .bind(linked)
            .bind(if linked.is_some() {
                "secondary"
            } else {
                "primary"
            })
            .bind(row.at)
            .fetch_one(&mut *tx)
            .await
            .map_err(fail)?;
        ids.push(ContactId::new(id));
    }
    if !ids.is_sorted() {
        return Err(Error::Internal {
            reason: "sqlite gave imported rows ids out of order",
        });
    }
    let contacts = plan.contacts(&ids)?;
    let derived = derive_imported(&contacts, &state)?;
    sqlx::query(RECORD_EVENTS)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
    super::records::write_derived(tx, tenant, &derived).await?;
    report.ids = ids.first().zip(ids.last()).map(|(a, b)| (*a, *b));
    report.written = true;
    Ok(report)
}
