//! Split, written once for every backend. The caller holds the tenant's writes off and has
//! applied its pending changes (made outside the library) first.

use crate::contact::{Contact, ContactId};
use crate::history::Change;
use crate::split::{Split, SplitPlan};
use crate::store::Outcome;
use crate::store::steps::Steps;
use crate::tenant::TenantId;

use super::settings::change_blocked;

/// The customer (primary) of the tenant's visible row `customer`, and its visible rows.
///
/// # Errors
/// [`crate::Error::NotFound`] when the tenant has no such visible row.
pub(crate) async fn customer_rows<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    customer: ContactId,
) -> Outcome<(ContactId, Vec<Contact>)> {
    let primary = steps
        .customer_of(tenant, customer)
        .await?
        .ok_or(customer.not_found())?;
    Ok((primary, steps.rows_of(tenant, primary).await?))
}

/// Splits `asked` off the customer of the tenant's visible row `customer` (see
/// [`crate::Identity::split`]): blocks the values both parts hold when `block_shared`, moves
/// the rows, rewrites both records and the identifiers, keeps the parts apart, and records the
/// split in both customers' histories.
///
/// # Errors
/// [`crate::Error::NotFound`] for a row the tenant does not have; the plan's refusals
/// ([`SplitPlan::new`]), changing nothing.
pub(crate) async fn split<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    customer: ContactId,
    asked: &[ContactId],
    block_shared: bool,
) -> Outcome<Split> {
    let (primary, rows) = customer_rows(steps, tenant, customer).await?;
    let ids: Vec<ContactId> = rows.iter().map(|c| c.id).collect();
    let pairs = steps.kept_apart_pairs(tenant, &ids).await?;
    let blocked = steps.tenant_state(tenant).await?.blocked;
    let plan = SplitPlan::new(&rows, primary, asked, block_shared, &blocked, &pairs)?;
    for entry in &plan.block {
        change_blocked(steps, tenant, entry, true).await?;
    }
    let now = steps.now();
    steps.relink(tenant, &plan.derived.relinks, now).await?;
    steps
        .replace_customer(tenant, primary, &plan.derived.customers)
        .await?;
    steps
        .rename_identifiers(tenant, &plan.renamed, primary, plan.new_customer)
        .await?;
    steps
        .drop_identifiers(tenant, &plan.unnamed, primary)
        .await?;
    steps.keep_apart(tenant, &plan.apart, now).await?;
    let answer = plan.answer();
    let stayed = &answer.customer;
    let mut kept: Vec<ContactId> = stayed.secondary_contact_ids.iter().copied().collect();
    kept.push(stayed.primary_contact_id);
    kept.sort_unstable();
    let off = Change::SplitOff {
        into: plan.new_customer,
        moved: plan.moved.clone(),
        kept,
    };
    steps.record(tenant, Some(primary), &off, now).await?;
    let from = Change::SplitFrom {
        from: primary,
        moved: plan.moved.clone(),
    };
    steps
        .record(tenant, Some(plan.new_customer), &from, now)
        .await?;
    Ok(answer)
}
