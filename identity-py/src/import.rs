//! `import_checkouts()`'s arguments and its answer. Each checkout, a mapping with `email`,
//! `phone_number` (or `phoneNumber`, as JSON files spell it) and `at`, becomes the JSON-shaped
//! record the core reads (`identity::import::checkout_from_json`): every rule about the values
//! is the core's, and a malformed checkout is refused by its index there, as over HTTP.

use identity::import::{ImportOptions, OnError};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString};
use serde_json::Value;

use crate::convert::type_name;
use crate::errors;

/// The `checkouts` argument: any iterable of mappings, as the core's records. A value of a type
/// no checkout can hold (not `str`, `int`, `float`, `bool`, `None`, `datetime` or `date`) is an
/// `InvalidInputError` naming `checkouts`; a mapping with a bad value is the core's to refuse.
pub fn records(checkouts: &Bound<'_, PyAny>) -> PyResult<Vec<Value>> {
    let bad = |reason: String| {
        errors::invalid_input(&format!("invalid checkouts: {reason}"), "checkouts")
    };
    if checkouts.is_instance_of::<PyString>() || checkouts.is_instance_of::<PyDict>() {
        return Err(bad(
            "must be an iterable of mappings (a list of dicts), not a single one".into(),
        ));
    }
    let iter = checkouts.try_iter().map_err(|_| {
        bad(format!(
            "must be an iterable of mappings, not {}",
            type_name(checkouts)
        ))
    })?;
    let date = checkouts.py().import("datetime")?.getattr("date")?;
    let mut out = Vec::new();
    for (index, item) in iter.enumerate() {
        let item = item?;
        let Ok(map) = item.cast::<PyMapping>() else {
            out.push(Value::Null); // the core refuses it by index: "not an object"
            continue;
        };
        let mut record = serde_json::Map::new();
        for (key, wire) in [
            ("email", "email"),
            ("phoneNumber", "phoneNumber"),
            ("phone_number", "phoneNumber"),
            ("at", "at"),
        ] {
            if !map.contains(key)? {
                continue;
            }
            let value = map.get_item(key)?;
            let json = value_of(&value, &date).ok_or_else(|| {
                bad(format!(
                    "checkouts[{index}][{key:?}] must be a str, an int, None, a datetime or a date, not {}",
                    type_name(&value)
                ))
            })?;
            record.insert(wire.to_owned(), json);
        }
        out.push(Value::Object(record));
    }
    Ok(out)
}

/// A checkout's value as JSON: `None` when no checkout can hold its type.
fn value_of(value: &Bound<'_, PyAny>, date: &Bound<'_, PyAny>) -> Option<Value> {
    if value.is_none() {
        return Some(Value::Null);
    }
    if value.is_instance_of::<PyBool>() {
        return value.extract::<bool>().ok().map(Value::Bool);
    }
    if value.is_instance_of::<PyString>() {
        return value.extract::<String>().ok().map(Value::String);
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(n) = value.extract::<i64>() {
            return Some(Value::from(n));
        }
        if let Ok(n) = value.extract::<u64>() {
            return Some(Value::from(n));
        }
        // beyond 64 bits: its digits, which the core reads (and limits) as a phone number's
        return value
            .str()
            .ok()?
            .extract::<String>()
            .ok()
            .map(Value::String);
    }
    if value.is_instance_of::<PyFloat>() {
        return value
            .extract::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number));
    }
    if value.is_instance(date).unwrap_or(false) {
        // a naive datetime has no offset: read as UTC, as a file's time without one is
        let text: String = value.call_method0("isoformat").ok()?.extract().ok()?;
        return Some(Value::String(text));
    }
    None
}

/// The `on_error` (`"abort"`, the default, or `"skip"`) and `dry_run` arguments.
pub fn options(on_error: Option<&Bound<'_, PyAny>>, dry_run: bool) -> PyResult<ImportOptions> {
    let Some(on_error) = on_error.filter(|v| !v.is_none()) else {
        return Ok(ImportOptions::default().dry_run(dry_run));
    };
    let text: String = on_error.extract().map_err(|_| {
        errors::invalid_input(
            &format!(
                "invalid on error: must be \"abort\" or \"skip\", not {}",
                type_name(on_error)
            ),
            "on_error",
        )
    })?;
    let on_error = OnError::parse(&text).map_err(|e| errors::to_py(&e))?;
    Ok(ImportOptions::default().on_error(on_error).dry_run(dry_run))
}

