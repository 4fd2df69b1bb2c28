//! The request ([`IdentifyRequest`]) and the answer ([`ConsolidatedContact`]) of `identify`,
//! with the request's values the answer says were left out ([`Ignored`]), including their JSON
//! wire shapes.

use serde::{Deserialize, Serialize};

use crate::contact::{ContactId, Email, Phone};
use crate::error::{Error, Field, Result};
use crate::region::PhoneRegion;
use crate::shared_list::SharedList;

/// A validated identify/lookup request: at least one of an email and a phone number.
///
/// ```
/// use identity::IdentifyRequest;
/// let req = IdentifyRequest::parse(Some("Doc@HillValley.edu"), Some(" "))?;
/// assert_eq!(req.email().unwrap().as_str(), "doc@hillvalley.edu");
/// assert!(req.phone_number().is_none()); // blank means absent
/// assert!(IdentifyRequest::parse(None, Some("")).is_err()); // both absent
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdentifyRequest {
    email: Option<Email>,
    phone_number: Option<Phone>,
}

impl IdentifyRequest {
    /// Builds a request from already-parsed values.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Request`] when both are `None`.
    pub fn new(email: Option<Email>, phone_number: Option<Phone>) -> Result<Self> {
        if email.is_none() && phone_number.is_none() {
            return Err(Error::invalid(
                Field::Request,
                "an email or a phone number is required",
            ));
        }
        Ok(IdentifyRequest {
            email,
            phone_number,
        })
    }

    /// Parses raw strings; blank values count as absent.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for the first field that breaks the contract, or naming
    /// [`Field::Request`] when both are absent.
    pub fn parse(email: Option<&str>, phone_number: Option<&str>) -> Result<Self> {
        IdentifyRequest::new(
            Email::parse_optional(email)?,
            Phone::parse_optional(phone_number)?,
        )
    }

    /// Parses a JSON request body `{"email"?: string|null, "phoneNumber"?: string|integer|null}`:
    /// the one way in from the wire.
    ///
    /// Unknown fields are ignored. A phone number may be a non-negative integer, meaning its
    /// decimal digits, read from its exact text (so 20-digit numbers above `u64::MAX` keep every
    /// digit), or a whole number written as a float (`12402.0`, which JSON Schema also counts
    /// as an integer); a negative, fractional or boolean value is rejected, as is any
    /// non-string email.
    ///
    /// ```
    /// use identity::{Field, IdentifyRequest};
    /// let req = IdentifyRequest::from_json(br#"{"email": null, "phoneNumber": 123456, "x": 1}"#)?;
    /// assert_eq!(req.phone_number().unwrap().as_str(), "123456");
    /// let big = IdentifyRequest::from_json(br#"{"phoneNumber": 99999999999999999999}"#)?;
    /// assert_eq!(big.phone_number().unwrap().as_str(), "99999999999999999999");
    /// let whole = IdentifyRequest::from_json(br#"{"phoneNumber": 12402.0}"#)?;
    /// assert_eq!(whole.phone_number().unwrap().as_str(), "12402");
    /// assert!(IdentifyRequest::from_json(br#"{"phoneNumber": 12402.5}"#).is_err());
    /// let err = IdentifyRequest::from_json(b"{").unwrap_err();
    /// assert!(matches!(err, identity::Error::InvalidInput { field: Field::Body, .. }));
    /// # Ok::<(), identity::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Body`] when the bytes are not JSON, the offending
    /// field, or [`Field::Request`] when the body is not a JSON object or carries neither value.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        use serde_json::Value;
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid(Field::Body, format!("not valid JSON ({e})")))?;
        let Value::Object(map) = value else {
            return Err(Error::invalid(Field::Request, "body must be a JSON object"));
        };
        Self::from_json_object(&map, |n| big_integer(n, body))
    }

    /// A request from a JSON object's `email` and `phoneNumber`, as [`Self::from_json`] reads
    /// them; `big` reads a number beyond `u64` (which needs the exact text, when there is one).
    pub(crate) fn from_json_object(
        map: &serde_json::Map<String, serde_json::Value>,
        big: impl Fn(&serde_json::Number) -> Result<Phone>,
    ) -> Result<Self> {
        use serde_json::Value;
        let email = match map.get("email") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Email::parse_optional(Some(s))?,
            Some(_) => return Err(Error::invalid(Field::Email, "must be a string or null")),
        };
        let phone_number = match map.get("phoneNumber") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Phone::parse_optional(Some(s))?,
            Some(Value::Number(n)) => match n.as_u64().or_else(|| whole_float(n)) {
                Some(value) => Some(Phone::from_integer(value)),
                None => Some(big(n)?),
            },
            Some(_) => {
                return Err(Error::invalid(
                    Field::PhoneNumber,
                    "must be a string, a non-negative integer or null",
                ));
            }
        };
        IdentifyRequest::new(email, phone_number)
    }

    /// The request as a tenant with phone region `region` reads it (`None`: unchanged).
    ///
    /// # Errors
    /// As [`Phone::in_region`].
    pub fn in_region(&self, region: Option<PhoneRegion>) -> Result<IdentifyRequest> {
        let phone = match (region, self.phone_number()) {
            (Some(region), Some(phone)) => Some(phone.in_region(region)?),
            (_, phone) => phone.cloned(),
        };
        IdentifyRequest::new(self.email().cloned(), phone)
    }

    /// The normalized email, if given.
    #[must_use]
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }

    /// The normalized phone number, if given.
    #[must_use]
    pub fn phone_number(&self) -> Option<&Phone> {
        self.phone_number.as_ref()
    }
}

