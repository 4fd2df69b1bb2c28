//! The PostgreSQL side of tenant settings (the `identity_tenant` row): reading them, and
//! changing the phone region with `identity_set_phone_region`, under the tenant's lock alone.

use sqlx::{Executor, Postgres};

use crate::region::{PhoneRegion, refuse_change, stored_region};
use crate::tenant::TenantId;

use super::graph::Outcome;

/// The tenant's phone region as stored.
pub(crate) async fn phone_region<'e, E>(
    executor: E,
    tenant: &TenantId,
) -> Outcome<Option<PhoneRegion>>
where
    E: Executor<'e, Database = Postgres>,
{
    let code: Option<Option<String>> =
        sqlx::query_scalar("SELECT phone_region FROM identity_tenant WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(executor)
            .await?;
    Ok(stored_region(code.flatten().as_deref())?)
}

/// Sets the tenant's region (one statement, its own transaction); refused, with nothing
/// changed, when it would change and the tenant has rows.
pub(crate) async fn set_phone_region<'e, E>(
    executor: E,
    tenant: &TenantId,
    region: Option<PhoneRegion>,
) -> Outcome<()>
where
    E: Executor<'e, Database = Postgres>,
{
    let (outcome, current): (String, Option<String>) =
        sqlx::query_as("SELECT outcome, region FROM identity_set_phone_region($1, $2)")
            .bind(tenant.as_str())
            .bind(region.as_ref().map(PhoneRegion::as_str))
            .fetch_one(executor)
            .await?;
    if outcome == "has-rows" {
        let current = stored_region(current.as_deref())?;
        return Err(refuse_change(tenant, current, region).into());
    }
    Ok(())
}
