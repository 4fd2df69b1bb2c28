//! The SQLite side of erase, inside the caller's write transaction with the tenant's pending
//! changes applied already: the rows, records, identifiers, pairs and history values of a
//! customer go, its receipt (`identity_erasure`) and record (`identity_erasure_record`) are
//! kept, and, when asked, its values are added to the tenant's suppressed values under the
//! store's secret (`identity_secret`).

use std::collections::BTreeSet;

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erase::{ErasePlan, Erasure, values_of};
use crate::erasure_log::{ErasedRow, ErasureRecord, from_receipts, stored_record};
use crate::error::{Error, Result};
use crate::suppress::{Digest, Secret};
use crate::tenant::TenantId;
use crate::verify::IdentifierKind;

use super::split::customer_rows;
use super::{events, settings};

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

/// The rows `?2` and the deleted rows that link to them or carry a value that goes; answers
/// the deleted ones, for the record.
const DELETE_ROWS: &str = "\
DELETE FROM contact WHERE tenant_id = ?1
  AND (id IN (SELECT value FROM json_each(?2))
       OR (deleted_at IS NOT NULL
           AND (linked_id IN (SELECT value FROM json_each(?2))
                OR email IN (SELECT value FROM json_each(?3))
                OR phone_number IN (SELECT value FROM json_each(?4)))))
RETURNING id, created_at, deleted_at IS NOT NULL";

const DELETE_IDENTIFIERS: &str = "\
DELETE FROM identity_identifier WHERE tenant_id = ?1 AND customer_id = ?2
  AND ((kind = 'email' AND value IN (SELECT value FROM json_each(?3)))
       OR (kind = 'phone' AND value IN (SELECT value FROM json_each(?4))))";

/// An identifier for a value only one other customer holds now.
const NAME: &str = "\
INSERT INTO identity_identifier (tenant_id, kind, value, customer_id) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (tenant_id, kind, value) DO UPDATE SET customer_id = excluded.customer_id";

const DELETE_PAIRS: &str = "\
DELETE FROM identity_kept_apart WHERE tenant_id = ?1
  AND (a_id IN (SELECT value FROM json_each(?2)) OR b_id IN (SELECT value FROM json_each(?2)))";

/// Scrubs the history of the customers reached from the erased rows `?2` by merges and splits
/// ([`crate::erase::lineage`]): every value of an event of an erased customer or row, and the
/// values that go (`?3` emails, `?4` phones) elsewhere.
const SCRUB: &str = "\
WITH RECURSIVE reached(c) AS (
    SELECT value FROM json_each(?2)
    UNION
    SELECT e.contact_id FROM identity_event AS e JOIN reached ON e.customer_id = reached.c
    WHERE e.tenant_id = ?1 AND e.kind IN ('merged', 'split_off', 'split_from')
      AND e.contact_id IS NOT NULL
)
UPDATE identity_event SET
    email = CASE WHEN whole OR email IN (SELECT value FROM json_each(?3)) THEN NULL ELSE email END,
    phone = CASE WHEN whole OR phone IN (SELECT value FROM json_each(?4)) THEN NULL ELSE phone END
FROM (SELECT e.id AS event_id,
             (e.customer_id IN (SELECT value FROM json_each(?2))
              OR (e.kind IN ('created', 'existing')
                  AND e.contact_id IN (SELECT value FROM json_each(?2)))) AS whole
      FROM identity_event AS e
      WHERE e.tenant_id = ?1 AND e.customer_id IN (SELECT c FROM reached)
        AND (e.email IS NOT NULL OR e.phone IS NOT NULL)) AS s
WHERE identity_event.id = s.event_id";

pub(super) const ADD_RECEIPT: &str = "\
INSERT INTO identity_erasure (tenant_id, contact_id, customer_id, suppressed, erased_at)
VALUES (?1, ?2, ?3, ?4, ?5)";

/// The store's secret, made when it has none (the first insert wins).
const NEW_SECRET: &str = "\
INSERT OR IGNORE INTO identity_secret (singleton, secret, created_at) VALUES (1, ?1, ?2)";

const ADD_RECORD: &str = "\
INSERT OR IGNORE INTO identity_erasure_record (tenant_id, customer_id, erased_at, record)
VALUES (?1, ?2, ?3, ?4)";

const RECORDS: &str = "SELECT record FROM identity_erasure_record WHERE tenant_id = ?1";

/// The receipts of erases that have no record (made before records were kept).
const UNRECORDED: &str = "\
SELECT customer_id, contact_id, suppressed, erased_at FROM identity_erasure AS e
WHERE tenant_id = ?1 AND NOT EXISTS (
    SELECT 1 FROM identity_erasure_record AS r
    WHERE r.tenant_id = e.tenant_id AND r.customer_id = e.customer_id)
