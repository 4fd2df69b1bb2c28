//! The SQLite side of split: the kept-apart pairs (`identity_kept_apart`) every merge checks,
//! the split itself inside the caller's write transaction, and the values several customers
//! hold, which an unblock must not free.

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{Contact, ContactId};
use crate::error::{Error, Result};
use crate::history::Change;
use crate::identifier::IdentifierKind;
use crate::split::{Split, SplitPlan};
use crate::store::{ContactRow, decode_rows};
use crate::tenant::TenantId;

use super::records::{self, NewValues};
use super::{events, settings};

/// Whether a pair of tenant `?1` has a row in customer `?2` and one in customer `?3`.
const KEPT_APART: &str = "\
SELECT EXISTS (
    SELECT 1 FROM identity_kept_apart AS k
    JOIN contact AS a ON a.id = k.a_id JOIN contact AS b ON b.id = k.b_id
    WHERE k.tenant_id = ?1
      AND ((coalesce(a.linked_id, a.id) = ?2 AND coalesce(b.linked_id, b.id) = ?3)
        OR (coalesce(a.linked_id, a.id) = ?3 AND coalesce(b.linked_id, b.id) = ?2)))";

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

/// The values of tenant `?1` (equal to `?2`, when given) held by more than one customer.
const HELD_BY_SEVERAL: &str = "\
SELECT 'email', email FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND email IS NOT NULL AND (?2 IS NULL OR email = ?2)
GROUP BY email HAVING count(DISTINCT coalesce(linked_id, id)) > 1
UNION ALL
SELECT 'phone', phone_number FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND phone_number IS NOT NULL
  AND (?2 IS NULL OR phone_number = ?2)
GROUP BY phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1";

fn failed(e: sqlx::Error) -> Error {
    Error::store("splitting a customer", e)
}

/// Whether customers `x` and `y` of `tenant` are kept apart by a split.
pub(super) async fn kept_apart(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    x: ContactId,
    y: ContactId,
) -> Result<bool> {
    sqlx::query_scalar(KEPT_APART)
        .bind(tenant.as_str())
        .bind(x.get())
        .bind(y.get())
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Error::store("reading customers", e))
}

/// The values of `tenant` held by more than one customer that `entry` may block: the one value
/// of an exact entry, every value for a pattern (a scan of the tenant's rows).
pub(super) async fn held_by_several(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    entry: &BlockedValue,
) -> Result<Vec<(IdentifierKind, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(HELD_BY_SEVERAL)
        .bind(tenant.as_str())
        .bind(entry.value())
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::store("changing the blocked list", e))?;
    Ok(rows
        .into_iter()
        .map(|(kind, value)| (IdentifierKind::stored(&kind), value))
        .collect())
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
    let primary = ContactId::new(primary.ok_or(Error::NotFound {
        entity: "contact",
        id: customer.get(),
    })?);
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
    let ids: Vec<i64> = rows.iter().map(|c| c.id.get()).collect();
    let pairs: Vec<(i64, i64)> = sqlx::query_as(PAIRS_OF)
        .bind(tenant.as_str())
        .bind(serde_json::to_string(&ids).unwrap_or_default())
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
