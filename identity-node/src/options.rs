//! The options object of a method (`{ blockShared?: boolean }`, `{ suppress?: boolean }`): one
//! boolean flag, read strictly; and the caps object of `setLimits`.

use napi::ValueType;
use napi::bindgen_prelude::{Object, Unknown};

use crate::errors::Failure;

/// The flag `name` of `options` (`undefined`, `null` or an object): `false` when absent;
/// anything but a boolean is `INVALID_INPUT` with `field: 'request'`.
pub fn flag(options: Option<&Unknown<'_>>, name: &str) -> Result<bool, Failure> {
    let bad = || {
        Failure::invalid(
            "request",
            format!("invalid request: options must be an object like {{ {name}: true }}"),
        )
    };
    let Some(options) = options else {
        return Ok(false);
    };
    match options.get_type().map_err(|_| bad())? {
        ValueType::Undefined | ValueType::Null => Ok(false),
        ValueType::Object => {
            // SAFETY: the type was checked just above.
            let object: Object<'_> = unsafe { options.cast() }.map_err(|_| bad())?;
            let value = object.get::<Unknown<'_>>(name).ok().flatten();
            match value.as_ref().map(Unknown::get_type).transpose() {
                Ok(None | Some(ValueType::Undefined | ValueType::Null)) => Ok(false),
                Ok(Some(ValueType::Boolean)) => {
                    let value = value.ok_or_else(bad)?;
                    // SAFETY: the type was checked just above.
                    unsafe { value.cast::<bool>() }.map_err(|_| bad())
                }
                _ => Err(Failure::invalid(
                    "request",
                    format!("invalid request: {name} must be true or false"),
                )),
            }
        }
        _ => Err(bad()),
    }
}

/// `{ emails?: number | null, phones?: number | null }`: the caps (absent or `null`: no cap).
/// Anything else, or a cap that is not a whole number from 1 to 1000000, is `INVALID_INPUT`
/// with `field: 'limits'`.
pub fn limits(value: &Unknown<'_>) -> Result<identity::Limits, Failure> {
    let bad = |what: &str| Failure::invalid("limits", format!("invalid limits: {what}"));
    if value.get_type().map_err(|_| bad("must be an object"))? != ValueType::Object {
        return Err(bad("must be an object like { emails: 5, phones: null }"));
    }
    // SAFETY: the type was checked just above.
    let object: Object<'_> = unsafe { value.cast() }.map_err(|_| bad("must be an object"))?;
    let cap = |name: &str| -> Result<Option<i64>, Failure> {
        let wrong = || {
            bad(&format!(
                "{name} must be a whole number from 1 to 1000000, or null"
            ))
        };
        let value = object.get::<Unknown<'_>>(name).ok().flatten();
        match value.as_ref().map(Unknown::get_type).transpose() {
            Ok(None | Some(ValueType::Undefined | ValueType::Null)) => Ok(None),
            Ok(Some(ValueType::Number)) => {
                let value = value.ok_or_else(wrong)?;
                // SAFETY: the type was checked just above.
                let n = unsafe { value.cast::<f64>() }.map_err(|_| wrong())?;
                if n.fract() != 0.0 || !n.is_finite() || n.abs() > 1e12 {
                    return Err(wrong());
                }
                // a whole number of at most 1e12: exact as an i64
                let whole = n as i64;
                Ok(Some(whole))
            }
            _ => Err(wrong()),
        }
    };
    identity::Limits::new(cap("emails")?, cap("phones")?).map_err(Failure::from)
}
