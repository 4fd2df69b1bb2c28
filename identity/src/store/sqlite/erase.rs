//! The SQLite side of erase: planning it inside the caller's write transaction with the
//! tenant's pending changes applied already (which rows, records, identifiers, pairs and
//! history values of a customer go; its receipts in `identity_erasure`; when asked, its values
//! added to the tenant's suppressed values under the store's secret, `identity_secret`), as an
//! [`EraseJob`] that `erase_steps.rs` works off.

use std::collections::BTreeSet;

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erase::{ErasePlan, Erasure, values_of};
use crate::error::{Error, Result};
use crate::suppress::Secret;
use crate::tenant::TenantId;
use crate::verify::IdentifierKind;

use super::erase_steps::EraseJob;
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

const NEW_SECRET: &str = "\
INSERT OR IGNORE INTO identity_secret (singleton, secret, created_at) VALUES (1, ?1, ?2)";

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

/// What erasing a customer takes: nothing (it was erased: its receipt), or a job.
pub(super) enum Planned {
    /// Erased before: the first receipt.
    Done(Erasure),
    /// Everything the erase writes.
    Job(EraseJob),
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
    let secret = match suppress {
        true => Some(secret(&mut *tx, now).await?),
        false => None,
    };
    let plan = ErasePlan::new(&rows, primary, &held, &state.blocked, secret.as_ref())?;
    Ok(Planned::Job(EraseJob::new(
        &plan,
        &values,
        now,
        state.blocked.version,
    )))
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