/// A checkout an import refused: its index in `checkouts` and why.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The checkout's index in the `checkouts` given.
    #[pyo3(get)]
    record: u64,
    /// Why, as the error's message (`"invalid email: ..."`, `"missing time"`).
    #[pyo3(get)]
    reason: String,
}

#[pymethods]
impl Rejected {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let reason = PyString::new(py, &self.reason).repr()?;
        Ok(format!("Rejected(record={}, reason={reason})", self.record))
    }
}

/// What `import_checkouts` did (or, with `dry_run`, would do).
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    inner: identity::import::ImportReport,
}

impl From<identity::import::ImportReport> for ImportReport {
    fn from(inner: identity::import::ImportReport) -> Self {
        ImportReport { inner }
    }
}

#[pymethods]
impl ImportReport {
    /// Checkouts given.
    #[getter]
    fn checkouts(&self) -> u64 {
        self.inner.checkouts
    }

    /// Rows written: checkouts that carried a value no earlier checkout carried.
    #[getter]
    fn rows(&self) -> u64 {
        self.inner.rows
    }

    /// Customers those rows form.
    #[getter]
    fn customers(&self) -> u64 {
        self.inner.customers
    }

    /// Checkouts that joined two customers that had rows already (a merge online).
    #[getter]
    fn merges(&self) -> u64 {
        self.inner.merges
    }

    /// Rows of the largest customer.
    #[getter]
    fn largest_customer(&self) -> u64 {
        self.inner.largest_customer
    }

    /// Values left out, by reason: `{"blocked": n, "suppressed": n}`.
    #[getter]
    fn ignored<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for reason in [
            identity::IgnoredReason::Blocked,
            identity::IgnoredReason::Suppressed,
        ] {
            out.set_item(reason.as_str(), self.inner.ignored_for(reason))?;
        }
        Ok(out)
    }

    /// Checkouts with nothing left once their ignored values were left out.
    #[getter]
    fn ignored_checkouts(&self) -> u64 {
        self.inner.ignored_checkouts
    }

    /// Checkouts refused (left out under `on_error="skip"`): malformed, or a phone number the
    /// tenant's region refuses.
    #[getter]
    fn rejected(&self) -> u64 {
        self.inner.rejected
    }

    /// The first ten of them: malformed ones in the order given, then the region's in time
    /// order.
    #[getter]
    fn first_rejected(&self) -> Vec<Rejected> {
        self.inner
            .first_rejected
            .iter()
            .map(|r| Rejected {
                record: r.origin,
                reason: r.reason.clone(),
            })
            .collect()
    }

    /// The id of the first row written (ids follow time order), or `None`.
    #[getter]
    fn first_id(&self) -> Option<i64> {
        self.inner.ids.map(|(first, _)| first.get())
    }

    /// The id of the last row written, or `None`.
    #[getter]
    fn last_id(&self) -> Option<i64> {
        self.inner.ids.map(|(_, last)| last.get())
    }

    /// Whether anything was written (`False` for a dry run).
    #[getter]
    fn written(&self) -> bool {
        self.inner.written
    }

    /// The wire shape: `{"checkouts", "rows", "customers", "merges", "largestCustomer",
    /// "ignored", "ignoredCheckouts", "rejected", "firstRejected", "repairedPrimaries",
    /// "repairedChains", "firstId", "lastId", "written"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ImportReport(checkouts={}, rows={}, customers={}, merges={}, rejected={}, written={})",
            self.inner.checkouts,
            self.inner.rows,
            self.inner.customers,
            self.inner.merges,
            self.inner.rejected,
            self.inner.written.into_bound_py_any(py)?.repr()?,
        ))
    }
}
