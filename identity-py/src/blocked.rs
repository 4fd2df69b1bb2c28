//! `BlockedValue` (an entry of a tenant's blocked list) and `Ignored` (a value an answer left
//! out), as immutable Python objects, and the arguments that name an entry.

use identity::{Field, IgnoredReason};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors::{self, field_name};

/// One entry of a tenant's blocked list: an exact value or a pattern, for emails or phones.
#[pyclass(frozen, eq, hash, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlockedValue {
    /// `"email"` or `"phone"`.
    #[pyo3(get)]
    kind: String,
    /// The exact value, normalized; `None` for a pattern.
    #[pyo3(get)]
    value: Option<String>,
    /// The regular expression; `None` for an exact value.
    #[pyo3(get)]
    pattern: Option<String>,
}

impl From<&identity::BlockedValue> for BlockedValue {
    fn from(e: &identity::BlockedValue) -> Self {
        BlockedValue {
            kind: e.kind().as_str().to_owned(),
            value: e.value().map(str::to_owned),
            pattern: e.pattern_text().map(str::to_owned),
        }
    }
}

#[pymethods]
impl BlockedValue {
    /// The wire shape: `{"kind": ..., "value": ...}` or `{"kind": ..., "pattern": ...}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("kind", &self.kind)?;
        match (&self.value, &self.pattern) {
            (Some(value), _) => dict.set_item("value", value)?,
            (None, pattern) => dict.set_item("pattern", pattern)?,
        }
        Ok(dict)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let (key, text) = match (&self.value, &self.pattern) {
            (Some(value), _) => ("value", value.as_str()),
            (None, pattern) => ("pattern", pattern.as_deref().unwrap_or_default()),
        };
        let text = PyString::new(py, text).repr()?;
        Ok(format!("BlockedValue(kind='{}', {key}={text})", self.kind))
    }
}

/// A value of the request that was not stored nor matched, and why.
#[pyclass(frozen, eq, hash, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ignored {
    /// `"email"` or `"phone_number"`.
    #[pyo3(get)]
    field: String,
    /// Why: `"blocked"`.
    #[pyo3(get)]
    reason: String,
}

impl Ignored {
    /// `Ignored(field='email', reason='blocked')`.
    pub fn repr(&self) -> String {
        format!("Ignored(field='{}', reason='{}')", self.field, self.reason)
    }
}

impl From<&identity::Ignored> for Ignored {
    fn from(i: &identity::Ignored) -> Self {
        Ignored {
            field: field_name(i.field).to_owned(),
            reason: i.reason.as_str().to_owned(),
        }
    }
}

#[pymethods]
impl Ignored {
    #[new]
    fn new(field: String, reason: String) -> PyResult<Self> {
        if !matches!(field.as_str(), "email" | "phone_number") {
            return Err(errors::invalid_input(
                "invalid field: must be 'email' or 'phone_number'",
                "field",
            ));
        }
        if reason != IgnoredReason::Blocked.as_str() {
            return Err(errors::invalid_input(
                "invalid reason: must be 'blocked'",
                "reason",
            ));
        }
        Ok(Ignored { field, reason })
    }

    /// The wire shape: `{"field": "email" | "phoneNumber", "reason": ...}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        let wire = if self.field == "email" {
            Field::Email
        } else {
            Field::PhoneNumber
        };
        dict.set_item("field", wire.wire_name())?;
        dict.set_item("reason", &self.reason)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        self.repr()
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> (Bound<'py, pyo3::types::PyType>, (String, String)) {
        let i = slf.get();
        (slf.get_type(), (i.field.clone(), i.reason.clone()))
    }
}

/// The entry that `kind` and one of `value` and `pattern` name.
pub fn entry(
    kind: &Bound<'_, PyAny>,
    value: Option<&Bound<'_, PyAny>>,
    pattern: Option<&Bound<'_, PyAny>>,
) -> PyResult<identity::BlockedValue> {
    let text = |v: Option<&Bound<'_, PyAny>>, field: &str| -> PyResult<Option<String>> {
        match v {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) if v.is_instance_of::<PyString>() => v.extract().map(Some),
            Some(_) => Err(errors::invalid_input(
                &format!("invalid {field}: must be a str or None"),
                field,
            )),
        }
    };
    let kind = text(Some(kind), "kind")?.unwrap_or_default();
    let value = text(value, "value")?;
    let pattern = text(pattern, "pattern")?;
    identity::BlockedValue::parse(&kind, value.as_deref(), pattern.as_deref())
        .map_err(|e| errors::to_py(&e))
}
