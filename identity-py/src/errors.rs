//! Maps the core's errors to the Python exception classes, which are defined once in
//! `identity_reconciliation/_errors.py` (so that `InvalidInputError` can also be a `ValueError`).

use identity::{Error, ErrorKind, Field};
use pyo3::prelude::*;

/// The exception class `name` from `identity_reconciliation._errors`, called with `args`.
fn make<'py, A>(py: Python<'py>, name: &str, args: A) -> PyErr
where
    A: pyo3::call::PyCallArgs<'py>,
{
    let built = py
        .import("identity_reconciliation._errors")
        .and_then(|m| m.getattr(name))
        .and_then(|class| class.call1(args));
    match built {
        Ok(exception) => PyErr::from_value(exception),
        Err(e) => e,
    }
}

/// The Python name of a core field (no catch-all arm: a new field fails to compile here until
/// it is named).
pub fn field_name(field: Field) -> &'static str {
    match field {
        Field::Email => "email",
        Field::PhoneNumber => "phone_number",
        Field::Request | Field::Body => "request",
        Field::Tenant => "tenant",
        Field::PhoneRegion => "phone_region",
        Field::Kind => "kind",
        Field::Value => "value",
        Field::Pattern => "pattern",
        Field::ContactId => "contact_id",
        Field::ContactIds => "contact_ids",
        Field::Limits => "limits",
        Field::Checkouts => "checkouts",
        Field::Table => "table",
        Field::OnError => "on_error",
        Field::Erasures => "erasures",
        Field::Cursor => "after",
        Field::Limit => "limit",
        Field::Wait => "wait",
        Field::Url => "url",
        Field::Types => "types",
        Field::WebhookId => "webhook_id",
    }
}

/// The exception class of each kind in `identity_reconciliation._errors` (no catch-all arm: a
/// new kind fails to compile here until it has a class).
pub fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::Conflict => "ConflictError",
        ErrorKind::BlockedValue => "BlockedValueError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::Closed => "ClosedError",
        ErrorKind::Expired => "ExpiredError",
        ErrorKind::Unavailable => "UnavailableError",
        ErrorKind::Contention => "ContentionError",
        ErrorKind::Store => "StoreError",
        ErrorKind::CorruptData => "CorruptDataError",
        ErrorKind::Internal => "InternalError",
    }
}

/// The core's table as Python sees it, for the test that holds `_errors.py` to it: each kind's
/// `(code, exception class, retryable)`.
pub fn kinds() -> Vec<(&'static str, &'static str, bool)> {
    ErrorKind::ALL
        .iter()
        .map(|k| (k.code(), class_name(*k), k.is_transient()))
        .collect()
}

/// Every field's Python name, once each (`request` stands for the whole request and its body).
pub fn field_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Field::ALL.iter().map(|f| field_name(*f)).collect();
    names.dedup();
    names
}

/// `InvalidInputError(message, field)`.
pub fn invalid_input(message: &str, field: &str) -> PyErr {
    Python::attach(|py| make(py, "InvalidInputError", (message, field)))
}

/// `IdentityError(message)`.
pub fn identity_error(message: &str) -> PyErr {
    Python::attach(|py| make(py, "IdentityError", (message,)))
}

/// `ClosedError(message)`.
pub fn closed(what: &str) -> PyErr {
    let message = format!("this {what} is closed; create a new one");
    Python::attach(|py| make(py, "ClosedError", (message,)))
}

/// The exception for a core error, by its stable code; the message is the core's, with its
/// cause named once.
pub fn to_py(error: &Error) -> PyErr {
    let message = error.chain();
    Python::attach(|py| match error {
        Error::InvalidInput { field, .. } => {
            make(py, "InvalidInputError", (message, field_name(*field)))
        }
        Error::InvalidUrl { .. } | Error::UnsupportedScheme { .. } => {
            make(py, "InvalidInputError", (message, "url"))
        }
        Error::BlockedValue { fields } => {
            let fields: Vec<&str> = fields.iter().map(|f| field_name(*f)).collect();
            make(py, "BlockedValueError", (message, fields))
        }
        other => make(py, class_name(other.kind()), (message,)),
    })
}
