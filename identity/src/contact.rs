//! Domain types: normalized [`Email`] and [`Phone`] (parse, don't validate), the [`ContactId`]
//! newtype, and the stored [`Contact`] row.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::{Error, Field, Result};

/// Longest email accepted, in characters, after normalization.
pub const EMAIL_MAX_CHARS: usize = 254;
/// Most digits a phone number may have.
pub const PHONE_MAX_DIGITS: usize = 20;

/// A normalized email address: trimmed, Unicode-normalized (NFC) and then lowercased
/// (Unicode-aware), exactly one `@` with a non-empty part on each side, no whitespace, control
/// or invisible format characters, at most 254 characters (counted as stored).
///
/// NFC makes the composed and decomposed spellings of an address (`é` as one code point, or `e`
/// and a combining accent) one address. Invisible format characters (general category Cf: the
/// zero-width space and joiners, the byte-order mark, bidi controls such as U+202E, the soft
/// hyphen) are refused: they make addresses that look identical but are not. Lowercasing is not
/// case folding: `ΟΔΟΣ@X.GR` becomes `οδος@x.gr` (final sigma), which is not the same address
/// as `οδοσ@x.gr`.
///
/// ```
/// use identity::Email;
/// let email = Email::parse("  George@HillValley.edu ")?;
/// assert_eq!(email.as_str(), "george@hillvalley.edu");
/// assert!(Email::parse("george").is_err());
/// assert_eq!(Email::parse("E\u{301}mile@x.io")?, Email::parse("\u{c9}mile@x.io")?);
/// assert!(Email::parse("\u{200b}george@hillvalley.edu").is_err());
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses and normalizes an email address.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Email`] when the value is empty after trimming or
    /// breaks one of the rules above.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid(Field::Email, reason);
        let trimmed = raw.trim();
        // no ASCII character is a format character: the common case costs one scan
        if !trimmed.is_ascii()
            && trimmed
                .chars()
                .any(|c| c.general_category() == GeneralCategory::Format)
        {
            return Err(bad(
                "must not contain invisible formatting characters (zero-width spaces or joiners, \
                 byte-order marks, bidi controls)",
            ));
        }
        let normalized = nfc(&nfc(trimmed).to_lowercase());
        if normalized.is_empty() {
            return Err(bad("must not be empty"));
        }
        if normalized
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad("must not contain whitespace or control characters"));
        }
        if normalized.chars().count() > EMAIL_MAX_CHARS {
            return Err(bad("must be at most 254 characters"));
        }
        let mut parts = normalized.split('@');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(local), Some(domain), None) if !local.is_empty() && !domain.is_empty() => {}
            (_, _, None) if normalized.contains('@') => {
                return Err(bad("must have a non-empty part on each side of '@'"));
            }
            _ => return Err(bad("must contain exactly one '@'")),
        }
        Ok(Email(normalized))
    }

    /// Parses an optional value: `None`, empty and all-whitespace values are absent (`Ok(None)`).
    ///
    /// # Errors
    /// As [`Email::parse`] for a present value.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => Email::parse(value).map(Some),
        }
    }

    /// The normalized address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value the library stored itself in a derived record, normalized when it was written:
    /// not checked again on the read path.
    pub(crate) fn from_record(value: String) -> Self {
        Email(value)
    }
}

/// `text` in Unicode normalization form C (ASCII, the common case, is already).
fn nfc(text: &str) -> String {
    if text.is_ascii() {
        text.to_owned()
    } else {
        text.nfc().collect()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A normalized phone number: the formatting characters space, `-`, `.`, `(`, `)` removed,
/// leaving an optional leading `+` and 1 to 20 ASCII digits.
///
/// ```
/// use identity::Phone;
/// assert_eq!(Phone::parse("+1 (555) 010-9999")?.as_str(), "+15550109999");
/// assert_eq!(Phone::from_integer(123456).as_str(), "123456");
/// assert!(Phone::parse("12a4").is_err());
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Parses and normalizes a phone number.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::PhoneNumber`] when the value is empty after
    /// trimming, or what remains after removing formatting is not `+`? and 1 to 20 digits.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |reason: &str| Error::invalid(Field::PhoneNumber, reason);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(bad("must not be empty"));
        }
        let normalized: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = normalized.strip_prefix('+').unwrap_or(&normalized);
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(
                "may contain only digits, a leading '+', and the separators space - . ( )",
            ));
        }
        if digits.is_empty() || digits.len() > PHONE_MAX_DIGITS {
            return Err(bad("must have 1 to 20 digits"));
        }
        Ok(Phone(normalized))
    }

    /// Parses an optional value: `None`, empty and all-whitespace values are absent (`Ok(None)`).
    ///
    /// # Errors
    /// As [`Phone::parse`] for a present value.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) => Phone::parse(value).map(Some),
        }
    }

    /// A phone number given as a non-negative integer: its decimal digits (at most 20 fit).
    #[must_use]
    pub fn from_integer(value: u64) -> Self {
        Phone(value.to_string())
    }

    /// The normalized number.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value the library stored itself in a derived record (see [`Email::from_record`]).
    pub(crate) fn from_record(value: String) -> Self {
        Phone(value)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Phone::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The id of a stored contact row.
///
/// ```
/// use identity::ContactId;
/// assert_eq!(ContactId::new(7).get(), 7);
/// assert_eq!(ContactId::new(7).to_string(), "7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(i64);

