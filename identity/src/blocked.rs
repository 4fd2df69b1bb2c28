//! Merge protection by blocked values: a per-tenant list of emails and phone numbers (exact
//! values, or patterns) that a request never stores and never matches. Placeholders such as
//! `null@...` or `0000000000` would otherwise join every customer who typed them into one.
//!
//! [`BlockedValue`] is one entry; [`Identity::blocked_values`](crate::Identity::blocked_values),
//! [`Identity::block`](crate::Identity::block) and [`Identity::unblock`](crate::Identity::unblock)
//! read and change a tenant's list, which starts as [`BlockedValue::defaults`]. A request's blocked
//! values are left out before anything is read ([`Ignored`] in the answer says which); a request
//! left with nothing is refused with [`Error::BlockedValue`].

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use regex::RegexSet;
use serde::{Deserialize, Serialize};

use crate::contact::{Email, Phone};
use crate::error::{Error, Field, Result};
use crate::identifier::IdentifierKind;
use crate::region::PhoneRegion;
use crate::request::IdentifyRequest;
use crate::suppress::Suppressed;

mod pattern;

pub use pattern::MAX_PATTERN_LEN;
use pattern::Pattern;

pub use crate::request::{Ignored, IgnoredReason};

/// One entry of a tenant's blocked list: an exact value or a pattern, for emails or phones.
///
/// Exact values are normalized like a request's ([`Email::parse`], [`Phone::parse`]; in a tenant
/// with a phone region, numbers valid there are kept in E.164), so `Test@Test.com` blocks
/// `test@test.com`. A pattern is a regular expression ([`regex`](https://docs.rs/regex) syntax)
/// matched against the normalized value anywhere unless anchored: `^null@` blocks `null@` at any
/// domain.
///
/// On the wire: `{"kind": "email", "value": "test@test.com"}` or
/// `{"kind": "phone", "pattern": "^\\+?1234567890$"}`.
///
/// ```
/// use identity::BlockedValue;
/// let entry = BlockedValue::email(" Test@Test.com ")?;
/// assert_eq!(entry.value(), Some("test@test.com"));
/// assert!(BlockedValue::pattern("phone", "^(").is_err()); // not a regular expression
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlockedValue {
    kind: IdentifierKind,
    #[serde(flatten)]
    rule: Rule,
}

/// An exact value or a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Rule {
    Value(String),
    Pattern(Pattern),
}

impl BlockedValue {
    /// An exact email, normalized like a request's.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Value`] when it is not an email.
    pub fn email(value: &str) -> Result<Self> {
        let email = Email::parse(value).map_err(as_value)?;
        Ok(Self::exact(IdentifierKind::Email, email.as_str()))
    }

    /// An exact phone number, normalized like a request's.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Value`] when it is not a phone number.
    pub fn phone(value: &str) -> Result<Self> {
        let phone = Phone::parse(value).map_err(as_value)?;
        Ok(Self::exact(IdentifierKind::Phone, phone.as_str()))
    }

    /// A pattern for `kind` (`email` or `phone`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Kind`] for another kind, or [`Field::Pattern`]
    /// when the pattern is empty, longer than [`MAX_PATTERN_LEN`] or not a regular expression.
    pub fn pattern(kind: &str, pattern: &str) -> Result<Self> {
        let kind = parse_kind(kind)?;
        Ok(BlockedValue {
            kind,
            rule: Rule::Pattern(Pattern::new(pattern)?),
        })
    }

    /// An entry from the wire's fields: `kind` and exactly one of `value` and `pattern`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Kind`], [`Field::Value`] or [`Field::Pattern`].
    pub fn parse(kind: &str, value: Option<&str>, pattern: Option<&str>) -> Result<Self> {
        match (value, pattern) {
            (Some(value), None) => match parse_kind(kind)? {
                IdentifierKind::Email => Self::email(value),
                IdentifierKind::Phone => Self::phone(value),
            },
            (None, Some(pattern)) => Self::pattern(kind, pattern),
            _ => Err(Error::invalid(
                Field::Value,
                "give exactly one of a value and a pattern",
            )),
        }
    }

