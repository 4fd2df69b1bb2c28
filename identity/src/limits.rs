//! Per-customer caps ([`Limits`]): at most so many distinct emails and phone numbers per
//! customer, per tenant, off by default. A value that would pass a cap is not linked and a merge
//! that would pass one does not happen; the answer says so (`ignored`, reason `limit`).

use serde::Serialize;

use crate::connect::Identity;
use crate::error::{Error, Field, Result};
use crate::settings::TenantSettings;

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

impl Identity {
    /// Sets the per-customer caps of the handle's tenant ([`Limits`]; [`Limits::none`] lifts
    /// them). From then on a request whose new email or phone number would give its customer
    /// more than the cap leaves that value out, and one that would merge two customers past a
    /// cap merges nothing: the email's customer answers, the phone number left out; both say
    /// so with [`crate::IgnoredReason::Limit`]. Customers already past a lowered cap keep
    /// their values. Waits for the tenant's writes in flight, and no write planned under the
    /// old caps commits after it.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.set_limits(identity::Limits::new(None, Some(1))?).await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("555")).await?;
    /// let c = identity.identify(Some("doc@hillvalley.edu"), Some("777")).await?;
    /// assert_eq!(c.phone_numbers.len(), 1);
    /// assert_eq!(c.ignored[0].reason.as_str(), "limit");
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::ContactStore::set_limits`].
    pub async fn set_limits(&self, limits: Limits) -> Result<TenantSettings> {
        self.store().set_limits(self.tenant_id(), limits).await
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
