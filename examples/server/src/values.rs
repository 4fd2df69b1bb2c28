//! The values of the admin bodies' fields, each read with the service's own message for a value
//! of the wrong type (`#[serde(deserialize_with = "...")]`); `body.rs` names the field. A field
//! that is absent or null takes its default, except where a route says it is required.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::{Number, Value};

use crate::api_error::whole_number;

/// `true` or `false` (null: `false`).
///
/// # Errors
/// "must be true or false".
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Option::<bool>::deserialize(d)
        .map(Option::unwrap_or_default)
        .map_err(|_| D::Error::custom("must be true or false"))
}

/// A string, or null (`None`).
///
/// # Errors
/// "must be a string or null".
pub fn string_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d).map_err(|_| D::Error::custom("must be a string or null"))
}

/// As [`string_or_null`], for a field that must be present (absent: `None`, null: `Some(None)`).
///
/// # Errors
/// "must be a string or null".
pub fn given_string_or_null<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    string_or_null(d).map(Some)
}

/// A whole number (`5`, `5.0`, `5e0`), or null (`None`).
///
/// # Errors
/// "must be a whole number or null".
pub fn whole_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let message = || D::Error::custom("must be a whole number or null");
    match Option::<Number>::deserialize(d).map_err(|_| message())? {
        None => Ok(None),
        Some(n) => whole_number(&Value::Number(n))
            .map(Some)
            .ok_or_else(message),
    }
}

/// An array of positive whole numbers, or null (`None`).
///
/// # Errors
/// "must be an array of positive integers".
pub fn positive_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<i64>>, D::Error> {
    let message = || D::Error::custom("must be an array of positive integers");
    let Some(items) = Option::<Vec<Value>>::deserialize(d).map_err(|_| message())? else {
        return Ok(None);
    };
    items
        .iter()
        .map(|item| whole_number(item).filter(|n| *n > 0).ok_or_else(message))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
