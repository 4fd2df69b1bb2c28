//! `Split`: the answer of `split()`, an immutable Python object whose `to_dict()` is the JSON
//! wire shape.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::blocked::BlockedValue;
use crate::contact::Contact;

/// What a split did: the customer as it stays, the new customer, and the entries it added to
/// the blocked list (the values the two parts shared, when `block_shared` asked for it).
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    inner: identity::Split,
}

impl From<identity::Split> for Split {
    fn from(inner: identity::Split) -> Self {
        Split { inner }
    }
}

#[pymethods]
impl Split {
    /// The customer that keeps its primary, with the rows that stay.
    #[getter]
    fn customer(&self) -> Contact {
        Contact::from(self.inner.customer.clone())
    }

    /// The new customer: the rows moved, led by the oldest of them.
    #[getter]
    fn new_customer(&self) -> Contact {
        Contact::from(self.inner.new_customer.clone())
    }

    /// The entries this split added to the blocked list.
    #[getter]
    fn blocked(&self) -> Vec<BlockedValue> {
        self.inner.blocked.iter().map(BlockedValue::from).collect()
    }

    /// The wire shape: `{"customer": {...}, "newCustomer": {...}, "blocked": [...]}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "Split(customer={}, new_customer={}, blocked=<{} entries>)",
            self.inner.customer.primary_contact_id,
            self.inner.new_customer.primary_contact_id,
            self.inner.blocked.len()
        )
    }
}