    /// An entry as a store keeps it (already normalized); a bad one is corrupt data.
    pub(crate) fn stored(kind: &str, pattern: bool, value: &str) -> Result<Self> {
        let corrupt = || Error::CorruptGraph {
            reason: format!("blocked {kind} entry `{value}` cannot be read"),
        };
        let kind = parse_kind(kind).map_err(|_| corrupt())?;
        if pattern {
            return Ok(BlockedValue {
                kind,
                rule: Rule::Pattern(Pattern::new(value).map_err(|_| corrupt())?),
            });
        }
        Ok(Self::exact(kind, value))
    }

    fn exact(kind: IdentifierKind, value: &str) -> Self {
        BlockedValue {
            kind,
            rule: Rule::Value(value.to_owned()),
        }
    }

    /// The list every tenant starts with (the migrations seed the same entries): placeholder
    /// emails (`null@`, `undefined@`, `none@`, `nan@`, `unknown@`, `anonymous@`, `guest@`,
    /// `noreply@`, `no-reply@`, `donotreply@`, `do-not-reply@` at any domain, and
    /// `test@test.com`) and placeholder phones (one digit repeated six or more times,
    /// `1234567890`). The task's own examples (`123456`, `lorraine@hillvalley.edu`, addresses
    /// at `example.com`) are not blocked.
    #[must_use]
    pub fn defaults() -> Vec<BlockedValue> {
        DEFAULTS
            .iter()
            .map(|(kind, pattern, value)| {
                BlockedValue::stored(kind, *pattern, value).expect("the defaults are valid")
            })
            .collect()
    }

    /// `email` or `phone`.
    #[must_use]
    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }

    /// The exact value, normalized; `None` for a pattern.
    #[must_use]
    pub fn value(&self) -> Option<&str> {
        match &self.rule {
            Rule::Value(v) => Some(v),
            Rule::Pattern(_) => None,
        }
    }

    /// The pattern; `None` for an exact value.
    #[must_use]
    pub fn pattern_text(&self) -> Option<&str> {
        match &self.rule {
            Rule::Pattern(p) => Some(&p.text),
            Rule::Value(_) => None,
        }
    }

    /// Whether the entry is a pattern.
    #[must_use]
    pub fn is_pattern(&self) -> bool {
        matches!(self.rule, Rule::Pattern(_))
    }

    /// The value or the pattern, as stored.
    #[must_use]
    pub fn text(&self) -> &str {
        match &self.rule {
            Rule::Value(v) | Rule::Pattern(Pattern { text: v, .. }) => v,
        }
    }

    /// Whether the entry blocks `value`, a normalized value of its kind: equal to the exact
    /// value, or matched by the pattern (compiled once, when the entry was made or read).
    ///
    /// ```
    /// use identity::BlockedValue;
    /// assert!(BlockedValue::pattern("email", "^null@")?.matches("null@shop.com"));
    /// assert!(!BlockedValue::email("test@test.com")?.matches("doc@hillvalley.edu"));
    /// # Ok::<(), identity::Error>(())
    /// ```
    #[must_use]
    pub fn matches(&self, value: &str) -> bool {
        match &self.rule {
            Rule::Value(v) => v == value,
            Rule::Pattern(p) => p.regex.is_match(value),
        }
    }

    /// The entry as a tenant with phone region `region` keeps it: an exact number valid there in
    /// E.164 (the form its requests are matched in), anything else as it is.
    pub(crate) fn in_region(self, region: Option<PhoneRegion>) -> Self {
        let (Some(region), IdentifierKind::Phone, Rule::Value(number)) =
            (region, self.kind, &self.rule)
        else {
            return self;
        };
        match Phone::parse(number).and_then(|p| p.in_region(region)) {
            Ok(phone) => Self::exact(self.kind, phone.as_str()),
            Err(_) => self,
        }
    }
}

impl fmt::Display for BlockedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Rule::Value(v) => write!(f, "{} {v}", self.kind),
            Rule::Pattern(p) => write!(f, "{} pattern {}", self.kind, p.text),
        }
    }
}

/// What the migrations seed: (kind, is a pattern, value).
const DEFAULTS: &[(&str, bool, &str)] = &[
    (
        "email",
        true,
        "^(null|undefined|none|nan|unknown|anonymous|guest|noreply|no-reply|donotreply|do-not-reply)@",
    ),
    ("email", false, "test@test.com"),
    (
        "phone",
        true,
        r"^\+?(0{6,}|1{6,}|2{6,}|3{6,}|4{6,}|5{6,}|6{6,}|7{6,}|8{6,}|9{6,})$",
    ),
    ("phone", true, r"^\+?1234567890$"),
];

