//! The PostgreSQL side of erase, in the caller's transaction under the tenant's graph lock
//! taken alone (held to the end, with pending changes applied first): the steps an erase is
//! planned with (`operations.rs`) and the statements that write it: the rows, records,
//! identifiers, pairs and history values of a customer go, its receipt (`identity_erasure`) and
//! record (`identity_erasure_record`) are kept, and, when asked, its values join the tenant's
//! suppressed values (`identity_suppress`) under the store's secret (`identity_secret`).

use sqlx::PgConnection;
use time::OffsetDateTime;

use std::collections::BTreeSet;

use crate::contact::ContactId;
use crate::erase::{Erasure, PlannedErase, of_kind};
use crate::erasure::{ErasedRow, ErasureRecord, from_receipts, stored_record};
use crate::identifier::IdentifierKind;
use crate::store::Outcome;
use crate::suppress::{Digest, Secret};
use crate::tenant::TenantId;
use crate::verify::{StoredIdentifier, stored_identifiers};

use super::events;

const RECEIPT_OF: &str = "\
SELECT customer_id, suppressed, erased_at FROM identity_erasure
WHERE tenant_id = $1 AND contact_id = $2";

const ROWS_ERASED: &str = "\
SELECT contact_id FROM identity_erasure WHERE tenant_id = $1 AND customer_id = $2
ORDER BY contact_id";

/// The values among `$3` (emails) and `$4` (phones) that visible rows of tenant `$1` outside
/// customer `$2` hold.
const HELD_ELSEWHERE: &str = "\
SELECT 'email', email, coalesce(linked_id, id) FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND coalesce(linked_id, id) <> $2
  AND email = ANY($3)
UNION
SELECT 'phone', phone_number, coalesce(linked_id, id) FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND coalesce(linked_id, id) <> $2
  AND phone_number = ANY($4)";

// Lists compare through hashed subplans (`IN (SELECT unnest(...))`): `= ANY(array)` in a filter
// compares each row with every element, which made an erase quadratic in the customer's size.

/// The rows `$2` (by the primary key).
const DELETE_ROWS: &str = "DELETE FROM contact WHERE tenant_id = $1 AND id = ANY($2)";

/// The deleted rows that link to the rows `$2` or carry a value that goes (`$3` emails, `$4`
/// phones); few, found through `contact_deleted_idx`.
const DELETED_ROWS: &str = "\
SELECT id, created_at FROM contact WHERE tenant_id = $1 AND deleted_at IS NOT NULL
  AND (linked_id IN (SELECT unnest($2::bigint[])) OR email IN (SELECT unnest($3::text[]))
       OR phone_number IN (SELECT unnest($4::text[])))";

/// The rows [`DELETED_ROWS`] finds, deleted.
const DELETE_DELETED_ROWS: &str = "\
DELETE FROM contact WHERE tenant_id = $1 AND deleted_at IS NOT NULL
  AND (linked_id IN (SELECT unnest($2::bigint[])) OR email IN (SELECT unnest($3::text[]))
       OR phone_number IN (SELECT unnest($4::text[])))";

/// The identifiers of the values `$3` (emails) and `$4` (phones) that name customer `$2`.
const DELETE_IDENTIFIERS: &str = "\
DELETE FROM identity_identifier AS i
USING (SELECT 'email' AS kind, unnest($3::text[]) AS value
       UNION ALL SELECT 'phone', unnest($4::text[])) AS v
WHERE i.tenant_id = $1 AND i.customer_id = $2 AND i.kind = v.kind AND i.value = v.value";

/// Identifiers for the values only one other customer holds now.
const NAME: &str = "\
INSERT INTO identity_identifier (tenant_id, kind, value, customer_id)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])
ON CONFLICT (tenant_id, kind, value) DO UPDATE SET customer_id = excluded.customer_id";

const DELETE_PAIRS: &str = "\
DELETE FROM identity_kept_apart WHERE tenant_id = $1
  AND (a_id IN (SELECT unnest($2::bigint[])) OR b_id IN (SELECT unnest($2::bigint[])))";

