//! The SQLite side of erase: receipts (`identity_erasure`), records (`identity_erasure_record`:
//! the erasure log, without personal data), digests and the store's secret (`identity_secret`).
//! An erase is planned by `operations.rs` over the steps of `steps.rs` and written by the
//! bounded steps of `erase_steps.rs` (an `EraseJob`).

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erase::Erasure;
use crate::erasure::{ErasureRecord, from_receipts, stored_record};
use crate::error::Result;
use crate::identifier::IdentifierKind;
use crate::suppress::{Digest, Secret, hex};
use crate::tenant::TenantId;

use super::erase_steps::failed;
use super::settings;

/// The receipt row of tenant `?1`'s erased row `?2`.
const RECEIPT_OF: &str = "\
SELECT customer_id, suppressed, erased_at FROM identity_erasure
WHERE tenant_id = ?1 AND contact_id = ?2";

const ROWS_ERASED: &str = "\
SELECT contact_id FROM identity_erasure WHERE tenant_id = ?1 AND customer_id = ?2
ORDER BY contact_id";

/// One receipt (reapplying an erase writes the original's).
pub(super) const ADD_RECEIPT: &str = "\
INSERT INTO identity_erasure (tenant_id, contact_id, customer_id, suppressed, erased_at)
VALUES (?1, ?2, ?3, ?4, ?5)";

/// The store's secret, made when it has none (the first insert wins).
const NEW_SECRET: &str = "\
INSERT OR IGNORE INTO identity_secret (singleton, secret, created_at) VALUES (1, ?1, ?2)";

/// The kept record of tenant `?1`'s erase of customer `?2`, forgotten.
pub(super) const FORGET_RECORD: &str = "\
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
pub(super) async fn secret(tx: &mut SqliteConnection, now: OffsetDateTime) -> Result<Secret> {
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
