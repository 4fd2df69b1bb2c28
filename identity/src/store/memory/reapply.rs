//! The memory store's side of applying erasures again ([`crate::Identity::reapply_erasures`]):
//! the same plan as the SQL stores, through its own split and erase; ids past the last row
//! that a record names are taken by deleted placeholder rows, as the SQL stores move their
//! sequence.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::contact::ContactId;
use crate::erasure::ErasureRecord;
use crate::error::Result;
use crate::reapply::{HeldRow, ReapplyPlan, ReapplyReport, Step, same_secret};
use crate::suppress::Suppressed;
use crate::tenant::TenantId;

use super::State;

impl State {
    /// Applies `records` (every one the tenant's) again; the caller restores the state on an
    /// error.
    pub(super) fn reapply(
        &mut self,
        tenant: &TenantId,
        records: &[ErasureRecord],
    ) -> Result<ReapplyReport> {
        if records.iter().any(|r| !r.digests.is_empty()) {
            let ours = self.secret()?.fingerprint();
            same_secret(records, &ours)?;
        }
        let mut report = ReapplyReport {
            records: records.len(),
            ..ReapplyReport::default()
        };
        for record in records {
            let key = |id: &ContactId| (tenant.clone(), *id);
            let receipted = record
                .contact_ids
                .iter()
                .any(|id| self.erasures.contains_key(&key(id)));
            if receipted || self.records.contains(record) {
                report.already_erased += 1;
                continue;
            }
            let held: Vec<HeldRow> = record
                .rows
                .iter()
                .filter_map(|r| self.row(r.id).filter(|row| row.tenant == *tenant))
                .map(|row| HeldRow {
                    id: row.contact.id,
                    created_at: row.contact.created_at,
                    customer: (!row.deleted).then(|| row.contact.root()),
                })
                .collect();
            let mut members = BTreeMap::new();
            for customer in held.iter().filter_map(|h| h.customer) {
                let rows: BTreeSet<ContactId> = self
                    .visible(tenant)
                    .filter(|c| c.root() == customer)
                    .map(|c| c.id)
                    .collect();
                members.insert(customer, rows);
            }
            let plan = ReapplyPlan::new(record, &held, &members);
            let mut erased = Vec::new();
            for step in &plan.steps {
                let target = match step {
                    Step::Erase(customer) => *customer,
                    Step::SplitOff { customer, rows } => {
                        let split = self.split(tenant, *customer, rows, true)?;
                        split.primary_holding(rows[0])
                    }
                };
                let (receipt, made) = self.erase(tenant, target, false)?;
                if made.is_some() {
                    self.records.pop(); // the erase's own record: the original is kept below
                }
                erased.extend(receipt.contact_ids);
            }
            for id in &plan.deleted {
                if let Some(row) = self.row_mut(*id) {
                    row.contact.email = None;
                    row.contact.phone_number = None;
                }
            }
            for id in &erased {
                self.erasures.remove(&key(id));
            }
            for id in &plan.receipts {
                self.erasures.insert(key(id), Arc::new(record.receipt()));
            }
            let mut digests = Vec::new();
            for d in &record.digests {
                digests.push((d.kind, d.bytes()?));
            }
            if !digests.is_empty() {
                let secret = self.secret()?;
                let blocked = self.tenant_state(tenant).blocked;
                let set = match blocked.suppressed() {
                    Some(set) => set.with(digests.iter().copied()),
                    None => Suppressed::new(secret, digests.iter().copied()),
                };
                self.blocked
                    .insert(tenant.clone(), Arc::new(blocked.suppressing(set)?));
            }
            self.records.push(record.clone());
            report.add(&plan, &erased, digests.len());
        }
        let highest = ReapplyPlan::highest_id(records);
        // ids are never reused: the next row takes one past every id the records name
        self.last_id = self.last_id.max(highest);
        Ok(report.finish())
    }
}
