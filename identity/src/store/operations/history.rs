//! A customer's history, read once for every backend.

use crate::contact::ContactId;
use crate::history::{History, Walk};
use crate::store::Outcome;
use crate::store::steps::Steps;
use crate::tenant::TenantId;

/// The history of the customer that visible row `id` belongs to (or belonged to, when an erase
/// took it), read in one snapshot: the customers that merged into it, batch by batch, then the
/// tenant's own events.
///
/// # Errors
/// [`crate::Error::NotFound`] when the tenant never had such a row or has no trace of it.
pub(crate) async fn history<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    id: ContactId,
) -> Outcome<History> {
    let customer = match steps.customer_of(tenant, id).await? {
        Some(customer) => Some(customer),
        None => steps.erased_from(tenant, id).await?,
    };
    let mut walk = Walk::new(id, customer.ok_or(id.not_found())?);
    while let Some(batch) = walk.next() {
        let events = steps.customer_events(tenant, &batch).await?;
        walk.absorb(&batch, events);
    }
    let mut history = walk.finish(steps.tenant_events(tenant).await?);
    history.pruned_before = steps.pruned_before(tenant).await?;
    Ok(history)
}
