//! The memory store's import: the planned rows under the next ids (or a table's own), their
//! history, and the derived records built from them.

use crate::contact::ContactId;
use crate::error::Result;
use crate::history::Change;
use crate::import::{
    ImportBatch, ImportOptions, ImportReport, derive_imported, plan, refuse_not_empty,
    refuse_taken_ids,
};
use crate::tenant::TenantId;

use super::{Row, State};

impl State {
    /// Imports `batch` into `tenant`, which must have no rows (deleted ones included).
    pub(super) fn import(
        &mut self,
        tenant: &TenantId,
        batch: ImportBatch,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        let existing = self.rows.values().filter(|r| r.tenant == *tenant).count();
        if existing > 0 {
            return Err(refuse_not_empty(tenant, existing as u64));
        }
        let state = self.tenant_state(tenant);
        let plan = plan(batch, &state, options)?;
        let (ids, highest) = match plan.kept_ids() {
            Some((ids, lowest, highest)) => {
                if i64::try_from(lowest).is_ok_and(|lowest| lowest <= self.last_id) {
                    return Err(refuse_taken_ids(lowest, self.last_id));
                }
                (ids.to_vec(), i64::try_from(highest).unwrap_or(i64::MAX))
            }
            None => {
                let first = self.last_id + 1;
                let ids = (0..plan.rows.len() as i64)
                    .map(|k| ContactId::new(first + k))
                    .collect::<Vec<_>>();
                (ids, first + plan.rows.len() as i64 - 1)
            }
        };
        if options.dry_run {
            return Ok(plan.finish(&ids, false)?.1);
        }
        let written = !ids.is_empty();
        let (contacts, report) = plan.finish(&ids, written)?;
        derive_imported(&contacts, &state)?;
        self.last_id = self.last_id.max(highest);
        for c in &contacts {
            self.rows.insert(
                c.id,
                Row {
                    tenant: tenant.clone(),
                    contact: c.clone(),
                    deleted: false,
                },
            );
            let change = Change::Existing {
                contact: c.id,
                email: c.email.clone(),
                phone_number: c.phone_number.clone(),
            };
            self.events
                .record(tenant, Some(c.root()), change, c.created_at);
        }
        self.replace(tenant, &contacts, |_| true);
        Ok(report)
    }
}
