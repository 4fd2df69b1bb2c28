//! `import_checkouts()` and `import_table_rows()`'s arguments and their answer. Each checkout,
//! a mapping with `email`, `phone_number` (or `phoneNumber`, as JSON files spell it) and `at`
//! (a table's row: `id`, `email`, `phone_number`, `linked_id`, `created_at`, `deleted_at`, in
//! either spelling), becomes the JSON-shaped record the core reads
//! (`identity::import::checkout_from_json`, `table_row_from_json`): every rule about the values
//! is the core's, and a malformed one is refused there, as over HTTP.

use identity::import::{ImportOptions, OnError};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString};
use serde_json::Value;

use crate::convert::type_name;
use crate::errors;
pub use crate::import_table::TableOutcome;

/// What a list of records holds: its argument's name, the error's field, and each key read
/// with the wire key it becomes.
pub struct Shape {
    argument: &'static str,
    field: &'static str,
    keys: &'static [(&'static str, &'static str)],
}

/// Checkouts: `email`, `phone_number`, `at`.
pub const CHECKOUTS: Shape = Shape {
    argument: "checkouts",
    field: "checkouts",
    keys: &[
        ("email", "email"),
        ("phoneNumber", "phoneNumber"),
        ("phone_number", "phoneNumber"),
        ("at", "at"),
    ],
};

/// A table's rows, in its column names or their snake_case spelling.
pub const TABLE_ROWS: Shape = Shape {
    argument: "rows",
    field: "table",
    keys: &[
        ("id", "id"),
        ("email", "email"),
        ("phoneNumber", "phoneNumber"),
        ("phone_number", "phoneNumber"),
        ("linkedId", "linkedId"),
        ("linked_id", "linkedId"),
        ("createdAt", "createdAt"),
        ("created_at", "createdAt"),
        ("at", "at"),
        ("deletedAt", "deletedAt"),
        ("deleted_at", "deletedAt"),
    ],
};

/// The `checkouts` (or `rows`) argument: any iterable of mappings, as the core's records. A
/// value of a type no record can hold (not `str`, `int`, `float`, `bool`, `None`, `datetime` or
/// `date`) is an `InvalidInputError` naming the argument's field; a mapping with a bad value is
/// the core's to refuse.
pub fn records(checkouts: &Bound<'_, PyAny>, shape: &Shape) -> PyResult<Vec<Value>> {
    let (argument, field) = (shape.argument, shape.field);
    let bad = |reason: String| errors::invalid_input(&format!("invalid {field}: {reason}"), field);
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
        for (key, wire) in shape.keys {
            if !map.contains(key)? {
                continue;
            }
            let value = map.get_item(key)?;
            let json = value_of(&value, &date).ok_or_else(|| {
                bad(format!(
                    "{argument}[{index}][{key:?}] must be a str, an int, None, a datetime or a date, not {}",
                    type_name(&value)
                ))
            })?;
            record.insert((*wire).to_owned(), json);
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

/// The `on_error` (`"abort"`, the default, or `"skip"`), `dry_run` and `renumber` arguments.
pub fn options(
    on_error: Option<&Bound<'_, PyAny>>,
    dry_run: bool,
    renumber: bool,
) -> PyResult<ImportOptions> {
    let chosen = ImportOptions::default().dry_run(dry_run).renumber(renumber);
    let Some(on_error) = on_error.filter(|v| !v.is_none()) else {
        return Ok(chosen);
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
    Ok(chosen.on_error(on_error))
}

/// A checkout an import refused: its index in `checkouts` (a table's row: its id) and why.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The checkout's index in the `checkouts` given (`None` for a table's row).
    #[pyo3(get)]
    record: Option<u64>,
    /// The table row's id (`None` for a checkout).
    #[pyo3(get)]
    id: Option<u64>,
    /// Why, as the error's message (`"invalid email: ..."`, `"missing time"`).
    #[pyo3(get)]
    reason: String,
}

#[pymethods]
impl Rejected {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let reason = PyString::new(py, &self.reason).repr()?;
        Ok(match (self.record, self.id) {
            (_, Some(id)) => format!("Rejected(id={id}, reason={reason})"),
            (record, None) => format!("Rejected(record={}, reason={reason})", record.unwrap_or(0)),
        })
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

    /// Checkouts that wrote no row because every value they carry was known already (a
    /// table's rows folded into their customer).
    #[getter]
    fn folded(&self) -> u64 {
        self.inner.folded
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
                record: self.inner.table.is_none().then_some(r.origin),
                id: self.inner.table.as_ref().map(|_| r.origin),
                reason: r.reason.clone(),
            })
            .collect()
    }

    /// The id of the first row written, or `None`.
    #[getter]
    fn first_id(&self) -> Option<i64> {
        self.inner.ids.map(|(first, _)| first.get())
    }

    /// The id of the last row written, or `None`.
    #[getter]
    fn last_id(&self) -> Option<i64> {
        self.inner.ids.map(|(_, last)| last.get())
    }

    /// For `import_table_rows()`: deleted rows, repairs, and every id whose meaning changed;
    /// `None` for checkouts.
    #[getter]
    fn table(&self) -> Option<TableOutcome> {
        self.inner.table.clone().map(TableOutcome::from)
    }

    /// Whether anything was written (`False` for a dry run).
    #[getter]
    fn written(&self) -> bool {
        self.inner.written
    }

    /// The wire shape: `{"checkouts", "rows", "customers", "merges", "largestCustomer",
    /// "ignored", "ignoredCheckouts", "folded", "rejected", "firstRejected", "firstId",
    /// "lastId", "table", "written"}`.
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