impl ContactId {
    /// The ids of a stored comma-separated list (`None` or empty: none); `None` when an item is
    /// not a number.
    pub(crate) fn stored_list(text: Option<&str>) -> Option<Vec<ContactId>> {
        text.unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().ok().map(ContactId::new))
            .collect()
    }

    /// The id with this value.
    #[must_use]
    pub const fn new(id: i64) -> Self {
        ContactId(id)
    }

    /// The id's value, as stored.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }

    /// The error for an id the tenant has no visible row (nor erased row) with.
    pub(crate) fn not_found(self) -> Error {
        Error::NotFound {
            entity: "contact",
            id: self.0,
        }
    }

    /// An id from text, such as a URL path segment: a positive decimal integer.
    ///
    /// ```
    /// use identity::ContactId;
    /// assert_eq!(ContactId::parse("42")?.get(), 42);
    /// assert!(ContactId::parse("0").is_err() && ContactId::parse("x").is_err());
    /// # Ok::<(), identity::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`crate::Field::ContactId`] otherwise.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw.trim().parse::<i64>() {
            Ok(id) if id > 0 => Ok(ContactId(id)),
            _ => Err(Error::invalid(
                Field::ContactId,
                "must be a positive integer",
            )),
        }
    }
}

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a row belongs to its customer: it is the primary, or a secondary of the primary it names.
/// The stored pair (`linked_id`, `link_precedence`) is read into this one value, so the two can
/// never disagree in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// The oldest row of its customer; stored as `linked_id = NULL`, `link_precedence = 'primary'`.
    Primary,
    /// Any other row, linked to its customer's primary; stored as `linked_id = id`,
    /// `link_precedence = 'secondary'`.
    SecondaryOf(ContactId),
}

impl Link {
    /// The stored `linked_id`: `None` for a primary.
    #[must_use]
    pub fn linked_id(self) -> Option<ContactId> {
        match self {
            Link::Primary => None,
            Link::SecondaryOf(id) => Some(id),
        }
    }

