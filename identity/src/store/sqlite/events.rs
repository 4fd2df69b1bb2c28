//! The SQLite side of history: appending events (`identity_event`) in the caller's write
//! transaction (reading them is a step of `steps.rs`).

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::error::{Error, Result};
use crate::history::Change;
use crate::history::stored::StoredEvent;

use super::feed::feed_head;
use crate::tenant::TenantId;

/// The event at the next position of the tenant's feed (SQLite's one writer at a time takes
/// positions in commit order).
const INSERT: &str = concat!(
    "INSERT INTO identity_event (tenant_id, customer_id, kind, contact_id, contact_ids, email, \
     phone, pattern, via, at, kept_ids, position) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ",
    feed_head!(),
    " + 1)"
);

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
        .bind(&e.kept)
        .execute(&mut *tx)
        .await
        .map(drop)
        .map_err(|e| Error::store("recording history", e))
}
