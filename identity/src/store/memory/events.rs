//! The memory store's history: events by tenant and customer, in one order across tenants.

use std::collections::{BTreeSet, HashMap};

use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::history::{Change, HistoryEvent};
use crate::tenant::TenantId;

/// Every event, filed under its tenant and customer (`None`: the tenant's own, such as a change
/// of its blocked list).
#[derive(Debug, Default, Clone)]
pub(super) struct EventLog {
    filed: HashMap<(TenantId, Option<ContactId>), Vec<HistoryEvent>>,
    last: i64,
}

impl EventLog {
    /// Records `change` for `customer` of `tenant` at `at`.
    pub(super) fn record(
        &mut self,
        tenant: &TenantId,
        customer: Option<ContactId>,
        change: Change,
        at: OffsetDateTime,
    ) {
        self.last += 1;
        let event = HistoryEvent {
            at,
            customer,
            change,
            seq: self.last,
        };
        self.filed
            .entry((tenant.clone(), customer))
            .or_default()
            .push(event);
    }

    /// The events of these customers of `tenant` (`None` among them: the tenant's own).
    pub(super) fn of(
        &self,
        tenant: &TenantId,
        customers: &[Option<ContactId>],
    ) -> Vec<HistoryEvent> {
        customers
            .iter()
            .filter_map(|c| self.filed.get(&(tenant.clone(), *c)))
            .flatten()
            .cloned()
            .collect()
    }

    /// Rewrites the change of every event of these customers of `tenant` with `f`.
    pub(super) fn rewrite(
        &mut self,
        tenant: &TenantId,
        customers: &BTreeSet<ContactId>,
        f: impl Fn(&HistoryEvent) -> Change,
    ) {
        for c in customers {
            if let Some(events) = self.filed.get_mut(&(tenant.clone(), Some(*c))) {
                for e in events.iter_mut() {
                    e.change = f(e);
                }
            }
        }
    }
}
