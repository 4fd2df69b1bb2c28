//! The memory store's erase: rows keep their slots (ids are never reused) but lose their values
//! and stay deleted; records, identifiers, pairs and the history's values go as in the SQL stores.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use crate::contact::{Contact, ContactId};
use crate::erase::{ErasePlan, Erasure, lineage, scrubbed, values_of};
use crate::erasure::{ErasedRow, ErasureRecord};
use crate::error::Result;
use crate::identifier::IdentifierKind;
use crate::suppress::{Secret, Suppressed};
use crate::tenant::TenantId;

use super::State;

impl State {
    /// Erases the customer of row `customer` (see [`crate::Identity::erase`]), keeping its
    /// record; answers the receipt, and the record when it erased now.
    pub(super) fn erase(
        &mut self,
        tenant: &TenantId,
        customer: ContactId,
        suppress: bool,
    ) -> Result<(Erasure, Option<ErasureRecord>)> {
        if let Some(receipt) = self.erasures.get(&(tenant.clone(), customer)) {
            return Ok((Erasure::clone(receipt), None));
        }
        let primary = self
            .customer_of(tenant, customer)
            .ok_or(customer.not_found())?;
        let (rows, others): (Vec<Contact>, Vec<Contact>) = self
            .visible(tenant)
            .cloned()
            .partition(|c| c.root() == primary);
        let values = values_of(&rows);
        let held: Vec<(IdentifierKind, String, ContactId)> = others
            .iter()
            .flat_map(|c| {
                values_of(std::slice::from_ref(c))
                    .into_iter()
                    .map(|(kind, value)| (kind, value, c.root()))
            })
            .filter(|(kind, value, _)| values.contains(&(*kind, value.clone())))
            .collect();
        let blocked = self.tenant_state(tenant).blocked;
        let secret = match suppress {
            true => Some(self.secret()?),
            false => None,
        };
        let plan = ErasePlan::new(&rows, primary, &held, &blocked, secret.as_ref())?;
        let ids: BTreeSet<ContactId> = plan.erased.iter().copied().collect();
        let gone: HashSet<(IdentifierKind, &str)> =
            plan.gone.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let carries_gone = |c: &Contact| {
            c.email
                .as_ref()
                .is_some_and(|e| gone.contains(&(IdentifierKind::Email, e.as_str())))
                || c.phone_number
                    .as_ref()
                    .is_some_and(|p| gone.contains(&(IdentifierKind::Phone, p.as_str())))
        };
        let mut marked = Vec::new();
        for row in self.rows.values_mut().filter(|r| r.tenant == *tenant) {
            let c = &row.contact;
            let linked = c.linked_id().is_some_and(|l| ids.contains(&l));
            if ids.contains(&c.id) || (row.deleted && (linked || carries_gone(c))) {
                if row.deleted {
                    marked.push(ErasedRow::new(c.id, Some(c.created_at)));
                }
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
        let now = self.now();
        self.events.record(tenant, Some(primary), plan.event(), now);
        if let Some(secret) = secret {
            let set = match blocked.suppressed() {
                Some(set) => set.with(plan.digests.iter().copied()),
                None => Suppressed::new(secret, plan.digests.iter().copied()),
            };
            let next = blocked.suppressing(set)?;
            self.blocked.insert(tenant.clone(), Arc::new(next));
        }
        let receipt = Arc::new(plan.receipt(now));
        for id in &plan.erased {
            self.erasures
                .insert((tenant.clone(), *id), Arc::clone(&receipt));
        }
        let record = plan.record(tenant, &receipt, marked);
        self.records.push(record.clone());
        Ok((Erasure::clone(&receipt), Some(record)))
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
