//! The options object of a method (`{ blockShared?: boolean }`, `{ suppress?: boolean }`): one
//! boolean flag, read strictly.

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
