//! Which planner an import's batch goes to (rules layer): checkouts to [`plan_import`], a
//! table's rows to [`plan_table`].

use crate::error::Result;
use crate::screen::TenantState;

use super::input::{ImportBatch, ImportOptions};
use super::plan::ImportPlan;
use super::replay::plan_import;
use super::table_plan::plan_table;

/// Plans an import of `batch` into an empty tenant whose settings are `state`.
///
/// # Errors
/// As [`plan_import`] and [`plan_table`].
pub(crate) fn plan(
    batch: ImportBatch,
    state: &TenantState,
    options: ImportOptions,
) -> Result<ImportPlan> {
    match batch {
        ImportBatch::Checkouts(checkouts) => plan_import(checkouts, state, options.on_error),
        ImportBatch::Table(rows) => plan_table(rows, state, options),
    }
}
