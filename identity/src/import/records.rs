//! Checkouts as applications hand them over: JSON-shaped records `{"email", "phoneNumber",
//! "at"}` (the HTTP service's body, the Python and Node bindings' dicts and objects), each read
//! as `identify` reads a request, its time as the command line reads one. A malformed record is
//! refused by its index, as a file's bad line is refused by its number. A record may be handed
//! over parsed or as its JSON text ([`Record`]).

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::Checkout;
use crate::error::Result;
use crate::request::IdentifyRequest;

/// Reads one record, `origin` its index in the list: an object with `email` (a string or
/// null), `phoneNumber` (a string, a non-negative integer or null) and `at` (a time as
/// [`super::parse_time`] reads it, or Unix seconds or milliseconds as a number). Other keys are
/// ignored. The error is the reason, for the import's report.
///
/// ```
/// use identity::import::checkout_from_json;
/// let record = serde_json::json!({"email": "Doc@X.io", "phoneNumber": 5550101, "at": "2019-03-01"});
/// let checkout = checkout_from_json(&record, 0).unwrap();
/// assert_eq!(checkout.request.email().unwrap().as_str(), "doc@x.io");
/// let bad = serde_json::json!({"email": "doc@x.io"});
/// assert_eq!(checkout_from_json(&bad, 1).unwrap_err(), "missing time");
/// ```
///
/// # Errors
/// Why the record is malformed: not an object, a bad email or phone number, both absent, a
/// missing or unreadable time.
pub fn checkout_from_json(record: &Value, origin: u64) -> std::result::Result<Checkout, String> {
    let Value::Object(map) = record else {
        return Err("not an object".to_owned());
    };
    let request = request(map).map_err(|e| e.to_string())?;
    let at = match map.get("at") {
        None | Some(Value::Null) => return Err("missing time".to_owned()),
        Some(Value::String(text)) => super::parse_time(text)?,
        Some(Value::Number(n)) => super::parse_time(&n.to_string())?,
        Some(_) => return Err("at must be a string, a number (Unix time) or null".to_owned()),
    };
    Ok(Checkout::new(request, at, origin))
}

/// A record as an application hands it over: a JSON value, or the text of one (a [`RawValue`]:
/// the HTTP service borrows each record from its request body, so the whole list is never one
/// tree of values), read one at a time by [`crate::Identity::import_records`] and
/// [`crate::Identity::import_table_records`].
///
/// ```
/// use identity::import::Record;
/// use serde_json::value::RawValue;
/// let raw: &RawValue = serde_json::from_str(r#"{"email": "doc@x.io", "at": 1}"#).unwrap();
/// assert_eq!(raw.value().unwrap()["email"], "doc@x.io");
/// let nested = format!("{}{}", "[".repeat(200), "]".repeat(200)); // past the parser's 128
/// let deep: &RawValue = serde_json::from_str(&nested).unwrap();
/// assert!(deep.value().unwrap_err().starts_with("unreadable record"));
/// ```
pub trait Record {
    /// The record as a JSON value: borrowed when it is one already.
    ///
    /// # Errors
    /// Why its text cannot be read as a value (nested too deep, a number out of range), for the
    /// import's report.
    fn value(&self) -> std::result::Result<Cow<'_, Value>, String>;
}

impl Record for Value {
    fn value(&self) -> std::result::Result<Cow<'_, Value>, String> {
        Ok(Cow::Borrowed(self))
    }
}

impl Record for RawValue {
    fn value(&self) -> std::result::Result<Cow<'_, Value>, String> {
        serde_json::from_str(self.get())
            .map(Cow::Owned)
            .map_err(|e| format!("unreadable record: {e}"))
    }
}

impl<R: Record + ?Sized> Record for &R {
    fn value(&self) -> std::result::Result<Cow<'_, Value>, String> {
        (**self).value()
    }
}

impl<R: Record + ?Sized> Record for Box<R> {
    fn value(&self) -> std::result::Result<Cow<'_, Value>, String> {
        (**self).value()
    }
}

/// The record's email and phone number, read as `identify` reads a request's (a number beyond
/// `u64` is refused: a parsed record no longer has its exact text).
fn request(map: &Map<String, Value>) -> Result<IdentifyRequest> {
    IdentifyRequest::from_json_object(map, |_| {
        Err(crate::error::Error::invalid(
            crate::error::Field::PhoneNumber,
            "a number must be a non-negative integer below 2^64 (give longer numbers as strings)",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_read_values_as_identify_and_times_as_the_command_line() {
        let c = checkout_from_json(
            &json!({"email": " A@X.io ", "phoneNumber": "+1 (555) 010", "at": "2023-04-01 12:00:00+02", "id": 9}),
            4,
        )
        .unwrap();
        assert_eq!(c.request.email().unwrap().as_str(), "a@x.io");
        assert_eq!(c.request.phone_number().unwrap().as_str(), "+1555010");
        assert_eq!(c.at.unix_timestamp(), 1_680_343_200);
        assert_eq!(c.origin, 4);
        let ms = checkout_from_json(&json!({"phoneNumber": 7, "at": 1_680_343_200_000_i64}), 0);
        assert_eq!(ms.unwrap().at.unix_timestamp(), 1_680_343_200);
    }

    #[test]
    fn malformed_records_say_why() {
        let reason = |v: Value| checkout_from_json(&v, 0).unwrap_err();
        assert_eq!(reason(json!([1])), "not an object");
        assert_eq!(
            reason(json!({"at": "2023-01-01"})).split(':').next(),
            Some("invalid request")
        );
        assert!(reason(json!({"email": "x", "at": 1})).starts_with("invalid email"));
        assert!(reason(json!({"email": 5, "at": 1})).starts_with("invalid email: must be"));
        assert!(reason(json!({"phoneNumber": -1, "at": 1})).starts_with("invalid phone number"));
        assert!(reason(json!({"phoneNumber": true, "at": 1})).starts_with("invalid phone number"));
        assert_eq!(reason(json!({"email": "a@x.io"})), "missing time");
        assert_eq!(
            reason(json!({"email": "a@x.io", "at": null})),
            "missing time"
        );
        assert!(reason(json!({"email": "a@x.io", "at": "soon"})).starts_with("unreadable time"));
        assert!(reason(json!({"email": "a@x.io", "at": [1]})).starts_with("at must be"));
    }
}
