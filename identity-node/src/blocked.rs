//! Blocked values for JavaScript: `BlockedEntry` (an entry of a tenant's blocked list, in and
//! out) and `Ignored` (a value an answer left out).

use napi::ValueType;
use napi::bindgen_prelude::{Object, Unknown};
use napi_derive::napi;

use crate::errors::Failure;

/// One entry of a tenant's blocked list: `kind` and exactly one of `value` (an exact email or
/// phone number, normalized like a request's) and `pattern` (a regular expression matched
/// against normalized values).
#[napi(object)]
pub struct BlockedEntry {
    /// `'email'` or `'phone'`.
    #[napi(ts_type = "'email' | 'phone'")]
    pub kind: String,
    /// The exact value.
    pub value: Option<String>,
    /// The regular expression.
    pub pattern: Option<String>,
}

impl From<&identity::BlockedValue> for BlockedEntry {
    fn from(e: &identity::BlockedValue) -> Self {
        BlockedEntry {
            kind: e.kind().as_str().to_owned(),
            value: e.value().map(str::to_owned),
            pattern: e.pattern_text().map(str::to_owned),
        }
    }
}

/// A value of the request that was not stored nor matched, and why.
#[napi(object)]
pub struct Ignored {
    /// `'email'` or `'phoneNumber'`.
    #[napi(ts_type = "'email' | 'phoneNumber'")]
    pub field: String,
    /// Why: `'blocked'` (on the tenant's blocked list), `'kept_apart'` (the phone number's
    /// customer is kept apart from the email's by a split), `'suppressed'` (an erased value) or
    /// `'limit'` (linking it would pass the tenant's per-customer cap).
    #[napi(ts_type = "'blocked' | 'kept_apart' | 'suppressed' | 'limit'")]
    pub reason: String,
}

impl From<&identity::Ignored> for Ignored {
    fn from(i: &identity::Ignored) -> Self {
        Ignored {
            field: i.field.wire_name().to_owned(),
            reason: i.reason.as_str().to_owned(),
        }
    }
}

/// `{ kind, value? , pattern? }` to a core entry; every wrong type is `INVALID_INPUT`.
pub fn entry(input: &Unknown<'_>) -> Result<identity::BlockedValue, Failure> {
    let not_object = || {
        Failure::invalid(
            "request",
            "invalid request: pass an object like { kind: 'email', value: '...' }",
        )
    };
    if input.get_type().map_err(|_| not_object())? != ValueType::Object {
        return Err(not_object());
    }
    // SAFETY: the value was just checked to be an object.
    let object: Object<'_> = unsafe { input.cast() }.map_err(|_| not_object())?;
    let text = |name: &'static str| -> Result<Option<String>, Failure> {
        let wrong = || Failure::invalid(name, format!("invalid {name}: must be a string"));
        let Some(value) = object.get::<Unknown<'_>>(name).ok().flatten() else {
            return Ok(None);
        };
        match value.get_type().map_err(|_| wrong())? {
            ValueType::Undefined | ValueType::Null => Ok(None),
            // SAFETY: the type was just checked.
            ValueType::String => unsafe { value.cast::<String>() }
                .map(Some)
                .map_err(|_| wrong()),
            _ => Err(wrong()),
        }
    };
    let kind = text("kind")?.unwrap_or_default();
    let (value, pattern) = (text("value")?, text("pattern")?);
    identity::BlockedValue::parse(&kind, value.as_deref(), pattern.as_deref())
        .map_err(Failure::from)
}
