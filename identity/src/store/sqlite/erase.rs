//! The SQLite side of erase: planning it inside the caller's write transaction with the
//! tenant's pending changes applied already (which rows, records, identifiers, pairs and
//! history values of a customer go; its receipts in `identity_erasure`; when asked, its values
//! added to the tenant's suppressed values under the store's secret, `identity_secret`), as an
//! [`EraseJob`] that `erase_steps.rs` works off, with the erase's record
//! (`identity_erasure_record`: the erasure log, without personal data).

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erase::{ErasePlan, Erasure, of_kind, values_of};
use crate::erasure::{ErasedRow, ErasureRecord, from_receipts, stored_record};
use crate::error::Result;
use crate::identifier::IdentifierKind;
use crate::suppress::{Digest, Secret, hex};
use crate::tenant::TenantId;
use crate::verify::stored_identifiers;

use super::erase_steps::{EraseJob, failed};
use super::json;
use super::settings;
use super::split::customer_rows;

/// The receipt row of tenant `?1`'s erased row `?2`.
const RECEIPT_OF: &str = "\
SELECT customer_id, suppressed, erased_at FROM identity_erasure
WHERE tenant_id = ?1 AND contact_id = ?2";

const ROWS_ERASED: &str = "\
SELECT contact_id FROM identity_erasure WHERE tenant_id = ?1 AND customer_id = ?2
ORDER BY contact_id";

/// The values in JSON arrays `?3` (emails) and `?4` (phones) that visible rows of tenant `?1`
/// outside customer `?2` hold, with their customers.
const HELD_ELSEWHERE: &str = "\
SELECT 'email', email, coalesce(linked_id, id) FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND coalesce(linked_id, id) <> ?2
  AND email IN (SELECT value FROM json_each(?3))
UNION
SELECT 'phone', phone_number, coalesce(linked_id, id) FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND coalesce(linked_id, id) <> ?2
  AND phone_number IN (SELECT value FROM json_each(?4))";

/// The soft-deleted rows an erase of the rows `?2` deletes with them (those that link to
/// them or carry a value that goes: `?3` emails, `?4` phones), for its record.
const DELETED_ROWS: &str = "\
SELECT id, created_at FROM contact WHERE tenant_id = ?1 AND deleted_at IS NOT NULL
  AND (linked_id IN (SELECT value FROM json_each(?2))
       OR email IN (SELECT value FROM json_each(?3))
       OR phone_number IN (SELECT value FROM json_each(?4)))";

/// One receipt (reapplying an erase writes the original's).
pub(super) const ADD_RECEIPT: &str = "\
INSERT INTO identity_erasure (tenant_id, contact_id, customer_id, suppressed, erased_at)
VALUES (?1, ?2, ?3, ?4, ?5)";

/// The store's secret, made when it has none (the first insert wins).
const NEW_SECRET: &str = "\
INSERT OR IGNORE INTO identity_secret (singleton, secret, created_at) VALUES (1, ?1, ?2)";

const FORGET_RECORD: &str = "\
DELETE FROM identity_erasure_record WHERE tenant_id = ?1 AND customer_id = ?2";

const RECORDS: &str = "SELECT record FROM identity_erasure_record WHERE tenant_id = ?1";

/// The receipts of erases that have no record (made before records were kept).
const UNRECORDED: &str = "\
SELECT customer_id, contact_id, suppressed, erased_at FROM identity_erasure AS e
WHERE tenant_id = ?1 AND NOT EXISTS (
    SELECT 1 FROM identity_erasure_record AS r
    WHERE r.tenant_id = e.tenant_id AND r.customer_id = e.customer_id)
ORDER BY customer_id, contact_id";

/// The receipt of the erase that took tenant `tenant`'s row `id`, if one did.
pub(super) async fn receipt(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    id: ContactId,
) -> Result<Option<Erasure>> {
    let row: Option<(i64, bool, OffsetDateTime)> = sqlx::query_as(RECEIPT_OF)
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await
        .map_err(failed)?;
    let Some((customer, suppressed, at)) = row else {
        return Ok(None);
    };
    let ids: Vec<i64> = sqlx::query_scalar(ROWS_ERASED)
        .bind(tenant.as_str())
        .bind(customer)
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    Ok(Some(Erasure {
        customer_id: ContactId::new(customer),
        contact_ids: ids.into_iter().map(ContactId::new).collect(),
        erased_at: at,
        suppressed,
    }))
}

/// What erasing a customer takes: nothing (it was erased: its receipt), or a job.
pub(super) enum Planned {
    /// Erased before: the first receipt.
    Done(Erasure),
    /// Everything the erase writes.
    Job(Box<EraseJob>),
}