fn as_value(e: Error) -> Error {
    match e {
        Error::InvalidInput { reason, .. } => Error::InvalidInput {
            field: Field::Value,
            reason,
        },
        other => other,
    }
}

fn parse_kind(kind: &str) -> Result<IdentifierKind> {
    match kind.trim() {
        "email" => Ok(IdentifierKind::Email),
        "phone" | "phoneNumber" => Ok(IdentifierKind::Phone),
        _ => Err(Error::invalid(Field::Kind, "must be `email` or `phone`")),
    }
}

/// A tenant's blocked list as a matcher, at the version its store gave it (`0`: the defaults,
/// never changed), with the tenant's suppressed values (erased, kept as keyed hashes), which
/// it blocks too. Both change under one version.
#[derive(Debug)]
pub(crate) struct BlockList {
    pub version: i64,
    entries: Vec<BlockedValue>,
    emails: HashSet<String>,
    phones: HashSet<String>,
    email_patterns: RegexSet,
    phone_patterns: RegexSet,
    suppressed: Option<Suppressed>,
}

impl BlockList {
    /// A matcher for `entries` at `version`.
    pub(crate) fn new(version: i64, mut entries: Vec<BlockedValue>) -> Result<Self> {
        entries.sort();
        entries.dedup();
        let exact = |kind| {
            entries
                .iter()
                .filter(|e| e.kind == kind)
                .filter_map(|e| e.value().map(str::to_owned))
                .collect::<HashSet<_>>()
        };
        let patterns = |kind| {
            RegexSet::new(
                entries
                    .iter()
                    .filter(|e| e.kind == kind)
                    .filter_map(BlockedValue::pattern_text),
            )
            .map_err(|_| Error::CorruptGraph {
                reason: format!("the blocked {kind} patterns cannot be compiled together"),
            })
        };
        Ok(BlockList {
            version,
            emails: exact(IdentifierKind::Email),
            phones: exact(IdentifierKind::Phone),
            email_patterns: patterns(IdentifierKind::Email)?,
            phone_patterns: patterns(IdentifierKind::Phone)?,
            entries,
            suppressed: None,
        })
    }

    /// A stored list at `version` with the tenant's suppressed values (`None`: it has none).
    pub(crate) fn stored(
        version: i64,
        entries: Vec<BlockedValue>,
        suppressed: Option<Suppressed>,
    ) -> Result<Arc<Self>> {
        match suppressed {
            None => BlockList::shared(version, entries),
            Some(set) => Ok(Arc::new(BlockList {
                suppressed: Some(set),
                ..BlockList::new(version, entries)?
            })),
        }
    }

    /// The next version of this list: `entries`, and the suppressed values it has.
    pub(crate) fn successor(&self, entries: Vec<BlockedValue>) -> Result<Self> {
        Ok(BlockList {
            suppressed: self.suppressed.clone(),
            ..BlockList::new(self.version + 1, entries)?
        })
    }

    /// The defaults at version 0, compiled once per process.
    pub(crate) fn defaults() -> Arc<Self> {
        static DEFAULTS: OnceLock<Arc<BlockList>> = OnceLock::new();
        DEFAULTS
            .get_or_init(|| {
                Arc::new(BlockList::new(0, BlockedValue::defaults()).expect("the defaults compile"))
            })
            .clone()
    }

    /// A stored list at `version`: the process's compiled defaults when it is them.
    pub(crate) fn shared(version: i64, mut entries: Vec<BlockedValue>) -> Result<Arc<Self>> {
        let defaults = BlockList::defaults();
        entries.sort();
        entries.dedup();
        if version == 0 && entries == defaults.entries {
            return Ok(defaults);
        }
        Ok(Arc::new(BlockList::new(version, entries)?))
    }

    /// The entries after adding (`add`) or removing `entry`; `None` when that changes nothing.
    pub(crate) fn changed(&self, entry: &BlockedValue, add: bool) -> Option<Vec<BlockedValue>> {
        if self.contains(entry) == add {
            return None;
        }
        let mut entries = self.entries.clone();
        if add {
            entries.push(entry.clone());
        } else {
            entries.retain(|e| e != entry);
        }
        Some(entries)
    }