ORDER BY customer_id, contact_id";

const ADD_DIGEST: &str = "\
INSERT OR IGNORE INTO identity_suppressed (tenant_id, kind, digest, created_at)
VALUES (?1, ?2, ?3, ?4)";

fn failed(e: sqlx::Error) -> Error {
    Error::store("erasing a customer", e)
}

fn json<T: serde::Serialize>(values: &T) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

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

/// Erases the customer of row `customer` and answers its receipt and record (or answers the
/// receipt of its earlier erase, without a record). The caller keeps the record.
pub(super) async fn erase(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
    suppress: bool,
) -> Result<(Erasure, Option<ErasureRecord>)> {
    if let Some(done) = receipt(&mut *tx, tenant, customer).await? {
        return Ok((done, None));
    }
    let (primary, rows) = customer_rows(&mut *tx, tenant, customer).await?;
    let values = values_of(&rows);
    let of_kind = |kind, values: &BTreeSet<(IdentifierKind, String)>| {
        let list: Vec<&str> = values
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| v.as_str())
            .collect();
        json(&list)
    };
    let (emails, phones) = (
        of_kind(IdentifierKind::Email, &values),
        of_kind(IdentifierKind::Phone, &values),
    );
    let held: Vec<(String, String, i64)> = sqlx::query_as(HELD_ELSEWHERE)
        .bind(tenant.as_str())
        .bind(primary.get())
        .bind(&emails)
        .bind(&phones)
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
    let held: Vec<(IdentifierKind, String, ContactId)> = held
        .into_iter()
        .map(|(kind, value, c)| (IdentifierKind::stored(&kind), value, ContactId::new(c)))
        .collect();
    let state = settings::state(&mut *tx, tenant).await?;
    let now = OffsetDateTime::now_utc();
    let secret = match suppress {
        true => Some(secret(&mut *tx, now).await?),
        false => None,
    };
    let plan = ErasePlan::new(&rows, primary, &held, &state.blocked, secret.as_ref())?;
    let ids = json(&plan.erased.iter().map(|id| id.get()).collect::<Vec<_>>());
    let gone_emails = json(&plan.gone_of(IdentifierKind::Email));
    let gone_phones = json(&plan.gone_of(IdentifierKind::Phone));
    let deleted: Vec<(i64, OffsetDateTime, bool)> = sqlx::query_as(DELETE_ROWS)
        .bind(tenant.as_str())
        .bind(&ids)
        .bind(&gone_emails)
        .bind(&gone_phones)
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
    sqlx::query(SCRUB)
        .bind(tenant.as_str())
        .bind(&ids)
        .bind(&gone_emails)
        .bind(&gone_phones)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    sqlx::query(DELETE_IDENTIFIERS)
        .bind(tenant.as_str())
        .bind(primary.get())
        .bind(&emails)
        .bind(&phones)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    for (kind, value, owner) in &plan.named {
        sqlx::query(NAME)
            .bind(tenant.as_str())
            .bind(kind.as_str())
            .bind(value)
            .bind(owner.get())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    sqlx::query("DELETE FROM identity_customer WHERE tenant_id = ?1 AND primary_id = ?2")
        .bind(tenant.as_str())
        .bind(primary.get())
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    sqlx::query(DELETE_PAIRS)
        .bind(tenant.as_str())
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    events::record(tx, tenant, Some(primary), &plan.event(), now).await?;
    for id in &plan.erased {
        sqlx::query(ADD_RECEIPT)
            .bind(tenant.as_str())
            .bind(id.get())
            .bind(primary.get())
            .bind(plan.suppress)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    add_digests(&mut *tx, tenant, &plan.digests, state.blocked.version, now).await?;
    let receipt = plan.receipt(now);
    let marked = deleted
        .into_iter()
        .filter(|(_, _, marked)| *marked)
        .map(|(id, at, _)| ErasedRow::new(ContactId::new(id), Some(at)));
    let record = plan.record(tenant, &receipt, marked);
    Ok((receipt, Some(record)))
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
    for (kind, digest) in digests {
        sqlx::query(ADD_DIGEST)
            .bind(tenant.as_str())
            .bind(kind.as_str())
            .bind(&digest[..])
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    settings::next_version(&mut *tx, tenant, version, now).await
}

/// Keeps `record` in the database, beside its receipts.
pub(super) async fn keep_record(tx: &mut SqliteConnection, record: &ErasureRecord) -> Result<()> {
    sqlx::query(ADD_RECORD)
        .bind(record.tenant_id.as_str())
        .bind(record.customer_id.get())
        .bind(record.erased_at)
        .bind(record.to_line())
        .execute(&mut *tx)
        .await
        .map(drop)
        .map_err(failed)
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