/// Plans erasing the customer of row `customer` in the caller's write transaction, stamped
/// `now` (or finds the receipt of its earlier erase).
pub(super) async fn plan(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
    suppress: bool,
    now: OffsetDateTime,
) -> Result<Planned> {
    if let Some(done) = receipt(&mut *tx, tenant, customer).await? {
        return Ok(Planned::Done(done));
    }
    let (primary, rows) = customer_rows(&mut *tx, tenant, customer).await?;
    let values = values_of(&rows);
    let (emails, phones) = (
        json(&of_kind(&values, IdentifierKind::Email)),
        json(&of_kind(&values, IdentifierKind::Phone)),
    );
    let held: Vec<(String, String, i64)> = sqlx::query_as(HELD_ELSEWHERE)
        .bind(tenant.as_str())
        .bind(primary.get())
        .bind(&emails)
        .bind(&phones)
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
    let held = stored_identifiers(held);
    let state = settings::state(&mut *tx, tenant).await?;
    let secret = match suppress {
        true => Some(secret(&mut *tx, now).await?),
        false => None,
    };
    let plan = ErasePlan::new(&rows, primary, &held, &state.blocked, secret.as_ref())?;
    let ids = json(&plan.erased.iter().map(|id| id.get()).collect::<Vec<_>>());
    let deleted: Vec<(i64, OffsetDateTime)> = sqlx::query_as(DELETED_ROWS)
        .bind(tenant.as_str())
        .bind(&ids)
        .bind(json(&plan.gone_of(IdentifierKind::Email)))
        .bind(json(&plan.gone_of(IdentifierKind::Phone)))
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
    let marked = deleted
        .into_iter()
        .map(|(id, at)| ErasedRow::new(ContactId::new(id), Some(at)));
    let record = plan.record(tenant, &plan.receipt(now), marked);
    Ok(Planned::Job(Box::new(EraseJob::new(
        &plan,
        &values,
        now,
        state.blocked.version,
        record,
    ))))
}

/// Erases the customer of row `customer` in the caller's write transaction, whole, for
/// reapplying an erasure: the receipt, and the record when it erased now (none when it was
/// erased before). The record is not kept: the caller keeps the original erase's instead.
pub(super) async fn erase(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
    suppress: bool,
) -> Result<(Erasure, Option<ErasureRecord>)> {
    match plan(
        &mut *tx,
        tenant,
        customer,
        suppress,
        OffsetDateTime::now_utc(),
    )
    .await?
    {
        Planned::Done(receipt) => Ok((receipt, None)),
        Planned::Job(mut job) => {
            job.work(&mut *tx, tenant, usize::MAX).await?;
            let record = job.record().clone();
            sqlx::query(FORGET_RECORD)
                .bind(tenant.as_str())
                .bind(record.customer_id.get())
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            Ok((job.receipt(), Some(record)))
        }
    }
}

/// Adds `digests` to the tenant's suppressed values and moves its blocked list past `version`
/// (when there are any).
pub(super) async fn add_digests(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    digests: &[(IdentifierKind, Digest)],
    version: i64,
    now: OffsetDateTime,
) -> Result<()> {
    if digests.is_empty() {
        return Ok(());
    }
    let hexed: Vec<(String, String)> = digests
        .iter()
        .map(|(kind, d)| (kind.as_str().to_owned(), hex(d)))
        .collect();
    super::erase_steps::insert_digests(&mut *tx, tenant, &hexed, now).await?;
    settings::next_version(&mut *tx, tenant, version, now).await
}

/// The tenant's erasure records, oldest first: those kept, and those of erases made before
/// records were kept, from their receipts.
pub(super) async fn records(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
) -> Result<Vec<ErasureRecord>> {
    let kept: Vec<String> = sqlx::query_scalar(RECORDS)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    let mut records = kept
        .iter()
        .map(|line| stored_record(line))
        .collect::<Result<Vec<_>>>()?;
    let receipts: Vec<(i64, i64, bool, OffsetDateTime)> = sqlx::query_as(UNRECORDED)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(failed)?;
    records.extend(from_receipts(tenant, receipts));
    records.sort_by_key(|r| (r.erased_at, r.customer_id));
    Ok(records)
}

/// The store's suppression secret, made now when it has none.
pub(super) async fn store_secret(tx: &mut SqliteConnection) -> Result<Secret> {
    secret(tx, OffsetDateTime::now_utc()).await
}

/// The store's suppression secret, made now when it has none (the first insert wins).
async fn secret(tx: &mut SqliteConnection, now: OffsetDateTime) -> Result<Secret> {
    sqlx::query(NEW_SECRET)
        .bind(&Secret::generate()?[..])
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    let key: Vec<u8> = sqlx::query_scalar("SELECT secret FROM identity_secret")
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;
    Secret::from_stored(&key)
}
