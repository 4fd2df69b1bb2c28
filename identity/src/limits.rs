//! Per-customer caps ([`Limits`]): at most so many distinct emails and phone numbers per
//! customer, per tenant, off by default. A value that would pass a cap is not linked and a merge
//! that would pass one does not happen; the answer says so (`ignored`, reason `limit`).

use serde::Serialize;

use crate::error::{Error, Field, Result};

/// A tenant's caps on the distinct emails and phone numbers of one customer; `None` is no cap.
///
/// On the wire: `{"emails": 5, "phones": null}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Limits {
    /// Most distinct emails a customer may hold.
    pub emails: Option<u32>,
    /// Most distinct phone numbers a customer may hold.
    pub phones: Option<u32>,
}

impl Limits {
    /// The largest cap accepted.
    pub const MAX: u32 = 1_000_000;

    /// No caps (the default).
    #[must_use]
    pub const fn none() -> Self {
        Limits {
            emails: None,
            phones: None,
        }
    }

    /// Caps of `emails` and `phones` per customer (`None`: no cap).
    ///
    /// ```
    /// let limits = identity::Limits::new(Some(3), None)?;
    /// assert_eq!(limits.emails, Some(3));
    /// assert!(identity::Limits::new(Some(0), None).is_err());
    /// # Ok::<(), identity::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Limits`] for a cap below 1 or above
    /// [`Limits::MAX`].
    pub fn new(emails: Option<i64>, phones: Option<i64>) -> Result<Self> {
        let cap = |name: &str, value: Option<i64>| -> Result<Option<u32>> {
            value
                .map(|n| {
                    u32::try_from(n)
                        .ok()
                        .filter(|n| (1..=Self::MAX).contains(n))
                        .ok_or_else(|| {
                            Error::invalid(
                                Field::Limits,
                                format!(
                                    "{name} must be a whole number from 1 to {}, or left out for no cap",
                                    Self::MAX
                                ),
                            )
                        })
                })
                .transpose()
        };
        Ok(Limits {
            emails: cap("emails", emails)?,
            phones: cap("phones", phones)?,
        })
    }

    /// Whether a customer holding `emails` and `phones` distinct values passes a cap.
    #[must_use]
    pub fn exceeded(&self, emails: usize, phones: usize) -> bool {
        let over = |cap: Option<u32>, n: usize| cap.is_some_and(|c| n > c as usize);
        over(self.emails, emails) || over(self.phones, phones)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_whole_numbers_from_one_and_count_distinct_values() {
        assert_eq!(Limits::new(None, None).unwrap(), Limits::none());
        for bad in [0, -1, i64::from(Limits::MAX) + 1, i64::MAX] {
            let err = Limits::new(None, Some(bad)).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { field: Field::Limits, reason } if reason.starts_with("phones")),
                "{err:?}"
            );
        }
        let limits = Limits::new(Some(2), Some(1)).unwrap();
        assert!(!limits.exceeded(2, 1));
        assert!(limits.exceeded(3, 1) && limits.exceeded(1, 2));
        assert!(!Limits::none().exceeded(usize::MAX, usize::MAX));
        assert_eq!(
            serde_json::to_value(limits).unwrap(),
            serde_json::json!({"emails": 2, "phones": 1})
        );
    }
}
