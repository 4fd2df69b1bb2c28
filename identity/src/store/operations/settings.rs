//! Changes of a tenant's settings (blocked list, caps, phone region), written once for every
//! backend. The caller holds the tenant's writes off for the transaction.

use crate::blocked::BlockedValue;
use crate::history::Change;
use crate::limits::Limits;
use crate::region::{PhoneRegion, refuse_change};
use crate::split::check_unblock;
use crate::store::Outcome;
use crate::store::steps::Steps;
use crate::tenant::TenantId;

/// Adds (`add`) or removes a blocked entry (read in the tenant's phone region); whether the
/// list changed. An unblock that would free a value several customers hold (customers a split
/// keeps apart) is refused, changing nothing.
pub(crate) async fn change_blocked<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    entry: &BlockedValue,
    add: bool,
) -> Outcome<bool> {
    let current = steps.tenant_state(tenant).await?;
    let entry = entry.clone().in_region(current.region);
    let Some(entries) = current.blocked.changed(&entry, add) else {
        return Ok(false);
    };
    if !add {
        let after = current.blocked.successor(entries)?;
        let held = steps.held_by_several(tenant, entry.value()).await?;
        check_unblock(&held, &entry, &after)?;
    }
    steps
        .next_blocked_version(tenant, current.blocked.version)
        .await?;
    steps.write_blocked(tenant, &entry, add).await?;
    let change = if add {
        Change::Blocked { entry }
    } else {
        Change::Unblocked { entry }
    };
    let now = steps.now();
    steps.record(tenant, None, &change, now).await?;
    Ok(true)
}

/// Sets the tenant's caps; whether they changed. The caps move with the blocked list's
/// version, which every write checks.
pub(crate) async fn set_limits<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    limits: Limits,
) -> Outcome<bool> {
    let current = steps.tenant_state(tenant).await?;
    if current.limits == limits {
        return Ok(false);
    }
    steps
        .next_blocked_version(tenant, current.blocked.version)
        .await?;
    steps.write_limits(tenant, limits).await?;
    Ok(true)
}

/// Sets (`None`: clears) the tenant's phone region; whether it changed.
///
/// # Errors
/// [`crate::Error::Conflict`], changing nothing, when it would change and the tenant has
/// contact rows, deleted ones included (their values were read in the region they have).
pub(crate) async fn set_phone_region<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    region: Option<PhoneRegion>,
) -> Outcome<bool> {
    let current = steps.tenant_state(tenant).await?.region;
    if current == region {
        return Ok(false);
    }
    if steps.has_rows(tenant).await? {
        return Err(refuse_change(tenant, current, region).into());
    }
    steps.write_phone_region(tenant, region).await?;
    Ok(true)
}
