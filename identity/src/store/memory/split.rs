//! The memory store's split and its kept-apart pairs.

use std::collections::BTreeSet;

use crate::contact::{Contact, ContactId};
use crate::error::Result;
use crate::history::Change;
use crate::split::{Split, SplitPlan, held_by_several, kept_apart};
use crate::tenant::TenantId;

use super::State;
use crate::identifier::IdentifierKind;

impl State {
    /// Whether customers `x` and `y` of `tenant` are kept apart by a split.
    pub(super) fn kept_apart(&self, tenant: &TenantId, x: ContactId, y: ContactId) -> bool {
        let Some(pairs) = self.apart.get(tenant) else {
            return false;
        };
        // as the SQL stores do: a deleted row still names its customer by its link
        let customer_of = |id| self.row(id).map(|r| r.contact.root());
        kept_apart(pairs, customer_of, x, y)
    }

    /// The tenant's values held by more than one customer.
    pub(super) fn held_by_several(&self, tenant: &TenantId) -> Vec<(IdentifierKind, String)> {
        let rows: Vec<Contact> = self.visible(tenant).cloned().collect();
        held_by_several(&rows)
    }

    /// Splits `asked` off the customer of row `customer` (see [`crate::Identity::split`]).
    pub(super) fn split(
        &mut self,
        tenant: &TenantId,
        customer: ContactId,
        asked: &[ContactId],
        block_shared: bool,
    ) -> Result<Split> {
        let primary = self
            .customer_of(tenant, customer)
            .ok_or(customer.not_found())?;
        let rows: Vec<Contact> = self
            .visible(tenant)
            .filter(|c| c.root() == primary)
            .cloned()
            .collect();
        let ids: BTreeSet<ContactId> = rows.iter().map(|c| c.id).collect();
        let pairs: Vec<(ContactId, ContactId)> = self
            .apart
            .get(tenant)
            .into_iter()
            .flatten()
            .filter(|(a, b)| ids.contains(a) || ids.contains(b))
            .copied()
            .collect();
        let blocked = self.tenant_state(tenant).blocked;
        let mut plan = SplitPlan::new(&rows, primary, asked, block_shared, &blocked, &pairs)?;
        for entry in &plan.block {
            self.change_blocked(tenant, entry, true)?;
        }
        let now = self.now();
        for (id, link) in &plan.derived.relinks {
            if let Some(row) = self.row_mut(*id) {
                row.contact.link = *link;
                row.contact.updated_at = now;
            }
        }
        for record in &mut plan.derived.customers {
            self.versions += 1;
            record.version = self.versions;
        }
        let graph = self.graph(tenant);
        graph.customers.remove(&primary);
        for record in &plan.derived.customers {
            graph.customers.insert(record.primary, record.clone());
        }
        for key in &plan.renamed {
            if let Some(owner) = graph.identifiers.get_mut(key)
                && *owner == primary
            {
                *owner = plan.new_customer;
            }
        }
        for key in &plan.unnamed {
            graph.identifiers.remove(key);
        }
        self.apart
            .entry(tenant.clone())
            .or_default()
            .extend(plan.apart.iter().copied());
        let off = Change::SplitOff {
            into: plan.new_customer,
            moved: plan.moved.clone(),
        };
        self.events.record(tenant, Some(primary), off, now);
        let from = Change::SplitFrom {
            from: primary,
            moved: plan.moved.clone(),
        };
        self.events
            .record(tenant, Some(plan.new_customer), from, now);
        Ok(plan.answer())
    }
}
