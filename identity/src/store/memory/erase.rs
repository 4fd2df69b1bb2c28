//! The memory store's erase: rows keep their slots (ids are never reused) but lose their values
//! and stay deleted; records, identifiers, pairs and the history's values go as in the SQL stores.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use crate::contact::{Contact, ContactId};
use crate::erase::{Erasure, PlannedErase, lineage, scrubbed, values_of};
use crate::erasure::{ErasedRow, ErasureRecord};
use crate::error::Result;
use crate::identifier::IdentifierKind;
use crate::store::operations;
use crate::suppress::{Secret, Suppressed};
use crate::tenant::TenantId;
use crate::verify::StoredIdentifier;

use super::State;
use super::steps::{MemorySteps, at_once};

impl State {
    /// Erases the customer of row `customer` (see [`crate::Identity::erase`]), keeping its
    /// record; answers the receipt, and the record when it erased now.
    pub(super) fn erase(
        &mut self,
        tenant: &TenantId,
        customer: ContactId,
        suppress: bool,
    ) -> Result<(Erasure, Option<ErasureRecord>)> {
        let mut steps = MemorySteps(self);
        let erase = operations::erase(&mut steps, tenant, customer, suppress);
        at_once(erase, "erasing a customer")
    }

    /// The receipt of the erase that took the tenant's row `id`.
    pub(super) fn receipt(&self, tenant: &TenantId, id: ContactId) -> Option<Erasure> {
        let receipt = self.erasures.get(&(tenant.clone(), id))?;
        Some(Erasure::clone(receipt))
    }

    /// The values among `values` that visible rows of the tenant outside customer `primary`
    /// hold, with their customers.
    pub(super) fn held_elsewhere(
        &self,
        tenant: &TenantId,
        primary: ContactId,
        values: &BTreeSet<(IdentifierKind, String)>,
    ) -> Vec<StoredIdentifier> {
        self.visible(tenant)
            .filter(|c| c.root() != primary)
            .flat_map(|c| {
                values_of(std::slice::from_ref(c))
                    .into_iter()
                    .map(|(kind, value)| (kind, value, c.root()))
            })
            .filter(|(kind, value, _)| values.contains(&(*kind, value.clone())))
            .collect()
    }

    /// The tenant's soft-deleted rows that link to the rows `erased` or carry a value of
    /// `gone`.
    pub(super) fn deleted_rows(
        &self,
        tenant: &TenantId,
        erased: &[ContactId],
        gone: &[(IdentifierKind, String)],
    ) -> Vec<ErasedRow> {
        let ids: BTreeSet<ContactId> = erased.iter().copied().collect();
        let gone: HashSet<(IdentifierKind, &str)> =
            gone.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.rows
            .values()
            .filter(|r| r.tenant == *tenant && r.deleted && !ids.contains(&r.contact.id))
            .filter(|r| goes_with(&r.contact, &ids, &gone))
            .map(|r| ErasedRow::new(r.contact.id, Some(r.contact.created_at)))
            .collect()
    }

    /// Writes the erase `erase` (see [`crate::store::steps::Steps::apply_erase`]): rows keep
    /// their slots but lose their values; the record joins the store's.
    pub(super) fn apply_erase(&mut self, tenant: &TenantId, erase: &PlannedErase) -> Result<()> {
        let plan = &erase.plan;
        let primary = plan.customer;
        let ids: BTreeSet<ContactId> = plan.erased.iter().copied().collect();
        let gone: HashSet<(IdentifierKind, &str)> =
            plan.gone.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for row in self.rows.values_mut().filter(|r| r.tenant == *tenant) {
            if ids.contains(&row.contact.id)
                || (row.deleted && goes_with(&row.contact, &ids, &gone))
            {
                row.deleted = true;
                row.contact.email = None;
                row.contact.phone_number = None;
            }
        }
        let graph = self.graph(tenant);
        graph.customers.remove(&primary);
        graph.identifiers.retain(|_, owner| *owner != primary);
        for (kind, value, owner) in &plan.named {
            graph.identifiers.insert((*kind, value.clone()), *owner);
        }
        if let Some(pairs) = self.apart.get_mut(tenant) {
            pairs.retain(|(a, b)| !ids.contains(a) && !ids.contains(b));
        }
        let reached = lineage(&plan.erased, |c| self.events.of(tenant, &[Some(c)]));
        self.events.rewrite(tenant, &reached, |e| {
            let whole = e.customer.is_some_and(|c| ids.contains(&c))
                || e.change.contact().is_some_and(|c| ids.contains(&c));
            scrubbed(&e.change, whole, &gone)
        });
        self.events
            .record(tenant, Some(primary), plan.event(), erase.at);
        if plan.suppress {
            let blocked = self.tenant_state(tenant).blocked;
            let secret = self.secret()?;
            let set = match blocked.suppressed() {
                Some(set) => set.with(plan.digests.iter().copied()),
                None => Suppressed::new(secret, plan.digests.iter().copied()),
            };
            let next = blocked.suppressing(set)?;
            self.blocked.insert(tenant.clone(), Arc::new(next));
        }
        let receipt = Arc::new(erase.receipt());
        for id in &plan.erased {
            self.erasures
                .insert((tenant.clone(), *id), Arc::clone(&receipt));
        }
        self.records.push(erase.record.clone());
        Ok(())
    }

    /// The customer a row erased before belonged to.
    pub(super) fn erased_customer(&self, tenant: &TenantId, id: ContactId) -> Option<ContactId> {
        self.erasures
            .get(&(tenant.clone(), id))
            .map(|r| r.customer_id)
    }

    /// The store's suppression secret, made on first use.
    pub(super) fn secret(&mut self) -> Result<Secret> {
        let key = match self.secret {
            Some(key) => key,
            None => *self.secret.insert(Secret::generate()?),
        };
        Secret::from_stored(&key)
    }
}

/// Whether the soft-deleted row `c` goes with an erase of the rows `ids` whose values `gone`
/// nothing else keeps: it links to one of them or carries such a value.
fn goes_with(
    c: &Contact,
    ids: &BTreeSet<ContactId>,
    gone: &HashSet<(IdentifierKind, &str)>,
) -> bool {
    let linked = c.linked_id().is_some_and(|l| ids.contains(&l));
    let carries = |kind, value: Option<&str>| value.is_some_and(|v| gone.contains(&(kind, v)));
    linked
        || carries(IdentifierKind::Email, c.email.as_ref().map(|e| e.as_str()))
        || carries(
            IdentifierKind::Phone,
            c.phone_number.as_ref().map(|p| p.as_str()),
        )
}
