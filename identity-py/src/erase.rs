//! `Erasure`: the receipt of `erase()`, an immutable Python object whose `to_dict()` is the
//! JSON wire shape. It holds ids and a time, never personal data.

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The receipt of an erase: which customer, which rows, when, and whether its values were
/// suppressed. Erasing the same customer again answers the same receipt.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct Erasure {
    inner: identity::Erasure,
}

impl From<identity::Erasure> for Erasure {
    fn from(inner: identity::Erasure) -> Self {
        Erasure { inner }
    }
}

#[pymethods]
impl Erasure {
    /// The customer erased, by its primary at the time.
    #[getter]
    fn customer_id(&self) -> i64 {
        self.inner.customer_id.get()
    }

    /// Its rows, hard-deleted, ascending.
    #[getter]
    fn contact_ids(&self) -> Vec<i64> {
        self.inner.contact_ids.iter().map(|id| id.get()).collect()
    }

    /// When: an aware `datetime` (UTC).
    #[getter]
    fn erased_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.erased_at.into_bound_py_any(py)
    }

    /// Whether the erase was asked to suppress the customer's values (later requests carrying
    /// them ignore them, reason `"suppressed"`).
    #[getter]
    fn suppressed(&self) -> bool {
        self.inner.suppressed
    }

    /// The wire shape: `{"customerId", "contactIds", "erasedAt", "suppressed"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "Erasure(customer_id={}, contact_ids={:?}, suppressed={})",
            self.inner.customer_id,
            self.contact_ids(),
            if self.inner.suppressed {
                "True"
            } else {
                "False"
            }
        )
    }
}
