//! The SQLite side of history: appending events (`identity_event`) in the caller's write
//! transaction, and reading a customer's.

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::error::{Error, Result};
use crate::history::stored::StoredEvent;
use crate::history::{Change, History, Walk};
use crate::tenant::TenantId;

use super::json;

const INSERT: &str = "\
INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, contact_ids, email, phone,
    pattern, via, at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// The events of tenant `?1`'s customers in the JSON array `?2`.
const OF_CUSTOMERS: &str = "\
SELECT id AS seq, customer_id AS customer, kind, contact_id AS contact, contact_ids AS contacts,
       email, phone, pattern, via, at
FROM identity_event
WHERE tenant_id = ?1 AND customer_id IN (SELECT value FROM json_each(?2)) ORDER BY id";

/// The events of tenant `?1` itself.
const OF_TENANT: &str = "\
SELECT id AS seq, customer_id AS customer, kind, contact_id AS contact, contact_ids AS contacts,
       email, phone, pattern, via, at
FROM identity_event WHERE tenant_id = ?1 AND customer_id IS NULL ORDER BY id";

/// Appends `change` of `customer` (`None`: of the tenant itself) at `at`.
pub(super) async fn record(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: Option<ContactId>,
    change: &Change,
    at: OffsetDateTime,
) -> Result<()> {
    let e = StoredEvent::of(customer, change, at);
    sqlx::query(INSERT)
        .bind(tenant.as_str())
        .bind(e.customer)
        .bind(&e.kind)
        .bind(e.contact)
        .bind(&e.contacts)
        .bind(&e.email)
        .bind(&e.phone)
        .bind(&e.pattern)
        .bind(&e.via)
        .bind(e.at)
        .execute(&mut *tx)
        .await
        .map(drop)
        .map_err(|e| Error::store("recording history", e))
}

/// The history of the customer that visible row `id` belongs to (or belonged to, when an erase
/// took it), read on `conn` (a snapshot).
pub(super) async fn history(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    id: ContactId,
) -> Result<History> {
    let fail = |e| Error::store("reading history", e);
    let customer: Option<i64> = sqlx::query_scalar(
        "SELECT coalesce(linked_id, id) FROM contact
         WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(id.get())
    .fetch_optional(&mut *conn)
    .await
    .map_err(fail)?;
    let customer = match customer {
        Some(c) => Some(c),
        None => sqlx::query_scalar(
            "SELECT customer_id FROM identity_erasure WHERE tenant_id = ?1 AND contact_id = ?2",
        )
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await
        .map_err(fail)?,
    };
    let customer = customer.map(ContactId::new).ok_or(id.not_found())?;
    let mut walk = Walk::new(id, customer);
    while let Some(batch) = walk.next() {
        let rows: Vec<StoredEvent> = sqlx::query_as(OF_CUSTOMERS)
            .bind(tenant.as_str())
            .bind(json(&batch))
            .fetch_all(&mut *conn)
            .await
            .map_err(fail)?;
        walk.absorb(&batch, StoredEvent::decode_all(rows)?);
    }
    let own: Vec<StoredEvent> = sqlx::query_as(OF_TENANT)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(fail)?;
    Ok(walk.finish(StoredEvent::decode_all(own)?))
}