/// Scrubs the history of the customers reached from the erased rows `$2` by merges and splits
/// ([`crate::erase::lineage`]): every value of an event of an erased customer or row, and the
/// values that go (`$3` emails, `$4` phones) elsewhere.
const SCRUB: &str = "\
WITH RECURSIVE reached(c) AS (
    SELECT unnest($2::bigint[])
    UNION
    SELECT e.contact_id FROM identity_event AS e JOIN reached ON e.customer_id = reached.c
    WHERE e.tenant_id = $1 AND e.kind IN ('merged', 'split_off', 'split_from')
      AND e.contact_id IS NOT NULL
), scrubbed AS (
    SELECT e.id, (e.customer_id IN (SELECT unnest($2::bigint[]))
                  OR (e.kind IN ('created', 'existing')
                      AND e.contact_id IN (SELECT unnest($2::bigint[])))) AS whole
    FROM identity_event AS e
    WHERE e.tenant_id = $1 AND e.customer_id IN (SELECT c FROM reached)
      AND (e.email IS NOT NULL OR e.phone IS NOT NULL)
)
UPDATE identity_event AS e SET
    email = CASE WHEN s.whole OR e.email IN (SELECT unnest($3::text[])) THEN NULL ELSE e.email END,
    phone = CASE WHEN s.whole OR e.phone IN (SELECT unnest($4::text[])) THEN NULL ELSE e.phone END
FROM scrubbed AS s WHERE e.tenant_id = $1 AND e.id = s.id";

const ADD_RECEIPTS: &str = "\
INSERT INTO identity_erasure (tenant_id, contact_id, customer_id, suppressed, erased_at)
SELECT $1, id, $3, $4, $5 FROM unnest($2::bigint[]) AS id";

const NEW_SECRET: &str = "\
INSERT INTO identity_secret (secret) VALUES ($1) ON CONFLICT DO NOTHING";

const ADD_RECORD: &str = "\
INSERT INTO identity_erasure_record (tenant_id, customer_id, erased_at, record)
VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

const RECORDS: &str = "SELECT record FROM identity_erasure_record WHERE tenant_id = $1";

/// The receipts of erases that have no record (made before records were kept).
const UNRECORDED: &str = "\
SELECT customer_id, contact_id, suppressed, erased_at FROM identity_erasure AS e
WHERE tenant_id = $1 AND NOT EXISTS (
    SELECT 1 FROM identity_erasure_record AS r
    WHERE r.tenant_id = e.tenant_id AND r.customer_id = e.customer_id)
ORDER BY customer_id, contact_id";

/// The receipt of the erase that took tenant `tenant`'s row `id`, if one did.
pub(crate) async fn receipt(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: ContactId,
) -> Outcome<Option<Erasure>> {
    let row: Option<(i64, bool, OffsetDateTime)> = sqlx::query_as(RECEIPT_OF)
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await?;
    let Some((customer, suppressed, at)) = row else {
        return Ok(None);
    };
    let ids: Vec<i64> = sqlx::query_scalar(ROWS_ERASED)
        .bind(tenant.as_str())
        .bind(customer)
        .fetch_all(&mut *conn)
        .await?;
    Ok(Some(Erasure {
        customer_id: ContactId::new(customer),
        contact_ids: ids.into_iter().map(ContactId::new).collect(),
        erased_at: at,
        suppressed,
    }))
}

/// The values among `values` that visible rows of tenant `tenant` outside customer `primary`
/// hold, with their customers.
pub(crate) async fn held_elsewhere(
    tx: &mut PgConnection,
    tenant: &TenantId,
    primary: ContactId,
    values: &BTreeSet<(IdentifierKind, String)>,
) -> Outcome<Vec<StoredIdentifier>> {
    let held: Vec<(String, String, i64)> = sqlx::query_as(HELD_ELSEWHERE)
        .bind(tenant.as_str())
        .bind(primary.get())
        .bind(of_kind(values, IdentifierKind::Email))
        .bind(of_kind(values, IdentifierKind::Phone))
        .fetch_all(&mut *tx)
        .await?;
    Ok(stored_identifiers(held))
}

/// The soft-deleted rows of tenant `tenant` an erase of the rows `erased` removes with them.
pub(crate) async fn deleted_rows(
    tx: &mut PgConnection,
    tenant: &TenantId,
    erased: &[ContactId],
    gone: &[(IdentifierKind, String)],
) -> Outcome<Vec<ErasedRow>> {
    let ids: Vec<i64> = erased.iter().map(|id| id.get()).collect();
    let deleted: Vec<(i64, OffsetDateTime)> = sqlx::query_as(DELETED_ROWS)
        .bind(tenant.as_str())
        .bind(&ids)
        .bind(of_kind(gone, IdentifierKind::Email))
        .bind(of_kind(gone, IdentifierKind::Phone))
        .fetch_all(&mut *tx)
        .await?;
    Ok(deleted
        .into_iter()
        .map(|(id, at)| ErasedRow::new(ContactId::new(id), Some(at)))
        .collect())
}

