//! `History` and `HistoryEvent`: the answer of `history()`, as immutable Python objects whose
//! `to_dict()` is the JSON wire shape.

use identity::{ContactId, Email, Phone};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::blocked::BlockedValue;

/// One recorded change; `type` says which of the other attributes it has.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    inner: identity::HistoryEvent,
}

/// The wire shape of any serializable core value, as Python objects.
pub(crate) fn wire<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

#[pymethods]
impl HistoryEvent {
    /// `"existing"`, `"created"`, `"merged"`, `"blocked"`, `"unblocked"`, `"split_off"`,
    /// `"split_from"` or `"erased"`.
    #[getter(r#type)]
    fn kind(&self) -> &'static str {
        self.inner.change.kind()
    }

    /// When it was recorded: an aware `datetime` (UTC).
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.at.into_bound_py_any(py)
    }

    /// The customer it happened to, by its primary at the time; `None` for a change of the
    /// tenant's blocked list.
    #[getter]
    fn customer_id(&self) -> Option<i64> {
        self.inner.customer.map(ContactId::get)
    }

    /// `existing` and `created`: the row.
    #[getter]
    fn contact_id(&self) -> Option<i64> {
        self.inner.change.contact().map(ContactId::get)
    }

    /// `merged`: the absorbed customer's primary.
    #[getter]
    fn absorbed_id(&self) -> Option<i64> {
        self.inner
            .change
            .merged()
            .map(|(absorbed, _)| absorbed.get())
    }

    /// `merged`: the rows relinked to the kept primary (empty otherwise).
    #[getter]
    fn relinked_ids(&self) -> Vec<i64> {
        let relinked = self
            .inner
            .change
            .merged()
            .map(|(_, r)| r)
            .unwrap_or_default();
        relinked.iter().map(|id| id.get()).collect()
    }

    /// `split_off`: the new customer's primary; `split_from`: the primary of the customer split.
    #[getter]
    fn other_customer_id(&self) -> Option<i64> {
        self.inner.change.split().map(|(other, _)| other.get())
    }

    /// `split_off`, `split_from`: the rows moved to the new customer (empty otherwise).
    #[getter]
    fn moved_ids(&self) -> Vec<i64> {
        let moved = self
            .inner
            .change
            .split()
            .map(|(_, m)| m)
            .unwrap_or_default();
        moved.iter().map(|id| id.get()).collect()
    }

    /// `erased`: the rows deleted (empty otherwise).
    #[getter]
    fn erased_ids(&self) -> Vec<i64> {
        let erased = self.inner.change.erased().unwrap_or_default();
        erased.iter().map(|id| id.get()).collect()
    }

    /// The row's email (`existing`, `created`) or the request's (`merged`).
    #[getter]
    fn email(&self) -> Option<&str> {
        self.inner.change.values()?.0.map(Email::as_str)
    }

    /// The row's phone number (`existing`, `created`) or the request's (`merged`).
    #[getter]
    fn phone_number(&self) -> Option<&str> {
        self.inner.change.values()?.1.map(Phone::as_str)
    }

    /// `created`: the kinds (`"email"`, `"phone"`) through which the row joined a customer that
    /// held them; empty when it started a new customer.
    #[getter]
    fn via(&self) -> Vec<&'static str> {
        let via = self.inner.change.via().unwrap_or_default();
        via.iter().map(|k| k.as_str()).collect()
    }

    /// `blocked`, `unblocked`: the entry.
    #[getter]
    fn entry(&self) -> Option<BlockedValue> {
        self.inner.change.entry().map(BlockedValue::from)
    }

    /// The wire shape (`at` as an RFC 3339 string).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        wire(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        let customer = self
            .inner
            .customer
            .map_or("None".to_owned(), |c| c.to_string());
        format!(
            "HistoryEvent(type='{}', customer_id={customer})",
            self.inner.change.kind()
        )
    }
}

/// The answer of `history()`: the customer a contact id belongs to now and its events.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    inner: identity::History,
}

impl From<identity::History> for History {
    fn from(inner: identity::History) -> Self {
        History { inner }
    }
}

#[pymethods]
impl History {
    /// The contact id that was asked about.
    #[getter]
    fn asked_id(&self) -> i64 {
        self.inner.asked.get()
    }

    /// The customer it is part of now (its primary id).
    #[getter]
    fn customer_id(&self) -> i64 {
        self.inner.customer.get()
    }

    /// The events, oldest first.
    #[getter]
    fn events(&self) -> Vec<HistoryEvent> {
        self.inner
            .events
            .iter()
            .map(|e| HistoryEvent { inner: e.clone() })
            .collect()
    }

    /// When retention pruned the tenant's events: an aware `datetime` before which they were
    /// deleted (the events tell only what happened since); `None` while nothing was pruned.
    #[getter]
    fn pruned_before<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .pruned_before
            .map(|t| t.into_bound_py_any(py))
            .transpose()
    }

    /// Every row the events bring into the customer, ascending.
    fn rows(&self) -> Vec<i64> {
        self.inner.rows().into_iter().map(ContactId::get).collect()
    }

    /// The wire shape: `{"askedId", "customerId", "events": [...]}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "History(asked_id={}, customer_id={}, events=<{} events>)",
            self.inner.asked,
            self.inner.customer,
            self.inner.events.len()
        )
    }
}
