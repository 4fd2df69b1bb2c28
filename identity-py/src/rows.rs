//! `ContactRow`: one stored row of the `contact` table, as `all_contacts()` reads it, an
//! immutable Python object whose `to_dict()` is the task's `Contact` wire shape.

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// One visible row of the `contact` table: the data model the customers are derived from.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    inner: identity::Contact,
}

impl From<identity::Contact> for ContactRow {
    fn from(inner: identity::Contact) -> Self {
        ContactRow { inner }
    }
}

#[pymethods]
impl ContactRow {
    /// The row id.
    #[getter]
    fn id(&self) -> i64 {
        self.inner.id.get()
    }

    /// The row's email, or `None`.
    #[getter]
    fn email(&self) -> Option<&str> {
        self.inner.email.as_ref().map(identity::Email::as_str)
    }

    /// The row's phone number, or `None`.
    #[getter]
    fn phone_number(&self) -> Option<&str> {
        self.inner
            .phone_number
            .as_ref()
            .map(identity::Phone::as_str)
    }

    /// The primary this secondary row links to, or `None` for a primary.
    #[getter]
    fn linked_id(&self) -> Option<i64> {
        self.inner.linked_id().map(identity::ContactId::get)
    }

    /// `"primary"` or `"secondary"`.
    #[getter]
    fn link_precedence(&self) -> &'static str {
        self.inner.link.precedence()
    }

    /// When the row was inserted: an aware `datetime`.
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.created_at.into_bound_py_any(py)
    }

    /// When the row was last changed: an aware `datetime`.
    #[getter]
    fn updated_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.updated_at.into_bound_py_any(py)
    }

    /// The wire shape: `{"id", "email", "phoneNumber", "linkedId", "linkPrecedence",
    /// "createdAt", "updatedAt"}` (times as RFC 3339 strings).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let text = |v: Option<&str>| -> PyResult<String> {
            match v {
                Some(v) => Ok(PyString::new(py, v).repr()?.to_string()),
                None => Ok("None".to_owned()),
            }
        };
        Ok(format!(
            "ContactRow(id={}, email={}, phone_number={}, linked_id={}, link_precedence='{}')",
            self.id(),
            text(self.email())?,
            text(self.phone_number())?,
            self.linked_id()
                .map_or("None".to_owned(), |id| id.to_string()),
            self.link_precedence()
        ))
    }
}

/// A customer as its rows show it (`customer(id)`): its primary's id and every visible row, by
/// id. `to_dict()` is its wire shape, as `GET /admin/customers/{id}` answers it.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    inner: identity::Customer,
}

impl From<identity::Customer> for Customer {
    fn from(inner: identity::Customer) -> Self {
        Customer { inner }
    }
}

#[pymethods]
impl Customer {
    /// The customer's primary row id.
    #[getter]
    fn customer_id(&self) -> i64 {
        self.inner.customer_id.get()
    }

    /// Its visible rows, by id, the primary among them.
    #[getter]
    fn rows(&self) -> Vec<ContactRow> {
        self.inner
            .rows
            .iter()
            .cloned()
            .map(ContactRow::from)
            .collect()
    }

    /// The wire shape: `{"customerId", "rows": [...]}`, each row as `ContactRow.to_dict()`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "Customer(customer_id={}, rows={})",
            self.customer_id(),
            self.inner.rows.len()
        )
    }
}
