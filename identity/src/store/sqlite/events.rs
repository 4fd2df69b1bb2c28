//! The SQLite side of history: appending events (`identity_event`) in the caller's write
//! transaction (reading them is a step of `steps.rs`).

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::error::{Error, Result};
use crate::history::Change;
use crate::history::stored::StoredEvent;

use super::feed::feed_head;
use super::script::Script;
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
    let mut script = Script::default();
    push(&mut script, tenant, customer, change, at);
    script
        .run(tx)
        .await
        .map(drop)
        .map_err(|e| Error::store("recording history", e))
}

/// Adds to `script` the appending of `change` of `customer` at `at` (see [`record`]).
pub(super) fn push(
    script: &mut Script,
    tenant: &TenantId,
    customer: Option<ContactId>,
    change: &Change,
    at: OffsetDateTime,
) {
    let e = StoredEvent::of(customer, change, at);
    script.push(INSERT, |v| {
        v.add(tenant.as_str())
            .add(e.customer)
            .add(e.kind)
            .add(e.contact)
            .add(e.contacts)
            .add(e.email)
            .add(e.phone)
            .add(e.pattern)
            .add(e.via)
            .add(e.at)
            .add(e.kept);
    });
}
