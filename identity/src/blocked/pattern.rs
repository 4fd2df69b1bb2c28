//! A blocked list's pattern: its text and its compiled matcher, made once.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Field, Result};

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 500;

/// A pattern's text with its compiled matcher, so
/// [`BlockedValue::matches`](super::BlockedValue::matches) compiles nothing.
/// Compared, hashed, ordered and written as its text; read by compiling it (a text that is no
/// pattern is refused, as
/// [`BlockedValue::pattern`](super::BlockedValue::pattern) refuses it).
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) text: String,
    pub(super) regex: Regex,
}

impl Pattern {
    /// `text` compiled ([`compile`]).
    pub(super) fn new(text: &str) -> Result<Self> {
        Ok(Pattern {
            regex: compile(text)?,
            text: text.to_owned(),
        })
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl Hash for Pattern {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for Pattern {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pattern {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Pattern::new(&text).map_err(serde::de::Error::custom)
    }
}

/// `pattern` compiled, with a bound on its size: refused (naming [`Field::Pattern`]) when empty,
/// longer than [`MAX_PATTERN_LEN`] or not a regular expression.
pub(super) fn compile(pattern: &str) -> Result<Regex> {
    if pattern.is_empty() {
        return Err(Error::invalid(Field::Pattern, "must not be empty"));
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(Error::invalid(
            Field::Pattern,
            format!("must be at most {MAX_PATTERN_LEN} bytes"),
        ));
    }
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            let first = e.to_string();
            let last = first.lines().last().unwrap_or("").trim().to_owned();
            Error::invalid(
                Field::Pattern,
                format!("not a regular expression ({})", last.to_lowercase()),
            )
        })
}