/// A JSON number that is not a `u64`: an integer above `u64::MAX` (read again from its exact
/// text in `body`, which serde_json turned into a float) is its digits; anything else is refused.
fn big_integer(n: &serde_json::Number, body: &[u8]) -> Result<Phone> {
    let refuse = || {
        Error::invalid(
            Field::PhoneNumber,
            "a number must be a non-negative integer",
        )
    };
    if !n.as_f64().is_some_and(|f| f >= 0.0) {
        return Err(refuse());
    }
    #[derive(Deserialize)]
    struct RawPhone<'a> {
        #[serde(borrow, rename = "phoneNumber")]
        phone_number: &'a serde_json::value::RawValue,
    }
    let text = serde_json::from_slice::<RawPhone<'_>>(body)
        .map(|raw| raw.phone_number.get().to_owned())
        .unwrap_or_default();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse());
    }
    Phone::parse(&text)
}

/// A whole number written with a fraction or an exponent (`12402.0`, `1.2402e4`), which JSON
/// Schema counts as an integer: its value, while a double holds it exactly (below 2^53).
fn whole_float(n: &serde_json::Number) -> Option<u64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let f = n.as_f64()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole, 0..2^53: exact
    (f.fract() == 0.0 && (0.0..EXACT).contains(&f)).then_some(f as u64)
}

/// The consolidated customer: what `identify` and `lookup` answer.
///
/// Serialized with serde it uses the wire field names (`primaryContactId`, `emails`,
/// `phoneNumbers`, `secondaryContactIds`); wrap it in [`IdentifyResponse`] for the full body.
/// Its lists are [`SharedList`]s, shared with the customer's record: cloning an answer, or
/// answering a returning customer from a record the store holds, costs the same at any size.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsolidatedContact {
    /// The customer's primary row.
    pub primary_contact_id: ContactId,
    /// Distinct emails: the primary's first (if it has one), then by row id.
    pub emails: SharedList<Email>,
    /// Distinct phone numbers: the primary's first (if it has one), then by row id.
    pub phone_numbers: SharedList<Phone>,
    /// Every secondary row of the customer, ascending.
    pub secondary_contact_ids: SharedList<ContactId>,
    /// The request's values that were left out of linking, and why (for example a blocked
    /// value); empty when every value was used. Not part of the `contact` object on the wire:
    /// [`IdentifyResponse`] carries it beside it.
    #[serde(skip)]
    pub ignored: Vec<Ignored>,
}

