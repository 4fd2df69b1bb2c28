//! The SQLite side of tenant settings (`identity_tenant_settings`): reading them, and changing
//! the phone region inside a write transaction.

use sqlx::{Executor, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::region::{PhoneRegion, refuse_change, stored_region};
use crate::tenant::TenantId;

/// The tenant's phone region as stored.
pub(crate) async fn phone_region<'e, E>(
    executor: E,
    tenant: &TenantId,
) -> Result<Option<PhoneRegion>>
where
    E: Executor<'e, Database = Sqlite>,
{
    let code: Option<Option<String>> = sqlx::query_scalar(
        "SELECT phone_region FROM identity_tenant_settings WHERE tenant_id = ?1",
    )
    .bind(tenant.as_str())
    .fetch_optional(executor)
    .await
    .map_err(|e| Error::store("reading tenant settings", e))?;
    stored_region(code.flatten().as_deref())
}

/// Sets the tenant's region in the caller's write transaction: refused (nothing written) when it
/// would change and the tenant has contact rows, deleted ones included.
pub(crate) async fn set_phone_region(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    region: Option<PhoneRegion>,
) -> Result<()> {
    let current = phone_region(&mut *tx, tenant).await?;
    if current == region {
        return Ok(());
    }
    let has_rows: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contact WHERE tenant_id = ?1)")
            .bind(tenant.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| Error::store("reading tenant settings", e))?;
    if has_rows {
        return Err(refuse_change(tenant, current, region));
    }
    sqlx::query(
        "INSERT INTO identity_tenant_settings (tenant_id, phone_region, updated_at)
         VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id) DO UPDATE
         SET phone_region = excluded.phone_region, updated_at = excluded.updated_at",
    )
    .bind(tenant.as_str())
    .bind(region.as_ref().map(PhoneRegion::as_str))
    .bind(OffsetDateTime::now_utc())
    .execute(&mut *tx)
    .await
    .map(drop)
    .map_err(|e| Error::store("changing tenant settings", e))
}