/// Writes the planned erase `erase` in the caller's transaction (see
/// [`crate::store::steps::Steps::apply_erase`]); the caller keeps its record.
pub(crate) async fn apply(
    tx: &mut PgConnection,
    tenant: &TenantId,
    erase: &PlannedErase,
) -> Outcome<()> {
    let plan = &erase.plan;
    let primary = plan.customer;
    let ids: Vec<i64> = plan.erased.iter().map(|id| id.get()).collect();
    let (emails, phones) = (
        of_kind(&erase.values, IdentifierKind::Email),
        of_kind(&erase.values, IdentifierKind::Phone),
    );
    let (gone_emails, gone_phones) = (
        plan.gone_of(IdentifierKind::Email),
        plan.gone_of(IdentifierKind::Phone),
    );
    // the deleted rows first: they may link to the rows (and the record names them)
    for (statement, lists) in [
        (DELETE_DELETED_ROWS, true),
        (SCRUB, true),
        (DELETE_ROWS, false),
    ] {
        let query = sqlx::query(statement).bind(tenant.as_str()).bind(&ids);
        let query = match lists {
            true => query.bind(&gone_emails).bind(&gone_phones),
            false => query,
        };
        query.execute(&mut *tx).await?;
    }
    sqlx::query(DELETE_IDENTIFIERS)
        .bind(tenant.as_str())
        .bind(primary.get())
        .bind(&emails)
        .bind(&phones)
        .execute(&mut *tx)
        .await?;
    let named = &plan.named;
    sqlx::query(NAME)
        .bind(tenant.as_str())
        .bind(named.iter().map(|(k, ..)| k.as_str()).collect::<Vec<_>>())
        .bind(named.iter().map(|(_, v, _)| v.as_str()).collect::<Vec<_>>())
        .bind(named.iter().map(|(.., c)| c.get()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM identity_customer WHERE tenant_id = $1 AND primary_id = $2")
        .bind(tenant.as_str())
        .bind(primary.get())
        .execute(&mut *tx)
        .await?;
    sqlx::query(DELETE_PAIRS)
        .bind(tenant.as_str())
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    events::record(&mut *tx, tenant, Some(primary), &plan.event()).await?;
    sqlx::query(ADD_RECEIPTS)
        .bind(tenant.as_str())
        .bind(&ids)
        .bind(primary.get())
        .bind(plan.suppress)
        .bind(erase.at)
        .execute(&mut *tx)
        .await?;
    add_digests(&mut *tx, tenant, &plan.digests).await
}

/// Adds `digests` to the tenant's suppressed values and moves its blocked list to the next
/// version (when there are any).
pub(crate) async fn add_digests(
    tx: &mut PgConnection,
    tenant: &TenantId,
    digests: &[(IdentifierKind, Digest)],
) -> Outcome<()> {
    if digests.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = digests.iter().map(|(k, _)| k.as_str()).collect();
    let bytes: Vec<&[u8]> = digests.iter().map(|(_, d)| &d[..]).collect();
    sqlx::query("SELECT identity_suppress($1, $2, $3)")
        .bind(tenant.as_str())
        .bind(kinds)
        .bind(bytes)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Keeps `record` in the database, beside its receipts.
pub(crate) async fn keep_record(tx: &mut PgConnection, record: &ErasureRecord) -> Outcome<()> {
    sqlx::query(ADD_RECORD)
        .bind(record.tenant_id.as_str())
        .bind(record.customer_id.get())
        .bind(record.erased_at)
        .bind(record.to_line())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The tenant's erasure records, oldest first: those kept, and those of erases made before
/// records were kept, from their receipts.
pub(crate) async fn records(
    conn: &mut PgConnection,
    tenant: &TenantId,
) -> Outcome<Vec<ErasureRecord>> {
    let kept: Vec<String> = sqlx::query_scalar(RECORDS)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let mut records = kept
        .iter()
        .map(|line| stored_record(line))
        .collect::<crate::error::Result<Vec<_>>>()?;
    let receipts: Vec<(i64, i64, bool, OffsetDateTime)> = sqlx::query_as(UNRECORDED)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await?;
    records.extend(from_receipts(tenant, receipts));
    records.sort_by_key(|r| (r.erased_at, r.customer_id));
    Ok(records)
}

/// The store's suppression secret, made now when it has none.
pub(crate) async fn store_secret(conn: &mut PgConnection) -> Outcome<Secret> {
    secret(conn).await
}

/// The store's suppression secret, made now when it has none (the first insert wins).
pub(crate) async fn secret(tx: &mut PgConnection) -> Outcome<Secret> {
    sqlx::query(NEW_SECRET)
        .bind(&Secret::generate()?[..])
        .execute(&mut *tx)
        .await?;
    let key: Vec<u8> = sqlx::query_scalar("SELECT secret FROM identity_secret")
        .fetch_one(&mut *tx)
        .await?;
    Ok(Secret::from_stored(&key)?)
}
