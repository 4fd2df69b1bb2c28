//! The SQLite side of erase, inside the caller's write transaction with the tenant's pending
//! changes applied already: the rows, records, identifiers, pairs and history values of a
//! customer go, its receipt (`identity_erasure`) is kept, and, when asked, its values are added
//! to the tenant's suppressed values under the store's secret (`identity_secret`).

use std::collections::BTreeSet;

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erase::{ErasePlan, Erasure, values_of};
use crate::error::{Error, Result};
use crate::suppress::Secret;
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

/// The rows `?2` and the deleted rows that link to them or carry a value that goes.
const DELETE_ROWS: &str = "\
DELETE FROM contact WHERE tenant_id = ?1
  AND (id IN (SELECT value FROM json_each(?2))
       OR (deleted_at IS NOT NULL
           AND (linked_id IN (SELECT value FROM json_each(?2))
                OR email IN (SELECT value FROM json_each(?3))
                OR phone_number IN (SELECT value FROM json_each(?4)))))";

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
    -- CROSS JOIN keeps this order: one index search per customer reached (the other way
    -- round, SQLite scanned the tenant's events once per customer: 3.7 s at 5,000 rows)
    SELECT e.contact_id FROM reached CROSS JOIN identity_event AS e
    WHERE e.tenant_id = ?1 AND e.customer_id = reached.c
      AND e.kind IN ('merged', 'split_off', 'split_from') AND e.contact_id IS NOT NULL
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

/// The receipts of the rows `?2` (a JSON array).
const ADD_RECEIPTS: &str = "\
INSERT INTO identity_erasure (tenant_id, contact_id, customer_id, suppressed, erased_at)
SELECT ?1, value, ?3, ?4, ?5 FROM json_each(?2)";

const NEW_SECRET: &str = "\
INSERT OR IGNORE INTO identity_secret (singleton, secret, created_at) VALUES (1, ?1, ?2)";

/// The digests `?2` (a JSON array of `[kind, hex digest]`).
const ADD_DIGESTS: &str = "\
INSERT OR IGNORE INTO identity_suppressed (tenant_id, kind, digest, created_at)
SELECT ?1, r.value ->> 0, unhex(r.value ->> 1), ?3 FROM json_each(?2) AS r";

fn failed(e: sqlx::Error) -> Error {
    Error::store("erasing a customer", e)
}

/// Bytes as lowercase hex (SQLite's `unhex` reads it back).
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
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

/// Erases the customer of row `customer` (or answers the receipt of its earlier erase).
pub(super) async fn erase(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
    suppress: bool,
) -> Result<Erasure> {
    if let Some(done) = receipt(&mut *tx, tenant, customer).await? {
        return Ok(done);
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
    for (statement, a, b, c) in [
        (DELETE_ROWS, &ids, &gone_emails, &gone_phones),
        (SCRUB, &ids, &gone_emails, &gone_phones),
    ] {
        sqlx::query(statement)
            .bind(tenant.as_str())
            .bind(a)
            .bind(b)
            .bind(c)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
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
    sqlx::query(ADD_RECEIPTS)
        .bind(tenant.as_str())
        .bind(&ids)
        .bind(primary.get())
        .bind(plan.suppress)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    if !plan.digests.is_empty() {
        // one statement for all (one per digest took 3.6 s for a 20,000-row customer)
        let digests: Vec<(&str, String)> = plan
            .digests
            .iter()
            .map(|(kind, digest)| (kind.as_str(), hex(digest)))
            .collect();
        sqlx::query(ADD_DIGESTS)
            .bind(tenant.as_str())
            .bind(json(&digests))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        settings::next_version(&mut *tx, tenant, state.blocked.version, now).await?;
    }
    Ok(plan.receipt(now))
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
