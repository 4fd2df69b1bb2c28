//! The SQLite side of split: the split itself inside the caller's write transaction, and the
//! kept-apart pairs (`identity_kept_apart`) it adds, which every merge checks
//! (`records.rs`).

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::{Contact, ContactId};
use crate::error::{Error, Result};
use crate::history::Change;
use crate::split::{Split, SplitPlan};
use crate::store::{ContactRow, decode_rows};
use crate::tenant::TenantId;

use super::records::{self, NewValues};
use super::{events, json, settings};

/// The customer (primary) of tenant `?1`'s visible row `?2`.
const CUSTOMER_OF: &str = "\
SELECT coalesce(linked_id, id) FROM contact
WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL";

/// The visible rows of tenant `?1`'s customer `?2`.
const ROWS_OF: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND (id = ?2 OR linked_id = ?2)";

/// Tenant `?1`'s pairs with a row in the JSON array `?2`.
const PAIRS_OF: &str = "\
SELECT a_id, b_id FROM identity_kept_apart
WHERE tenant_id = ?1 AND (a_id IN (SELECT value FROM json_each(?2))
                          OR b_id IN (SELECT value FROM json_each(?2)))";

const ADD_PAIR: &str = "\
INSERT OR IGNORE INTO identity_kept_apart (tenant_id, a_id, b_id, created_at)
VALUES (?1, ?2, ?3, ?4)";

fn failed(e: sqlx::Error) -> Error {
    Error::store("splitting a customer", e)
}

/// The customer (primary) that tenant `tenant`'s visible row `customer` belongs to, and its
/// visible rows.
///
/// # Errors
/// [`Error::NotFound`] when the tenant has no such visible row.
pub(super) async fn customer_rows(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
) -> Result<(ContactId, Vec<Contact>)> {
    let failed = |e| Error::store("reading a customer's rows", e);
    let primary: Option<i64> = sqlx::query_scalar(CUSTOMER_OF)
        .bind(tenant.as_str())
        .bind(customer.get())
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed)?;
    let primary = ContactId::new(primary.ok_or(customer.not_found())?);
    let rows: Vec<ContactRow> = sqlx::query_as(ROWS_OF)
        .bind(tenant.as_str())
        .bind(primary.get())
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
    Ok((primary, decode_rows(rows)?))
}

/// Splits `asked` off the customer of row `customer` inside the caller's write transaction,
/// with the tenant's pending changes applied already.
pub(super) async fn split(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
    asked: &[ContactId],
    block_shared: bool,
) -> Result<Split> {
    let (primary, rows) = customer_rows(&mut *tx, tenant, customer).await?;
    let ids: Vec<ContactId> = rows.iter().map(|c| c.id).collect();
    let pairs: Vec<(i64, i64)> = sqlx::query_as(PAIRS_OF)
        .bind(tenant.as_str())
        .bind(json(&ids))
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
    let pairs: Vec<(ContactId, ContactId)> = pairs
        .into_iter()
        .map(|(a, b)| (ContactId::new(a), ContactId::new(b)))
        .collect();
    let blocked = settings::state(&mut *tx, tenant).await?.blocked;
    let plan = SplitPlan::new(&rows, primary, asked, block_shared, &blocked, &pairs)?;
    for entry in &plan.block {
        settings::change_blocked(&mut *tx, tenant, entry, true).await?;
    }
    let now = OffsetDateTime::now_utc();
    for (id, link) in &plan.derived.relinks {
        records::relink(&mut *tx, tenant, &[*id], *link, now).await?;
    }
    for record in &plan.derived.customers {
        let none = NewValues::Some(None, None);
        records::store(&mut *tx, tenant, record.clone(), none).await?;
    }
    for (kind, value) in &plan.renamed {
        sqlx::query(
            "UPDATE identity_identifier SET customer_id = ?4
             WHERE tenant_id = ?1 AND kind = ?2 AND value = ?3 AND customer_id = ?5",
        )
        .bind(tenant.as_str())
        .bind(kind.as_str())
        .bind(value)
        .bind(plan.new_customer.get())
        .bind(primary.get())
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    }
    for (kind, value) in &plan.unnamed {
        sqlx::query(
            "DELETE FROM identity_identifier
             WHERE tenant_id = ?1 AND kind = ?2 AND value = ?3 AND customer_id = ?4",
        )
        .bind(tenant.as_str())
        .bind(kind.as_str())
        .bind(value)
        .bind(primary.get())
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    }
    for (a, b) in &plan.apart {
        sqlx::query(ADD_PAIR)
            .bind(tenant.as_str())
            .bind(a.get())
            .bind(b.get())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    let off = Change::SplitOff {
        into: plan.new_customer,
        moved: plan.moved.clone(),
    };
    events::record(tx, tenant, Some(primary), &off, now).await?;
    let from = Change::SplitFrom {
        from: primary,
        moved: plan.moved.clone(),
    };
    events::record(tx, tenant, Some(plan.new_customer), &from, now).await?;
    Ok(plan.answer())
}