    /// The entries, sorted.
    pub(crate) fn entries(&self) -> &[BlockedValue] {
        &self.entries
    }

    /// Whether the list holds exactly this entry.
    pub(crate) fn contains(&self, entry: &BlockedValue) -> bool {
        self.entries.binary_search(entry).is_ok()
    }

    /// Whether a stored value of `kind` is blocked or suppressed (for
    /// [`crate::derive_screened`] and verify).
    pub(crate) fn blocks(&self, kind: IdentifierKind, value: &str) -> bool {
        self.reason(kind, value).is_some()
    }

    #[cfg(test)]
    fn blocks_email(&self, email: &Email) -> bool {
        self.blocks(IdentifierKind::Email, email.as_str())
    }

    #[cfg(test)]
    fn blocks_phone(&self, phone: &Phone) -> bool {
        self.blocks(IdentifierKind::Phone, phone.as_str())
    }

    /// Why a stored value of `kind` is left out: on the list, or suppressed; `None` when it
    /// is neither.
    pub(crate) fn reason(&self, kind: IdentifierKind, value: &str) -> Option<IgnoredReason> {
        let listed = match kind {
            IdentifierKind::Email => {
                self.emails.contains(value) || self.email_patterns.is_match(value)
            }
            IdentifierKind::Phone => {
                self.phones.contains(value) || self.phone_patterns.is_match(value)
            }
        };
        if listed {
            return Some(IgnoredReason::Blocked);
        }
        self.suppressed
            .as_ref()
            .is_some_and(|s| s.contains(kind, value))
            .then_some(IgnoredReason::Suppressed)
    }