    /// The stored `link_precedence`: `primary` or `secondary`.
    #[must_use]
    pub fn precedence(self) -> &'static str {
        match self {
            Link::Primary => "primary",
            Link::SecondaryOf(_) => "secondary",
        }
    }

    /// Reads the stored pair.
    ///
    /// # Errors
    /// [`Error::CorruptRow`] for an unknown precedence, or a precedence that disagrees with
    /// `linked_id`.
    pub(crate) fn from_stored(id: i64, linked_id: Option<i64>, precedence: &str) -> Result<Self> {
        let corrupt = |reason: String| Error::CorruptRow { id, reason };
        match (precedence, linked_id) {
            ("primary", None) => Ok(Link::Primary),
            ("secondary", Some(to)) => Ok(Link::SecondaryOf(ContactId(to))),
            ("primary" | "secondary", _) => Err(corrupt(format!(
                "link_precedence `{precedence}` disagrees with linked_id"
            ))),
            (other, _) => Err(corrupt(format!("unknown link_precedence `{other}`"))),
        }
    }
}

/// One stored row of the `contact` table (rows with `deleted_at` set are never produced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The row id.
    pub id: ContactId,
    /// The email, if the row has one.
    pub email: Option<Email>,
    /// The phone number, if the row has one.
    pub phone_number: Option<Phone>,
    /// Primary, or secondary of which primary.
    pub link: Link,
    /// When the row was inserted.
    pub created_at: OffsetDateTime,
    /// When the row was last changed.
    pub updated_at: OffsetDateTime,
}

impl Contact {
    /// Builds a row from stored column values, checking that they satisfy the data model.
    ///
    /// # Errors
    /// [`Error::CorruptRow`] when a stored value does not parse.
    pub(crate) fn from_stored(
        id: i64,
        email: Option<&str>,
        phone_number: Option<&str>,
        linked_id: Option<i64>,
        link_precedence: &str,
        created_at: OffsetDateTime,
        updated_at: OffsetDateTime,
    ) -> Result<Self> {
        let corrupt = |reason: String| Error::CorruptRow { id, reason };
        // A stored value that normalization would change could never be matched by SQL:
        // report it instead of silently showing a different value.
        let email = email
            .map(|raw| match Email::parse(raw) {
                Ok(e) if e.as_str() == raw => Ok(e),
                Ok(_) => Err(corrupt("email is not normalized".into())),
                Err(e) => Err(corrupt(e.to_string())),
            })
            .transpose()?;
        let phone_number = phone_number
            .map(|raw| match Phone::parse(raw) {
                Ok(p) if p.as_str() == raw => Ok(p),
                Ok(_) => Err(corrupt("phone number is not normalized".into())),
                Err(e) => Err(corrupt(e.to_string())),
            })
            .transpose()?;
        Ok(Contact {
            id: ContactId(id),
            email,
            phone_number,
            link: Link::from_stored(id, linked_id, link_precedence)?,
            created_at,
            updated_at,
        })
    }

    /// The stored `linked_id`: the primary this row links to, `None` for a primary.
    #[must_use]
    pub fn linked_id(&self) -> Option<ContactId> {
        self.link.linked_id()
    }

    /// The id of the primary of this row's customer, according to this row alone.
    #[must_use]
    pub fn root(&self) -> ContactId {
        self.linked_id().unwrap_or(self.id)
    }

    /// Whether the row is stored as a primary.
    #[must_use]
    pub fn is_primary(&self) -> bool {
        self.link == Link::Primary
    }

    /// The row's age for "oldest row": `created_at`, then id.
    #[must_use]
    pub fn age(&self) -> (OffsetDateTime, ContactId) {
        (self.created_at, self.id)
    }
}

