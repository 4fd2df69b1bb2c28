//! The PostgreSQL side of history: reading a customer's events (`identity_event`). The write
//! functions of `migrations/postgres/*_baseline.sql` append them.

use sqlx::PgConnection;

use crate::contact::ContactId;
use crate::history::stored::StoredEvent;
use crate::history::{Change, History, Walk};
use crate::tenant::TenantId;

use super::outcome::Outcome;

const CURRENT: &str = "\
SELECT coalesce(linked_id, id) FROM contact
WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL";

const OF_CUSTOMERS: &str = "\
SELECT id AS seq, customer_id AS customer, kind, contact_id AS contact,
       array_to_string(contact_ids, ',') AS contacts, email, phone, pattern, via, at
FROM identity_event WHERE tenant_id = $1 AND customer_id = ANY($2) ORDER BY id";

const OF_TENANT: &str = "\
SELECT id AS seq, customer_id AS customer, kind, contact_id AS contact,
       array_to_string(contact_ids, ',') AS contacts, email, phone, pattern, via, at
FROM identity_event WHERE tenant_id = $1 AND customer_id IS NULL ORDER BY id";

const INSERT: &str = "\
INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, contact_ids, email, phone,
    pattern, via)
VALUES ($1, $2, $3, $4, string_to_array($5, ',')::bigint[], $6, $7, $8, $9)";

/// Appends `change` of `customer` in the caller's transaction (the write functions record
/// identify's events themselves; this is for the changes made from Rust, such as a split).
pub(crate) async fn record(
    tx: &mut PgConnection,
    tenant: &TenantId,
    customer: Option<ContactId>,
    change: &Change,
) -> Outcome<()> {
    let e = StoredEvent::of(customer, change, time::OffsetDateTime::now_utc());
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
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The history of the customer that visible row `id` belongs to (or belonged to, when an erase
/// took it), read on `conn` (a snapshot).
pub(crate) async fn history(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: ContactId,
) -> Outcome<History> {
    let customer: Option<i64> = sqlx::query_scalar(CURRENT)
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await?;
    let customer =
        match customer {
            Some(c) => Some(c),
            None => sqlx::query_scalar(
                "SELECT customer_id FROM identity_erasure WHERE tenant_id = $1 AND contact_id = $2",
            )
            .bind(tenant.as_str())
            .bind(id.get())
            .fetch_optional(&mut *conn)
            .await?,
        };
    let customer = customer.map(ContactId::new).ok_or(id.not_found())?;
    let mut walk = Walk::new(id, customer);
    while let Some(batch) = walk.next() {
        let rows: Vec<StoredEvent> = sqlx::query_as(OF_CUSTOMERS)
            .bind(tenant.as_str())
            .bind(batch.iter().map(|c| c.get()).collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await?;
        walk.absorb(&batch, StoredEvent::decode_all(rows)?);
    }
    let own: Vec<StoredEvent> = sqlx::query_as(OF_TENANT)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await?;
    Ok(walk.finish(StoredEvent::decode_all(own)?))
}
