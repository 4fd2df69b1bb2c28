//! Erasure records for restores: the records as their JSON wire shape (dicts), the mappings
//! `reapply_erasures()` takes turned into the core's records, its `ReapplyReport`, and
//! `read_erasure_log()`. Every rule about a record is the core's (`ErasureRecord::from_json`).

use std::path::PathBuf;

use identity::{ErasureLog, ErasureRecord, Error, Field};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde_json::Value;

use crate::convert::type_name;
use crate::errors;

/// How deep a record's values may nest (a record nests three levels; this stops a mapping that
/// holds itself).
const MAX_DEPTH: usize = 16;

/// The records in their wire shape, as a `list` of `dict`s (each `json.dumps`-able into one
/// line of an erasure log).
pub(crate) fn wire_records<'py>(
    py: Python<'py>,
    records: &[ErasureRecord],
) -> PyResult<Bound<'py, PyList>> {
    Ok(crate::history::wire(py, &records)?.cast_into::<PyList>()?)
}

/// The `records` argument of `reapply_erasures`: an iterable of mappings in the wire shape, each
/// read by the core. A record that is not a mapping, holds a value JSON cannot, or that the core
/// refuses is an `InvalidInputError` (field `erasures`) naming its index.
pub(crate) fn records(records: &Bound<'_, PyAny>) -> PyResult<Vec<ErasureRecord>> {
    if records.is_instance_of::<PyString>()
        || records.is_instance_of::<PyBytes>()
        || records.cast::<PyMapping>().is_ok()
    {
        return Err(invalid(format!(
            "must be an iterable of records (a list of dicts), not a single {}",
            type_name(records)
        )));
    }
    let iter = records.try_iter().map_err(|_| {
        invalid(format!(
            "must be an iterable of records (a list of dicts), not {}",
            type_name(records)
        ))
    })?;
    let mut out = Vec::new();
    for (index, item) in iter.enumerate() {
        let item = item?;
        if item.cast::<PyMapping>().is_err() {
            return Err(invalid(format!(
                "record {index} must be a mapping in the erasure log's wire shape, not {}",
                type_name(&item)
            )));
        }
        let value =
            json(&item, 0).map_err(|reason| invalid(format!("record {index}: {reason}")))?;
        let record = ErasureRecord::from_json(&value).map_err(|e| match e {
            Error::InvalidInput { reason, .. } => invalid(format!("record {index}: {reason}")),
            other => errors::to_py(&other),
        })?;
        out.push(record);
    }
    Ok(out)
}

/// `InvalidInputError` naming `erasures`, with the core's wording.
fn invalid(reason: String) -> PyErr {
    errors::to_py(&Error::InvalidInput {
        field: Field::Erasures,
        reason,
    })
}

/// A Python value as JSON: `None`, `bool`, `int`, a finite `float`, `str`, a mapping with `str`
/// keys, or a `list`/`tuple` of these.
fn json(value: &Bound<'_, PyAny>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nest deeper than {MAX_DEPTH} levels"));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(value.is_truthy().unwrap_or(false)));
    }
    if value.is_instance_of::<PyString>() {
        return value
            .extract::<String>()
            .map(Value::String)
            .map_err(|e| e.to_string());
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(n) = value.extract::<i64>() {
            return Ok(Value::from(n));
        }
        return value
            .extract::<u64>()
            .map(Value::from)
            .map_err(|_| "an integer is out of range".to_owned());
    }
    if value.is_instance_of::<PyFloat>() {
        let f = value.extract::<f64>().map_err(|e| e.to_string())?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a JSON number"));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value.try_iter().map_err(|e| e.to_string())?;
        return items
            .map(|item| json(&item.map_err(|e| e.to_string())?, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Ok(map) = value.cast::<PyMapping>() {
        let mut object = serde_json::Map::new();
        let items = map.items().map_err(|e| e.to_string())?;
        for pair in items.iter() {
            let (key, item) = pair
                .extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()
                .map_err(|e| e.to_string())?;
            let Ok(key) = key.extract::<String>() else {
                return Err(format!("keys must be str, not {}", type_name(&key)));
            };
            let item = json(&item, depth + 1).map_err(|reason| format!("{key}: {reason}"))?;
            object.insert(key, item);
        }
        return Ok(Value::Object(object));
    }
    Err(format!(
        "a {} is not a JSON value (str, int, float, bool, None, list or dict)",
        type_name(value)
    ))
}

/// Every record of the erasure log file at `path` (a `str` or `os.PathLike`), oldest first, each
/// a `dict` in the wire shape (the form `reapply_erasures` takes). A line cut short (a process
/// stopped while writing it, before its erase committed) is left out. Raises `StoreError` when
/// the file cannot be read and `InvalidInputError` (field `erasures`, naming the line) for a
/// line that is not a record.
#[pyfunction]
pub(crate) fn read_erasure_log(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyList>> {
    let records = py
        .detach(|| ErasureLog::read(&path))
        .map_err(|e| errors::to_py(&e))?;
    wire_records(py, &records)
}

/// The records of erasure log text (`str`: one JSON object per line, blank lines skipped, a
/// last line cut short left out), read exactly as `read_erasure_log` reads a file: for a body
/// received over HTTP, say. Raises `InvalidInputError` (field `erasures`, naming the line) for
/// a line that is not a record.
#[pyfunction]
pub(crate) fn parse_erasure_log<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyList>> {
    let records = identity::erasure_log::parse_lines(text).map_err(|e| errors::to_py(&e))?;
    wire_records(py, &records)
}

/// What `reapply_erasures` did: the records given, those applied now, those whose erase the
/// database held already, the rows deleted, the ids other rows hold now (left alone), and the
/// values suppressed again.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReapplyReport {
    inner: identity::ReapplyReport,
}

impl From<identity::ReapplyReport> for ReapplyReport {
    fn from(inner: identity::ReapplyReport) -> Self {
        ReapplyReport { inner }
    }
}

#[pymethods]
impl ReapplyReport {
    /// Records given.
    #[getter]
    fn records(&self) -> usize {
        self.inner.records
    }

    /// Records applied now: the database did not hold their erase.
    #[getter]
    fn applied(&self) -> usize {
        self.inner.applied
    }

    /// Records whose erase the database holds already: left alone.
    #[getter]
    fn already_erased(&self) -> usize {
        self.inner.already_erased
    }

    /// The rows deleted now, ascending.
    #[getter]
    fn erased_ids(&self) -> Vec<i64> {
        self.inner.erased_ids.iter().map(|id| id.get()).collect()
    }

    /// Ids of the records that the database gives to other rows (created at another time,
    /// after the restore), ascending; those rows are left alone.
    #[getter]
    fn reused_ids(&self) -> Vec<i64> {
        self.inner.reused_ids.iter().map(|id| id.get()).collect()
    }

    /// The digests of the applied records, now among the tenant's suppressed values.
    #[getter]
    fn suppressed(&self) -> usize {
        self.inner.suppressed
    }

    /// The wire shape: `{"records", "applied", "alreadyErased", "erasedIds", "reusedIds",
    /// "suppressed"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        Ok(crate::history::wire(py, &self.inner)?.cast_into::<PyDict>()?)
    }

    fn __repr__(&self) -> String {
        format!(
            "ReapplyReport(records={}, applied={}, already_erased={}, erased_ids={:?}, \
             reused_ids={:?}, suppressed={})",
            self.inner.records,
            self.inner.applied,
            self.inner.already_erased,
            self.erased_ids(),
            self.reused_ids(),
            self.inner.suppressed
        )
    }
}
