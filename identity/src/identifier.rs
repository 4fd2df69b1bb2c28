//! An identifier's kind ([`IdentifierKind`]: email or phone) and the test of whether a stored
//! value is blocked ([`Blocked`]). Model layer: values only.

use std::fmt;

/// The kind of an identifier: which column of `contact` its value comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierKind {
    /// `contact.email`.
    Email,
    /// `contact.phone_number`.
    Phone,
}

impl IdentifierKind {
    /// The stored spelling: `email` or `phone`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Email => "email",
            IdentifierKind::Phone => "phone",
        }
    }

    /// A kind as the SQL stores keep it: `email`, anything else reads as a phone (which
    /// `verify` then reports as a value no row has).
    pub(crate) fn stored(text: &str) -> Self {
        if text == "email" {
            IdentifierKind::Email
        } else {
            IdentifierKind::Phone
        }
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which stored values are on the tenant's blocked list: they join no rows, and two customers
/// may hold one (I3 reads "no unblocked value in two customers").
pub(crate) type Blocked<'a> = &'a dyn Fn(IdentifierKind, &str) -> bool;
