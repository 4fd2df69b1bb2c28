//! The kept-apart check of a lookup on PostgreSQL (the merge function checks its own:
//! `identity_merge` in `migrations/postgres/*_baseline.sql`; the split that adds the pairs is
//! the operation of `operations.rs`).

use sqlx::PgConnection;

use crate::contact::ContactId;
use crate::store::Outcome;
use crate::tenant::TenantId;

/// Whether customers `x` and `y` of `tenant` are kept apart by a split.
pub(crate) async fn kept_apart(
    conn: &mut PgConnection,
    tenant: &TenantId,
    x: ContactId,
    y: ContactId,
) -> Outcome<bool> {
    Ok(sqlx::query_scalar("SELECT identity_kept_apart($1, $2, $3)")
        .bind(tenant.as_str())
        .bind(x.get())
        .bind(y.get())
        .fetch_one(&mut *conn)
        .await?)
}