    /// The request without its blocked values, adding to `ignored` what was left out.
    ///
    /// # Errors
    /// [`Error::BlockedValue`] when nothing is left.
    pub(crate) fn screen(
        &self,
        request: &IdentifyRequest,
        ignored: &mut Vec<Ignored>,
    ) -> Result<IdentifyRequest> {
        let mut keep = |field, why: Option<IgnoredReason>| {
            if let Some(reason) = why
                && !ignored.iter().any(|i| i.field == field)
            {
                ignored.push(Ignored { field, reason });
            }
            why.is_none()
        };
        let email = request
            .email()
            .filter(|e| keep(Field::Email, self.reason(IdentifierKind::Email, e.as_str())));
        let phone = request.phone_number().filter(|p| {
            keep(
                Field::PhoneNumber,
                self.reason(IdentifierKind::Phone, p.as_str()),
            )
        });
        if email.is_none() && phone.is_none() {
            return Err(Error::BlockedValue {
                fields: ignored.iter().map(|i| i.field).collect(),
            });
        }
        IdentifyRequest::new(email.cloned(), phone.cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screened(list: &BlockList, email: Option<&str>, phone: Option<&str>) -> Result<String> {
        let mut ignored = Vec::new();
        let request = IdentifyRequest::parse(email, phone)?;
        let kept = list.screen(&request, &mut ignored)?;
        Ok(format!(
            "{:?} {:?} {:?}",
            kept.email().map(Email::as_str),
            kept.phone_number().map(Phone::as_str),
            ignored
                .iter()
                .map(|i| i.field.wire_name())
                .collect::<Vec<_>>()
        ))
    }

    #[test]
    fn defaults_block_placeholders_and_keep_the_tasks_examples() {
        let list = BlockList::defaults();
        for email in [
            "null@shop.io",
            "Undefined@x.com",
            "noreply@hillvalley.edu",
            "test@test.com",
            "GUEST@a.b",
        ] {
            assert!(
                list.blocks_email(&Email::parse(email).unwrap()),
                "{email} should be blocked"
            );
        }
        for email in [
            "lorraine@hillvalley.edu",
            "mcfly@hillvalley.edu",
            "user17@example.com",
            "a@example.com",
            "nullable@x.io",
            "test@test.co",
        ] {
            assert!(
                !list.blocks_email(&Email::parse(email).unwrap()),
                "{email} should stay valid"
            );
        }
        for phone in [
            "000000",
            "+1 111 111 1111",
            "999999999",
            "1234567890",
            "+1234567890",
        ] {
            assert!(
                list.blocks_phone(&Phone::parse(phone).unwrap()),
                "{phone} should be blocked"
            );
        }
        for phone in ["123456", "717171", "919191", "11111", "12345678901", "0"] {
            assert!(
                !list.blocks_phone(&Phone::parse(phone).unwrap()),
                "{phone} should stay valid"
            );
        }
    }

    #[test]
    fn screening_leaves_out_blocked_values_and_refuses_an_empty_request() {
        let list = BlockList::defaults();
        assert_eq!(
            screened(&list, Some("null@x.io"), Some("123456")).unwrap(),
            r#"None Some("123456") ["email"]"#
        );
        assert_eq!(
            screened(&list, Some("a@x.io"), Some("000-000")).unwrap(),
            r#"Some("a@x.io") None ["phoneNumber"]"#
        );
        assert_eq!(
            screened(&list, Some("a@x.io"), None).unwrap(),
            r#"Some("a@x.io") None []"#
        );
        let err = screened(&list, Some("null@x.io"), Some("0000000")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "blocked value: the email and the phone number are blocked"
        );
        let err = screened(&list, None, Some("0000000")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "blocked value: the phone number is blocked"
        );
    }

    #[test]
    fn entries_parse_from_the_wire_and_name_the_wrong_field() {
        let field = |r: Result<BlockedValue>| match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(BlockedValue::parse("fax", Some("1"), None)),
            Field::Kind
        );
        assert_eq!(
            field(BlockedValue::parse("email", Some("x"), None)),
            Field::Value
        );
        assert_eq!(
            field(BlockedValue::parse("email", None, None)),
            Field::Value
        );
        assert_eq!(
            field(BlockedValue::parse("email", Some("a@b"), Some("^a"))),
            Field::Value
        );
        assert_eq!(
            field(BlockedValue::parse("phone", None, Some("("))),
            Field::Pattern
        );
        assert_eq!(
            field(BlockedValue::parse("phone", None, Some(""))),
            Field::Pattern
        );
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        assert_eq!(
            field(BlockedValue::parse("phone", None, Some(&long))),
            Field::Pattern
        );
        let phone = BlockedValue::parse("phone", Some("+1 (555) 000"), None).unwrap();
        assert_eq!(phone.value(), Some("+1555000"));
        let json = serde_json::to_string(&phone).unwrap();
        assert_eq!(json, r#"{"kind":"phone","value":"+1555000"}"#);
        let pattern: BlockedValue =
            serde_json::from_str(r#"{"kind":"email","pattern":"^x@"}"#).unwrap();
        assert_eq!(pattern.pattern_text(), Some("^x@"));
        assert_eq!(pattern.to_string(), "email pattern ^x@");
    }

    #[test]
    fn a_pattern_read_from_the_wire_is_compiled_once_and_compares_by_its_text() {
        let read: BlockedValue =
            serde_json::from_str(r#"{"kind":"email","pattern":"^x@"}"#).unwrap();
        assert!(read.matches("x@shop.com"));
        assert!(!read.matches("ax@shop.com"));
        assert_eq!(read, BlockedValue::pattern("email", "^x@").unwrap());
        assert_ne!(read, BlockedValue::pattern("email", "^y@").unwrap());
        assert!(read < BlockedValue::pattern("email", "^y@").unwrap());
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            r#"{"kind":"email","pattern":"^x@"}"#
        );
        // a text that is no pattern is refused when read, not matched as nothing later
        let bad = serde_json::from_str::<BlockedValue>(r#"{"kind":"email","pattern":"^("}"#);
        let message = bad.unwrap_err().to_string();
        assert!(message.contains("not a regular expression"), "{message}");
    }

    #[test]
    fn a_list_matches_exact_values_and_patterns_of_its_kind_only() {
        let list = BlockList::new(
            7,
            vec![
                BlockedValue::email("a@x.io").unwrap(),
                BlockedValue::pattern("phone", "^555").unwrap(),
            ],
        )
        .unwrap();
        assert!(list.blocks_email(&Email::parse("A@X.io").unwrap()));
        assert!(!list.blocks_email(&Email::parse("555@x.io").unwrap()));
        assert!(list.blocks_phone(&Phone::parse("555 1234").unwrap()));
        assert!(!list.blocks_phone(&Phone::parse("1555").unwrap()));
        assert!(list.contains(&BlockedValue::email("a@x.io").unwrap()));
        assert_eq!(list.entries().len(), 2);
    }
}
