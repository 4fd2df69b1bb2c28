//! What a table import's report says about the table's ids, for Python: `TableOutcome`,
//! `ChangedCustomer`, `MovedRow` (each with `to_dict()` in the wire shape).

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A customer of the table (by the row its links end at) that is led by another row now.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedCustomer {
    inner: identity::import::ChangedCustomer,
}

#[pymethods]
impl ChangedCustomer {
    /// The row the table made its primary.
    #[getter]
    fn table_primary_id(&self) -> u64 {
        self.inner.table_primary_id
    }

    /// The primary of the customer it is part of now, or `None` when nothing of it was
    /// imported.
    #[getter]
    fn primary_contact_id(&self) -> Option<i64> {
        self.inner.primary_contact_id.map(|id| id.get())
    }

    /// Why: `"duplicate"` (the old service's races: an older customer holds one of its values
    /// as written), `"normalized"` (equal once normalized), `"primaryDeleted"`,
    /// `"primaryLeftOut"`, `"primaryNotOldest"` or `"leftOut"`.
    #[getter]
    fn change(&self) -> &'static str {
        self.inner.change.as_str()
    }

    /// `{"tablePrimaryId", "primaryContactId", "change"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "ChangedCustomer(table_primary_id={}, primary_contact_id={}, change={:?})",
            self.inner.table_primary_id,
            self.primary_contact_id()
                .map_or("None".to_owned(), |id| id.to_string()),
            self.change()
        )
    }
}

/// A row of the table whose id no longer names the same row of the same customer.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedRow {
    inner: identity::import::MovedRow,
}

#[pymethods]
impl MovedRow {
    /// Its id in the table.
    #[getter]
    fn id(&self) -> u64 {
        self.inner.id
    }

    /// The row the table made its customer's primary.
    #[getter]
    fn table_primary_id(&self) -> u64 {
        self.inner.table_primary_id
    }

    /// Its row now (its own id unless renumbered), or `None` when it was not imported as a row.
    #[getter]
    fn contact_id(&self) -> Option<i64> {
        self.inner.contact_id.map(|id| id.get())
    }

    /// Its customer's primary now, or `None`.
    #[getter]
    fn primary_contact_id(&self) -> Option<i64> {
        self.inner.primary_contact_id.map(|id| id.get())
    }

    /// What became of the row: `"kept"`, `"folded"`, `"deleted"`, `"refused"` or `"ignored"`.
    #[getter]
    fn row(&self) -> &'static str {
        self.inner.row.as_str()
    }

    /// What became of its customer (as `ChangedCustomer.change`), or `None`.
    #[getter]
    fn change(&self) -> Option<&'static str> {
        self.inner.change.map(|c| c.as_str())
    }

    /// `{"id", "tablePrimaryId", "contactId", "primaryContactId", "row", "change"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "MovedRow(id={}, primary_contact_id={}, row={:?})",
            self.inner.id,
            self.primary_contact_id()
                .map_or("None".to_owned(), |id| id.to_string()),
            self.row()
        )
    }
}

/// What a table import did beyond a checkout import: deleted rows, repairs, and every id whose
/// meaning changed.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOutcome {
    inner: identity::import::TableOutcome,
}

impl From<identity::import::TableOutcome> for TableOutcome {
    fn from(inner: identity::import::TableOutcome) -> Self {
        TableOutcome { inner }
    }
}

#[pymethods]
impl TableOutcome {
    /// Soft-deleted rows given: not imported, their ids reserved.
    #[getter]
    fn deleted_rows(&self) -> u64 {
        self.inner.deleted_rows
    }

    /// Whether the rows kept the table's ids (`False`: `renumber=True`).
    #[getter]
    fn ids_kept(&self) -> bool {
        self.inner.ids_kept
    }

    /// The table's highest id, deleted rows included: later rows get higher ones.
    #[getter]
    fn highest_id(&self) -> u64 {
        self.inner.highest_id
    }

    /// Rows linked to a secondary or to a row deleted or not there, now linked to their
    /// customer's primary.
    #[getter]
    fn repaired_chains(&self) -> u64 {
        self.inner.repaired_chains
    }

    /// The table's customers led by another row now.
    #[getter]
    fn changed_customers(&self) -> Vec<ChangedCustomer> {
        self.inner
            .changed_customers
            .iter()
            .map(|c| ChangedCustomer { inner: c.clone() })
            .collect()
    }

    /// The table's rows whose id no longer names the same row of the same customer; every
    /// other id does.
    #[getter]
    fn moved_rows(&self) -> Vec<MovedRow> {
        self.inner
            .moved_rows
            .iter()
            .map(|m| MovedRow { inner: m.clone() })
            .collect()
    }

    /// How many of the table's customers changed so (`"duplicate"`, `"normalized"`, ...).
    fn changed(&self, change: &str) -> PyResult<u64> {
        identity::import::CustomerChange::ALL
            .into_iter()
            .find(|c| c.as_str() == change)
            .map(|c| self.inner.changed(c))
            .ok_or_else(|| {
                crate::errors::invalid_input(
                    &format!("invalid request: no change is called {change:?}"),
                    "request",
                )
            })
    }

    /// The wire shape: `{"deletedRows", "idsKept", "highestId", "repairedChains",
    /// "changedCustomers", "movedRows"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "TableOutcome(deleted_rows={}, ids_kept={}, changed_customers={}, moved_rows={})",
            self.inner.deleted_rows,
            if self.inner.ids_kept { "True" } else { "False" },
            self.inner.changed_customers.len(),
            self.inner.moved_rows.len()
        )
    }
}
