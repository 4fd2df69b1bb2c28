//! Erase, read and planned once for every backend; applying the plan is one step per backend
//! (set-based statements on PostgreSQL, bounded steps on SQLite, which may span transactions
//! for a large customer). The caller holds the tenant's writes off and has applied its pending
//! changes first.

use crate::contact::ContactId;
use crate::erase::{ErasePlan, Erasure, PlannedErase, values_of};
use crate::erasure::ErasureRecord;
use crate::store::Outcome;
use crate::store::steps::Steps;
use crate::tenant::TenantId;

use super::split::customer_rows;

/// What erasing a customer takes: nothing (it was erased: its earlier receipt), or a plan.
pub(crate) enum Erase {
    /// Erased before: the first receipt.
    Done(Erasure),
    /// Everything the erase writes.
    Planned(Box<PlannedErase>),
}

/// Plans erasing the customer of the tenant's row `customer` (see [`crate::Identity::erase`]),
/// or finds the receipt of its earlier erase: its rows, the values other customers hold too,
/// the tenant's blocked list, the store's secret when the values are to be suppressed, and the
/// soft-deleted rows that go with it.
///
/// # Errors
/// [`crate::Error::NotFound`] for a row the tenant never had.
pub(crate) async fn plan_erase<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    customer: ContactId,
    suppress: bool,
) -> Outcome<Erase> {
    if let Some(done) = steps.receipt(tenant, customer).await? {
        return Ok(Erase::Done(done));
    }
    let (primary, rows) = customer_rows(steps, tenant, customer).await?;
    let values = values_of(&rows);
    let held = steps.held_elsewhere(tenant, primary, &values).await?;
    let state = steps.tenant_state(tenant).await?;
    let secret = match suppress {
        true => Some(steps.secret().await?),
        false => None,
    };
    let plan = ErasePlan::new(&rows, primary, &held, &state.blocked, secret.as_ref())?;
    let at = steps.now();
    let marked = steps.deleted_rows(tenant, &plan.erased, &plan.gone).await?;
    let record = plan.record(tenant, &plan.receipt(at), marked);
    Ok(Erase::Planned(Box::new(PlannedErase {
        plan,
        values,
        at,
        blocked_version: state.blocked.version,
        record,
    })))
}

/// Erases the customer of the tenant's row `customer` whole, in the caller's transaction: its
/// receipt, and its record when it erased now (none when it was erased before).
pub(crate) async fn erase<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    customer: ContactId,
    suppress: bool,
) -> Outcome<(Erasure, Option<ErasureRecord>)> {
    match plan_erase(steps, tenant, customer, suppress).await? {
        Erase::Done(receipt) => Ok((receipt, None)),
        Erase::Planned(planned) => {
            steps.apply_erase(tenant, &planned).await?;
            Ok((planned.receipt(), Some(planned.record)))
        }
    }
}
