//! [`TenantId`]: the shop a call acts for. One store can serve many tenants, each with its own
//! customers; a value of one tenant never links to another's.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Field, Result};

/// Most characters in a tenant id.
pub const MAX_TENANT_LEN: usize = 64;

/// A tenant's id: 1 to 64 characters of `A-Z`, `a-z`, `0-9`, `.`, `_` and `-`, compared exactly
/// (case matters). Cheap to clone. [`TenantId::default`] is the tenant `default`, used whenever
/// none is given, so a single-shop deployment never names one.
///
/// ```
/// use identity::TenantId;
/// let shop = TenantId::parse("shop-42")?;
/// assert_eq!(shop.as_str(), "shop-42");
/// assert_eq!(TenantId::default().as_str(), "default");
/// let bad = TenantId::parse("shop 42").unwrap_err();
/// assert_eq!(
///     bad.to_string(),
///     "invalid tenant: may contain only letters, digits, '.', '_' and '-' (found ' ' at position 5)"
/// );
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// The id of the tenant used when none is given.
    pub const DEFAULT: &'static str = "default";

    /// Parses a tenant id.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Tenant`] when `id` is empty, longer than
    /// [`MAX_TENANT_LEN`] characters, or has a character outside `[A-Za-z0-9._-]`.
    pub fn parse(id: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidInput {
            field: Field::Tenant,
            reason,
        };
        if id.is_empty() {
            return Err(invalid("must not be empty".to_owned()));
        }
        let length = id.chars().count();
        if length > MAX_TENANT_LEN {
            return Err(invalid(format!(
                "must be at most {MAX_TENANT_LEN} characters (got {length})"
            )));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if let Some((at, c)) = id.chars().enumerate().find(|(_, c)| !allowed(*c)) {
            return Err(invalid(format!(
                "may contain only letters, digits, '.', '_' and '-' (found {} at position {})",
                quoted(c),
                at + 1
            )));
        }
        Ok(TenantId(Arc::from(id)))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the default tenant.
    #[must_use]
    pub fn is_default(&self) -> bool {
        &*self.0 == Self::DEFAULT
    }
}

/// `c` in single quotes, escaped unless it is printable ASCII (so a control or invisible
/// character shows as what it is).
fn quoted(c: char) -> String {
    if c.is_ascii_graphic() || c == ' ' {
        format!("'{c}'")
    } else {
        format!("'{}'", c.escape_unicode())
    }
}

impl Default for TenantId {
    fn default() -> Self {
        TenantId(Arc::from(Self::DEFAULT))
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", &*self.0)
    }
}

impl FromStr for TenantId {
    type Err = Error;

    fn from_str(id: &str) -> Result<Self> {
        TenantId::parse(id)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        TenantId::parse(&id).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(id: &str) -> String {
        match TenantId::parse(id) {
            Err(Error::InvalidInput {
                field: Field::Tenant,
                reason,
            }) => reason,
            other => panic!("{id:?} should be an invalid tenant, got {other:?}"),
        }
    }

    #[test]
    fn accepts_every_allowed_character_up_to_64() {
        for id in ["a", "shop-42", "EU.shop_7", "0", &"x".repeat(64)] {
            assert_eq!(TenantId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn refuses_empty_long_and_foreign_characters_with_the_reason() {
        assert_eq!(reason(""), "must not be empty");
        assert_eq!(
            reason(&"x".repeat(65)),
            "must be at most 64 characters (got 65)"
        );
        assert!(reason("shop/42").contains("found '/' at position 5"));
        assert!(reason("shop\u{0}").contains(r"found '\u{0}' at position 5"));
        assert!(reason("café").contains(r"found '\u{e9}' at position 4"));
        assert!(
            reason("a\u{200b}b").contains(r"'\u{200b}'"),
            "an invisible space"
        );
    }

    #[test]
    fn the_default_tenant_is_named_default() {
        let d = TenantId::default();
        assert!(d.is_default());
        assert_eq!(d, TenantId::parse("default").unwrap());
        assert!(
            !TenantId::parse("Default").unwrap().is_default(),
            "case matters"
        );
    }

    #[test]
    fn serializes_as_its_text_and_validates_when_read() {
        let t = TenantId::parse("shop-42").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""shop-42""#);
        assert_eq!(serde_json::from_str::<TenantId>(r#""shop-42""#).unwrap(), t);
        let err = serde_json::from_str::<TenantId>(r#""a b""#).unwrap_err();
        assert!(err.to_string().contains("invalid tenant"), "{err}");
    }
}
