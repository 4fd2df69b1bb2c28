//! The PostgreSQL side of history: appending the events of the changes made from Rust (the
//! write functions of `migrations/postgres/*_baseline.sql` append identify's; reading them is
//! a step of `steps.rs`).

use sqlx::PgConnection;

use crate::contact::ContactId;
use crate::history::Change;
use crate::history::stored::StoredEvent;
use crate::tenant::TenantId;

use crate::store::Outcome;

const INSERT: &str = "\
INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, contact_ids, email, phone,
    pattern, via, kept_ids)
VALUES ($1, $2, $3, $4, string_to_array($5, ',')::bigint[], $6, $7, $8, $9,
        string_to_array($10, ',')::bigint[])";

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
        .bind(&e.kept)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
