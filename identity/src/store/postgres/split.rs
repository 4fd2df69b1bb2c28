//! The PostgreSQL side of split: the split itself in the caller's transaction under the
//! tenant's graph lock taken alone, the kept-apart check of a lookup (the merge function checks
//! its own: `identity_merge` in `migrations/postgres/*_baseline.sql`), and the values several
//! customers hold, which an unblock must not free.

use sqlx::PgConnection;

use crate::blocked::BlockedValue;
use crate::contact::{Contact, ContactId};
use crate::history::Change;
use crate::identifier::IdentifierKind;
use crate::split::{Split, SplitPlan, check_unblock};
use crate::store::{ContactRow, decode_rows};
use crate::tenant::TenantId;

use super::graph::{self, LOCK_GRAPH};
use super::outcome::Outcome;
use super::{events, settings};

const CUSTOMER_OF: &str = "\
SELECT coalesce(linked_id, id) FROM contact
WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL";

const ROWS_OF: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND (id = $2 OR linked_id = $2)";

const PAIRS_OF: &str = "\
SELECT a_id, b_id FROM identity_kept_apart
WHERE tenant_id = $1 AND (a_id = ANY($2) OR b_id = ANY($2))";

const ADD_PAIRS: &str = "\
INSERT INTO identity_kept_apart (tenant_id, a_id, b_id)
SELECT $1, * FROM unnest($2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING";

/// The values of tenant `$1` (equal to `$2`, when given) held by more than one customer.
const HELD_EXACT: &str = "\
SELECT 'email', email FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND email = $2
GROUP BY email HAVING count(DISTINCT coalesce(linked_id, id)) > 1
UNION ALL
SELECT 'phone', phone_number FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND phone_number = $2
GROUP BY phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1";

const HELD_ANY: &str = "\
SELECT 'email', email FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND email IS NOT NULL
GROUP BY email HAVING count(DISTINCT coalesce(linked_id, id)) > 1
UNION ALL
SELECT 'phone', phone_number FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND phone_number IS NOT NULL
GROUP BY phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1";

/// Whether customers `x` and `y` of `tenant` are kept apart by a split.
pub(crate) async fn kept_apart(
    conn: &mut PgConnection,
    tenant: &TenantId,
    x: ContactId,
    y: ContactId,
) -> Outcome<bool> {
    Ok(sqlx::query_scalar("SELECT identity_kept_apart($1, $2, $3)")
        .bind(tenant.as_str())
        .bind(x.get())
        .bind(y.get())
        .fetch_one(&mut *conn)
        .await?)
}

/// Takes the tenant's graph lock alone and refuses to remove `entry` when a value it blocks
/// is held by several customers that the list without it would not block: an exact entry
/// reads its one value (by index), a pattern every value of the tenant.
pub(crate) async fn check_unblock_locked(
    tx: &mut PgConnection,
    tenant: &TenantId,
    entry: &BlockedValue,
) -> Outcome<()> {
    sqlx::query(LOCK_GRAPH)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    let current = settings::state(&mut *tx, tenant).await?.blocked;
    let Some(entries) = current.changed(entry, false) else {
        return Ok(());
    };
    let after = current.successor(entries)?;
    let query = match entry.value() {
        Some(value) => sqlx::query_as(HELD_EXACT).bind(tenant.as_str()).bind(value),
        None => sqlx::query_as(HELD_ANY).bind(tenant.as_str()),
    };
    let held: Vec<(String, String)> = query.fetch_all(&mut *tx).await?;
    let held: Vec<(IdentifierKind, String)> = held
        .into_iter()
        .map(|(kind, value)| (IdentifierKind::stored(&kind), value))
        .collect();
    check_unblock(&held, entry, &after)?;
    Ok(())
}

/// The customer (primary) that tenant `tenant`'s visible row `customer` belongs to, and its
/// visible rows.
///
/// # Errors
/// [`Error::NotFound`] when the tenant has no such visible row.
pub(crate) async fn customer_rows(
    tx: &mut PgConnection,
    tenant: &TenantId,
    customer: ContactId,
) -> Outcome<(ContactId, Vec<Contact>)> {
    let primary: Option<i64> = sqlx::query_scalar(CUSTOMER_OF)
        .bind(tenant.as_str())
        .bind(customer.get())
        .fetch_optional(&mut *tx)
        .await?;
    let primary = ContactId::new(primary.ok_or(customer.not_found())?);
    let rows: Vec<ContactRow> = sqlx::query_as(ROWS_OF)
        .bind(tenant.as_str())
        .bind(primary.get())
        .fetch_all(&mut *tx)
        .await?;
    Ok((primary, decode_rows(rows)?))
}

/// Splits `asked` off the customer of row `customer` in the caller's transaction: applies the
/// tenant's pending changes under its graph lock taken alone (held to the end), then writes.
pub(crate) async fn split(
    tx: &mut PgConnection,
    tenant: &TenantId,
    customer: ContactId,
    asked: &[ContactId],
    block_shared: bool,
) -> Outcome<Split> {
    sqlx::query(LOCK_GRAPH)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    graph::repair(&mut *tx, tenant).await?;
    let (primary, rows) = customer_rows(&mut *tx, tenant, customer).await?;
    let ids: Vec<i64> = rows.iter().map(|c| c.id.get()).collect();
    let pairs: Vec<(i64, i64)> = sqlx::query_as(PAIRS_OF)
        .bind(tenant.as_str())
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
    let pairs: Vec<(ContactId, ContactId)> = pairs
        .into_iter()
        .map(|(a, b)| (ContactId::new(a), ContactId::new(b)))
        .collect();
    let blocked = settings::state(&mut *tx, tenant).await?.blocked;
    let plan = SplitPlan::new(&rows, primary, asked, block_shared, &blocked, &pairs)?;
    for entry in &plan.block {
        settings::change_blocked(&mut *tx, tenant, entry, true).await?;
    }
    graph::relink_rows(&mut *tx, tenant, &plan.derived.relinks).await?;
    sqlx::query("DELETE FROM identity_customer WHERE tenant_id = $1 AND primary_id = $2")
        .bind(tenant.as_str())
        .bind(primary.get())
        .execute(&mut *tx)
        .await?;
    graph::insert_records(&mut *tx, tenant, &plan.derived.customers).await?;
    let (kinds, values) = columns(&plan.renamed);
    sqlx::query(
        "UPDATE identity_identifier AS i SET customer_id = $4
         FROM unnest($2::text[], $3::text[]) AS v(kind, value)
         WHERE i.tenant_id = $1 AND i.kind = v.kind AND i.value = v.value
           AND i.customer_id = $5",
    )
    .bind(tenant.as_str())
    .bind(kinds)
    .bind(values)
    .bind(plan.new_customer.get())
    .bind(primary.get())
    .execute(&mut *tx)
    .await?;
    let (kinds, values) = columns(&plan.unnamed);
    sqlx::query(
        "DELETE FROM identity_identifier AS i
         USING unnest($2::text[], $3::text[]) AS v(kind, value)
         WHERE i.tenant_id = $1 AND i.kind = v.kind AND i.value = v.value
           AND i.customer_id = $4",
    )
    .bind(tenant.as_str())
    .bind(kinds)
    .bind(values)
    .bind(primary.get())
    .execute(&mut *tx)
    .await?;
    sqlx::query(ADD_PAIRS)
        .bind(tenant.as_str())
        .bind(plan.apart.iter().map(|(a, _)| a.get()).collect::<Vec<_>>())
        .bind(plan.apart.iter().map(|(_, b)| b.get()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    let off = Change::SplitOff {
        into: plan.new_customer,
        moved: plan.moved.clone(),
    };
    events::record(&mut *tx, tenant, Some(primary), &off).await?;
    let from = Change::SplitFrom {
        from: primary,
        moved: plan.moved.clone(),
    };
    events::record(&mut *tx, tenant, Some(plan.new_customer), &from).await?;
    Ok(plan.answer())
}

fn columns(values: &[(IdentifierKind, String)]) -> (Vec<&str>, Vec<&str>) {
    values
        .iter()
        .map(|(kind, value)| (kind.as_str(), value.as_str()))
        .unzip()
}
