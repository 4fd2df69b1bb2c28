//! Python arguments to a core request: `str | None` emails, `str | int | None` phone numbers.
//! Every rule about the values themselves is the core's (`Email::parse`, `Phone::parse`).

use identity::{Email, IdentifyRequest, Phone, TenantId};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};

use crate::errors;

/// Builds a request from the `email` and `phone_number` arguments.
pub fn request(
    email: Option<&Bound<'_, PyAny>>,
    phone_number: Option<&Bound<'_, PyAny>>,
) -> PyResult<IdentifyRequest> {
    IdentifyRequest::new(email_arg(email)?, phone_arg(phone_number)?).map_err(|e| errors::to_py(&e))
}

/// A tenant id argument: a `str` the core accepts.
pub fn tenant(value: &Bound<'_, PyAny>) -> PyResult<TenantId> {
    if !value.is_instance_of::<PyString>() {
        return Err(errors::invalid_input(
            &format!("invalid tenant: must be a str, not {}", type_name(value)),
            "tenant",
        ));
    }
    let text: String = value.extract()?;
    TenantId::parse(&text).map_err(|e| errors::to_py(&e))
}

/// A phone region argument: a `str` (blank: none) or `None`.
pub fn phone_region(value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if value.is_none() {
        return Ok(None);
    }
    if !value.is_instance_of::<PyString>() {
        return Err(errors::invalid_input(
            &format!(
                "invalid phone region: must be a str such as 'IN', or None, not {}",
                type_name(value)
            ),
            "phone_region",
        ));
    }
    value.extract().map(Some)
}

/// A per-customer cap argument: an `int` or `None` (no cap); a `bool` or anything else is an
/// `InvalidInputError` naming `limits`, as a cap out of range is.
pub fn cap(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let whole = value.is_instance_of::<pyo3::types::PyInt>()
        && !value.is_instance_of::<pyo3::types::PyBool>();
    let number = if whole {
        value.extract::<i64>().ok()
    } else {
        None
    };
    number.map(Some).ok_or_else(|| {
        errors::invalid_input(
            &format!(
                "invalid limits: {name} must be an int from 1 to {}, or None, not {}",
                identity::Limits::MAX,
                type_name(value)
            ),
            "limits",
        )
    })
}

fn email_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Email>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) if v.is_instance_of::<PyString>() => {
            let text: String = v.extract()?;
            Email::parse_optional(Some(&text)).map_err(|e| errors::to_py(&e))
        }
        Some(v) => Err(errors::invalid_input(
            &format!("invalid email: must be a str or None, not {}", type_name(v)),
            "email",
        )),
    }
}

fn phone_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Phone>> {
    let bad = |reason: String| {
        errors::invalid_input(&format!("invalid phone number: {reason}"), "phone_number")
    };
    match value {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) if v.is_instance_of::<PyString>() => {
            let text: String = v.extract()?;
            Phone::parse_optional(Some(&text)).map_err(|e| errors::to_py(&e))
        }
        // bool is an int subclass in Python; True is not a phone number
        Some(v) if v.is_instance_of::<PyBool>() => {
            Err(bad("must be a str, an int or None, not bool".into()))
        }
        Some(v) if v.is_instance_of::<PyInt>() => {
            if let Ok(n) = v.extract::<u64>() {
                return Ok(Some(Phone::from_integer(n)));
            }
            if v.lt(0)? {
                return Err(bad("an int must not be negative".into()));
            }
            // beyond 64 bits: its decimal digits, which the core then limits to 20
            let digits: String = v.str()?.extract()?;
            Phone::parse(&digits)
                .map(Some)
                .map_err(|e| errors::to_py(&e))
        }
        Some(v) => Err(bad(format!(
            "must be a str, an int or None, not {}",
            type_name(v)
        ))),
    }
}

/// The Python type name of `value`, for messages.
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}
