//! The memory store's import: the planned rows appended with the next ids, their history, and
//! the derived records built from them.

use crate::contact::ContactId;
use crate::error::Result;
use crate::history::Change;
use crate::import::{
    Checkout, ImportOptions, ImportReport, derive_imported, plan_import, refuse_not_empty,
};
use crate::tenant::TenantId;

use super::{Row, State};

impl State {
    /// Imports `checkouts` into `tenant`, which must have no rows (deleted ones included).
    pub(super) fn import(
        &mut self,
        tenant: &TenantId,
        checkouts: Vec<Checkout>,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        let existing = self.rows.iter().filter(|r| r.tenant == *tenant).count();
        if existing > 0 {
            return Err(refuse_not_empty(tenant, existing as u64));
        }
        let plan = plan_import(checkouts, &self.tenant_state(tenant), options.on_error)?;
        let mut report = plan.report.clone();
        if options.dry_run || plan.rows.is_empty() {
            return Ok(report);
        }
        let first = i64::try_from(self.rows.len()).unwrap_or(i64::MAX) + 1;
        let ids: Vec<ContactId> = (0..plan.rows.len() as i64)
            .map(|k| ContactId::new(first + k))
            .collect();
        let contacts = plan.into_contacts(&ids)?;
        derive_imported(&contacts, &self.tenant_state(tenant))?;
        for c in &contacts {
            self.rows.push(Row {
                tenant: tenant.clone(),
                contact: c.clone(),
                deleted: false,
            });
            let change = Change::Existing {
                contact: c.id,
                email: c.email.clone(),
                phone_number: c.phone_number.clone(),
            };
            self.events
                .record(tenant, Some(c.root()), change, c.created_at);
        }
        self.replace(tenant, &contacts, |_| true);
        report.ids = ids.first().zip(ids.last()).map(|(a, b)| (*a, *b));
        report.written = true;
        Ok(report)
    }
}
