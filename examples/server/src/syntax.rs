//! Whether a request body is JSON, checked as strictly as parsing it into a `serde_json::Value`
//! would (UTF-8, numbers in range, nesting at most 128 deep, nothing after the value) but
//! without building one: the body's values are read, then dropped.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::api_error::ApiError;

/// Checks that `bytes` are one JSON value.
///
/// ```
/// use identity_server::syntax::check;
/// assert!(check(br#"{"checkouts": [{"email": "doc@x.io"}]}"#).is_ok());
/// assert!(check(br#"{"phoneNumber": 1e400}"#).is_err());
/// assert!(check(format!("{}{}", "[".repeat(200), "]".repeat(200)).as_bytes()).is_err());
/// ```
///
/// # Errors
/// [`ApiError::MalformedJson`] with the parser's message, as for any body that is no JSON.
pub fn check(bytes: &[u8]) -> Result<(), ApiError> {
    serde_json::from_slice::<Valid>(bytes)
        .map(|Valid| ())
        .map_err(|e| ApiError::MalformedJson(e.to_string()))
}

/// Any JSON value, read and dropped.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Valid)
    }
}

impl<'de> Visitor<'de> for Valid {
    type Value = Valid;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Valid, A::Error> {
        while items.next_element::<Valid>()?.is_some() {}
        Ok(Valid)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Valid, A::Error> {
        while entries.next_entry::<Valid, Valid>()?.is_some() {}
        Ok(Valid)
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    /// The same answer, and the same message, as parsing into a value.
    #[test]
    fn bodies_are_judged_as_parsing_them_into_a_value_would() {
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        let fine = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let bodies: [&[u8]; 12] = [
            b"",
            b"{",
            br#"{"a": 1} x"#,
            b"email=a@b.c",
            b"{\"email\": \"\xff@x.io\"}",
            br#"{"n": 1e400}"#,
            br#"{"n": -1e400, "m": [1, 2.5, -3, 18446744073709551616]}"#,
            br#"{"s": "a\u0000b\ud800"}"#,
            deep.as_bytes(),
            fine.as_bytes(),
            br#"{"checkouts": [{"email": "doc@x.io", "at": null}], "dryRun": true}"#,
            b" [1, {\"a\": {}}] \n",
        ];
        for body in bodies {
            let value = serde_json::from_slice::<serde_json::Value>(body);
            let checked = check(body);
            assert_eq!(
                checked.as_ref().err().map(|e| format!("{e:?}")),
                value
                    .as_ref()
                    .err()
                    .map(|e| format!("MalformedJson({:?})", e.to_string())),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
