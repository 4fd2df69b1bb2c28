//! JavaScript values to a core request. Every wrong type is `INVALID_INPUT`, never a crash or
//! napi's own argument error; every rule about the values themselves is the core's.

use identity::{Email, IdentifyRequest, Phone, TenantId};
use napi::ValueType;
use napi::bindgen_prelude::{BigInt, Object, Unknown};

use crate::errors::Failure;

/// `{ email?, phoneNumber? }` to a request.
pub fn request(input: &Unknown<'_>) -> Result<IdentifyRequest, Failure> {
    let not_object = || {
        Failure::invalid(
            "request",
            "invalid request: pass an object like { email, phoneNumber }",
        )
    };
    if input.get_type().map_err(|_| not_object())? != ValueType::Object {
        return Err(not_object());
    }
    // SAFETY: the value was just checked to be an object.
    let object: Object<'_> = unsafe { input.cast() }.map_err(|_| not_object())?;
    let field = |name: &str| object.get::<Unknown<'_>>(name).ok().flatten();
    let email = email(field("email").as_ref())?;
    let phone = phone(field("phoneNumber").as_ref())?;
    IdentifyRequest::new(email, phone).map_err(Failure::from)
}

/// A tenant id: a string the core accepts.
pub fn tenant(value: &Unknown<'_>) -> Result<TenantId, Failure> {
    let not_string = || Failure::invalid("tenant", "invalid tenant: must be a string");
    if value.get_type().map_err(|_| not_string())? != ValueType::String {
        return Err(not_string());
    }
    // SAFETY: the type was checked just above.
    let text: String = unsafe { value.cast() }.map_err(|_| not_string())?;
    TenantId::parse(&text).map_err(Failure::from)
}

/// A phone region argument: a string (blank: none), `null` or `undefined` (none).
pub fn phone_region(value: &Unknown<'_>) -> Result<Option<String>, Failure> {
    let wrong = || {
        Failure::invalid(
            "phoneRegion",
            "invalid phone region: must be a string such as 'IN', or null",
        )
    };
    match value.get_type().map_err(|_| wrong())? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        // SAFETY: the type was just checked.
        ValueType::String => unsafe { value.cast::<String>() }
            .map(Some)
            .map_err(|_| wrong()),
        _ => Err(wrong()),
    }
}

fn kind(value: Option<&Unknown<'_>>) -> ValueType {
    value
        .and_then(|v| v.get_type().ok())
        .unwrap_or(ValueType::Undefined)
}

fn email(value: Option<&Unknown<'_>>) -> Result<Option<Email>, Failure> {
    match (kind(value), value) {
        (ValueType::Undefined | ValueType::Null, _) => Ok(None),
        (ValueType::String, Some(v)) => {
            // SAFETY: the type was checked just above.
            let text: String = unsafe { v.cast() }
                .map_err(|_| Failure::invalid("email", "invalid email: unreadable string"))?;
            Email::parse_optional(Some(&text)).map_err(Failure::from)
        }
        (other, _) => Err(Failure::invalid(
            "email",
            format!(
                "invalid email: must be a string or null, not {}",
                name(other)
            ),
        )),
    }
}

fn phone(value: Option<&Unknown<'_>>) -> Result<Option<Phone>, Failure> {
    let bad =
        |reason: String| Failure::invalid("phoneNumber", format!("invalid phone number: {reason}"));
    match (kind(value), value) {
        (ValueType::Undefined | ValueType::Null, _) => Ok(None),
        (ValueType::String, Some(v)) => {
            // SAFETY: the type was checked just above.
            let text: String = unsafe { v.cast() }.map_err(|_| bad("unreadable string".into()))?;
            Phone::parse_optional(Some(&text)).map_err(Failure::from)
        }
        (ValueType::Number, Some(v)) => {
            // SAFETY: the type was checked just above.
            let n: f64 = unsafe { v.cast() }.map_err(|_| bad("unreadable number".into()))?;
            const MAX_SAFE: f64 = 9_007_199_254_740_991.0; // Number.MAX_SAFE_INTEGER
            if !n.is_finite() || n.fract() != 0.0 {
                return Err(bad("a number must be an integer".into()));
            }
            if n < 0.0 {
                return Err(bad("a number must not be negative".into()));
            }
            if n > MAX_SAFE {
                return Err(bad("a number above Number.MAX_SAFE_INTEGER loses digits: pass a string or a bigint".into()));
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // integral, 0..=2^53
            Ok(Some(Phone::from_integer(n as u64)))
        }
        (ValueType::BigInt, Some(v)) => {
            // SAFETY: the type was checked just above.
            let big: BigInt = unsafe { v.cast() }.map_err(|_| bad("unreadable bigint".into()))?;
            let (negative, value, lossless) = big.get_u128();
            if negative {
                return Err(bad("a bigint must not be negative".into()));
            }
            if !lossless {
                return Err(bad("must have 1 to 20 digits".into()));
            }
            Phone::parse(&value.to_string())
                .map(Some)
                .map_err(Failure::from)
        }
        (other, _) => Err(bad(format!(
            "must be a string, a number, a bigint or null, not {}",
            name(other)
        ))),
    }
}

fn name(kind: ValueType) -> &'static str {
    match kind {
        ValueType::Boolean => "boolean",
        ValueType::Number => "number",
        ValueType::String => "string",
        ValueType::Symbol => "symbol",
        ValueType::Object => "object",
        ValueType::Function => "function",
        ValueType::External => "external",
        ValueType::BigInt => "bigint",
        _ => "undefined",
    }
}
