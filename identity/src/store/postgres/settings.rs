//! The PostgreSQL side of tenant settings (the `identity_tenant` row, `identity_blocked`):
//! reading them, and changing the phone region (`identity_set_phone_region`) or the blocked list
//! (`identity_change_blocked`), each under the tenant's lock alone.

use sqlx::{Executor, Postgres};

use crate::blocked::{BlockList, BlockedValue};
use crate::error::Result;
use crate::region::{PhoneRegion, refuse_change, stored_region};
use crate::store::TenantState;
use crate::tenant::TenantId;

type StateRow = (Option<String>, i64, Vec<String>, Vec<bool>, Vec<String>);

/// The tenant's settings as stored: what its requests are read under.
pub(crate) async fn state<'e, E>(executor: E, tenant: &TenantId) -> Outcome<TenantState>
where
    E: Executor<'e, Database = Postgres>,
{
    let (region, version, kinds, patterns, values): StateRow = sqlx::query_as(
        "SELECT region, blocked_version, kinds, patterns, vals FROM identity_tenant_settings($1)",
    )
    .bind(tenant.as_str())
    .fetch_one(executor)
    .await?;
    let entries = kinds
        .iter()
        .zip(&patterns)
        .zip(&values)
        .map(|((kind, pattern), value)| BlockedValue::stored(kind, *pattern, value))
        .collect::<Result<Vec<_>>>()?;
    Ok(TenantState {
        region: stored_region(region.as_deref())?,
        blocked: BlockList::shared(version, entries)?,
    })
}

/// Adds (`add`) or removes a blocked entry, already in the tenant's form (one statement, its
/// own transaction); whether the list changed.
pub(crate) async fn change_blocked<'e, E>(
    executor: E,
    tenant: &TenantId,
    entry: &BlockedValue,
    add: bool,
) -> Outcome<bool>
where
    E: Executor<'e, Database = Postgres>,
{
    Ok(
        sqlx::query_scalar("SELECT identity_change_blocked($1, $2, $3, $4, $5)")
            .bind(tenant.as_str())
            .bind(entry.kind().as_str())
            .bind(entry.is_pattern())
            .bind(entry.text())
            .bind(add)
            .fetch_one(executor)
            .await?,
    )
}

use super::graph::Outcome;

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