/// A row for the unit tests: created `age` seconds after the epoch, secondary of `linked`.
#[cfg(test)]
pub(crate) fn test_row(
    id: i64,
    email: Option<&str>,
    phone: Option<&str>,
    linked: Option<i64>,
    age: i64,
) -> Contact {
    let at = OffsetDateTime::from_unix_timestamp(age).expect("a test timestamp");
    Contact {
        id: ContactId(id),
        email: email.map(|e| Email::parse(e).expect("a test email")),
        phone_number: phone.map(|p| Phone::parse(p).expect("a test phone")),
        link: linked.map_or(Link::Primary, |l| Link::SecondaryOf(ContactId(l))),
        created_at: at,
        updated_at: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email_reason(raw: &str) -> String {
        match Email::parse(raw) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, Field::Email);
                reason
            }
            other => panic!("expected invalid email for {raw:?}, got {other:?}"),
        }
    }

    #[test]
    fn email_is_trimmed_and_lowercased_unicode_aware() {
        assert_eq!(
            Email::parse(" Doc@HillValley.EDU\t").unwrap().as_str(),
            "doc@hillvalley.edu"
        );
        assert_eq!(
            Email::parse("ÉMILE@Exämple.COM").unwrap().as_str(),
            "émile@exämple.com"
        );
    }

    #[test]
    fn email_without_exactly_one_at_is_rejected() {
        assert!(email_reason("doc").contains("exactly one '@'"));
        assert!(email_reason("a@b@c").contains("exactly one '@'"));
        assert!(email_reason("@b").contains("each side"));
        assert!(email_reason("a@").contains("each side"));
    }

    #[test]
    fn email_with_inner_whitespace_or_control_is_rejected() {
        assert!(email_reason("a b@c").contains("whitespace"));
        assert!(email_reason("a\u{0}b@c").contains("control"));
        assert!(email_reason("a\u{7f}@c").contains("control"));
    }

    #[test]
    fn email_length_limit_counts_characters() {
        let ok = format!("{}@x.io", "é".repeat(249));
        assert_eq!(ok.chars().count(), 254);
        assert!(Email::parse(&ok).is_ok());
        let long = format!("{}@x.io", "é".repeat(250));
        assert!(email_reason(&long).contains("254"));
    }

    #[test]
    fn empty_values_are_absent_for_optional_parse() {
        assert_eq!(Email::parse_optional(Some("   ")).unwrap(), None);
        assert_eq!(Email::parse_optional(None).unwrap(), None);
        assert_eq!(Phone::parse_optional(Some("\t")).unwrap(), None);
        assert!(Email::parse("  ").is_err());
    }

    #[test]
    fn phone_formatting_is_removed() {
        assert_eq!(
            Phone::parse("+1 (555) 010-9999").unwrap().as_str(),
            "+15550109999"
        );
        assert_eq!(
            Phone::parse(" 555.010.9999 ").unwrap().as_str(),
            "5550109999"
        );
    }

    #[test]
    fn phone_rules_are_enforced() {
        for bad in [
            "12a",
            "++1",
            "1+2",
            "()",
            "+",
            "1\t2",
            "١٢٣",
            &"1".repeat(21),
        ] {
            let err = Phone::parse(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        field: Field::PhoneNumber,
                        ..
                    }
                ),
                "{bad:?} gave {err:?}"
            );
        }
        assert!(Phone::parse(&format!("+{}", "9".repeat(20))).is_ok());
        assert_eq!(Phone::from_integer(u64::MAX).as_str().len(), 20);
    }

    #[test]
    fn corrupt_stored_values_are_reported_with_the_row_id() {
        let now = OffsetDateTime::now_utc();
        let err =
            Contact::from_stored(7, Some("nope"), None, None, "primary", now, now).unwrap_err();
        assert!(
            err.to_string().starts_with("corrupt contact row 7"),
            "{err}"
        );
        let err = Contact::from_stored(8, None, Some("1"), None, "boss", now, now).unwrap_err();
        assert!(err.to_string().contains("link_precedence"), "{err}");
        let err =
            Contact::from_stored(8, None, Some("1"), Some(2), "primary", now, now).unwrap_err();
        assert!(
            err.to_string().contains("disagrees with linked_id"),
            "{err}"
        );
        let err =
            Contact::from_stored(9, Some("A@x.io"), None, None, "primary", now, now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt contact row 9: email is not normalized"
        );
        let err =
            Contact::from_stored(10, None, Some("1-2"), None, "primary", now, now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt contact row 10: phone number is not normalized"
        );
    }
}