impl ConsolidatedContact {
    /// The same answer saying that `ignored` were left out.
    #[must_use]
    pub fn with_ignored(mut self, ignored: &[Ignored]) -> Self {
        self.ignored.extend_from_slice(ignored);
        self
    }
}

/// The wire body of an identify answer: `{"contact": {...}}`, plus `"ignored": [...]` when the
/// request had values left out (the `contact` object and its keys never change).
///
/// ```
/// use identity::{ConsolidatedContact, ContactId, Field, IdentifyResponse, Ignored, IgnoredReason};
/// let contact = ConsolidatedContact {
///     primary_contact_id: ContactId::new(1),
///     emails: vec![].into(),
///     phone_numbers: vec![].into(),
///     secondary_contact_ids: vec![ContactId::new(2)].into(),
///     ignored: vec![],
/// };
/// let json = serde_json::to_string(&IdentifyResponse::from(contact.clone()))?;
/// assert_eq!(
///     json,
///     r#"{"contact":{"primaryContactId":1,"emails":[],"phoneNumbers":[],"secondaryContactIds":[2]}}"#
/// );
/// let blocked = Ignored { field: Field::Email, reason: IgnoredReason::Blocked };
/// let json = serde_json::to_string(&IdentifyResponse::from(contact.with_ignored(&[blocked])))?;
/// assert!(json.ends_with(r#","ignored":[{"field":"email","reason":"blocked"}]}"#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyResponse {
    /// The consolidated customer.
    pub contact: ConsolidatedContact,
    /// The request's values left out of linking, and why; omitted on the wire when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<Ignored>,
}

impl From<ConsolidatedContact> for IdentifyResponse {
    fn from(mut contact: ConsolidatedContact) -> Self {
        let ignored = std::mem::take(&mut contact.ignored);
        IdentifyResponse { contact, ignored }
    }
}

/// Why a value of a request was left out of linking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IgnoredReason {
    /// The value is on the tenant's blocked list.
    Blocked,
    /// The value belongs to a customer that a split keeps apart from the customer of the
    /// request's email ([`crate::Identity::split`]); the email's customer answers.
    KeptApart,
    /// The value was erased with suppression ([`crate::Identity::erase`]): the store keeps
    /// only a keyed hash of it, and treats it as blocked.
    Suppressed,
    /// Linking the value would give its customer more distinct emails or phone numbers than
    /// the tenant's cap ([`crate::Limits`]), directly or by a merge; the email's customer
    /// answers.
    Limit,
}

impl IgnoredReason {
    /// The wire spelling: `blocked`, `kept_apart`, `suppressed`, `limit`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoredReason::Blocked => "blocked",
            IgnoredReason::KeptApart => "kept_apart",
            IgnoredReason::Suppressed => "suppressed",
            IgnoredReason::Limit => "limit",
        }
    }
}

/// A value of the request that was not stored nor matched, and why: `{"field": "email",
/// "reason": "blocked"}` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ignored {
    /// [`Field::Email`] or [`Field::PhoneNumber`].
    pub field: Field,
    /// Why.
    pub reason: IgnoredReason,
}

#[derive(Serialize, Deserialize)]
struct IgnoredWire {
    field: String,
    reason: String,
}

impl Serialize for Ignored {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        IgnoredWire {
            field: self.field.wire_name().to_owned(),
            reason: self.reason.as_str().to_owned(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ignored {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let wire = IgnoredWire::deserialize(d)?;
        let field = match wire.field.as_str() {
            "email" => Field::Email,
            "phoneNumber" => Field::PhoneNumber,
            other => return Err(D::Error::custom(format!("unknown field `{other}`"))),
        };
        let reason = match wire.reason.as_str() {
            "blocked" => IgnoredReason::Blocked,
            "kept_apart" => IgnoredReason::KeptApart,
            "suppressed" => IgnoredReason::Suppressed,
            "limit" => IgnoredReason::Limit,
            other => return Err(D::Error::custom(format!("unknown reason `{other}`"))),
        };
        Ok(Ignored { field, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(body: serde_json::Value) -> Field {
        match IdentifyRequest::from_json(body.to_string().as_bytes()) {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input for {body}, got {other:?}"),
        }
    }

    #[test]
    fn json_rejects_wrong_types_naming_the_field() {
        assert_eq!(field_of(json!({"email": 5})), Field::Email);
        assert_eq!(field_of(json!({"email": ["a@b"]})), Field::Email);
        assert_eq!(field_of(json!({"phoneNumber": -1})), Field::PhoneNumber);
        assert_eq!(field_of(json!({"phoneNumber": 1.5})), Field::PhoneNumber);
        assert_eq!(field_of(json!({"phoneNumber": true})), Field::PhoneNumber);
        assert_eq!(field_of(json!({"phoneNumber": {}})), Field::PhoneNumber);
        assert_eq!(field_of(json!([])), Field::Request);
        assert_eq!(field_of(json!({})), Field::Request);
        assert_eq!(
            field_of(json!({"email": " ", "phoneNumber": ""})),
            Field::Request
        );
    }

    #[test]
    fn json_bytes_keep_every_digit_of_big_integers_and_reject_non_integers() {
        let parse = |body: &str| IdentifyRequest::from_json(body.as_bytes());
        let big = parse(r#"{"phoneNumber": 18446744073709551616}"#).unwrap();
        assert_eq!(big.phone_number().unwrap().as_str(), "18446744073709551616");
        // whole numbers however written (JSON Schema's integers)
        for (body, digits) in [
            (r#"{"phoneNumber": 1.0}"#, "1"),
            (r#"{"phoneNumber": 1e3}"#, "1000"),
            (r#"{"phoneNumber": -0}"#, "0"),
        ] {
            let phone = parse(body).unwrap();
            assert_eq!(phone.phone_number().unwrap().as_str(), digits, "{body}");
        }
        for body in [
            r#"{"phoneNumber": 1.5}"#,
            r#"{"phoneNumber": -1.0}"#,
            r#"{"phoneNumber": 1e300}"#,
            r#"{"phoneNumber": 123456789012345678901}"#,
        ] {
            let err = parse(body).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        field: Field::PhoneNumber,
                        ..
                    }
                ),
                "{body}: {err}"
            );
        }
        let err = parse("{\"email\": ").unwrap_err().to_string();
        assert!(
            err.starts_with("invalid request body: not valid JSON"),
            "{err}"
        );
        assert_eq!(
            parse("[1]").unwrap_err().to_string(),
            "invalid request: body must be a JSON object"
        );
    }

    #[test]
    fn json_accepts_integer_phone_and_ignores_unknown_fields() {
        let req = IdentifyRequest::from_json(br#"{"phoneNumber": 0, "x": 1}"#).unwrap();
        assert_eq!(req.phone_number().unwrap().as_str(), "0");
        assert_eq!(req.email(), None);
    }

    #[test]
    fn requests_without_a_region_keep_the_plain_rules() {
        let req = IdentifyRequest::parse(Some("a@b.c"), Some("098765 43210")).unwrap();
        assert_eq!(req.in_region(None).unwrap(), req);
        let local = req
            .in_region(Some(PhoneRegion::parse("IN").unwrap()))
            .unwrap();
        assert_eq!(local.phone_number().unwrap().as_str(), "+919876543210");
        assert_eq!(local.email(), req.email());
    }
}
