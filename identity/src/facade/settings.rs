//! The tenant's settings through the handle (facade layer): read them, set the phone region,
//! set the caps.

use super::connect::Identity;
use crate::error::Result;
use crate::limits::Limits;
use crate::region::PhoneRegion;
use crate::settings::TenantSettings;

impl Identity {
    /// The settings of the handle's tenant (the defaults for a tenant that never set any).
    ///
    /// # Errors
    /// As [`crate::ContactStore::settings`].
    pub async fn settings(&self) -> Result<TenantSettings> {
        self.store().settings(self.tenant_id()).await
    }

    /// Sets the phone region of the handle's tenant (`None` or a blank code clears it): from then
    /// on its phone numbers are read in that region and stored in E.164. Allowed while the tenant
    /// has no contacts; setting the region it already has changes nothing.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// let shop = identity.tenant("shop-in")?;
    /// shop.set_phone_region(Some("IN")).await?;
    /// let c = shop.identify(None, Some("098765 43210")).await?;
    /// assert_eq!(c.phone_numbers[0].as_str(), "+919876543210");
    /// let same = shop.identify(None, Some("+91 98765 43210")).await?;
    /// assert_eq!(same.primary_contact_id, c.primary_contact_id);
    /// // the tenant has data now: its region stays
    /// let err = shop.set_phone_region(Some("US")).await.unwrap_err();
    /// assert!(matches!(err, identity::Error::Conflict { .. }));
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] naming `phoneRegion` for a code that is not a region,
    /// [`crate::Error::Conflict`] when the region would change and the tenant has contacts;
    /// otherwise as [`crate::ContactStore::set_phone_region`].
    pub async fn set_phone_region(&self, region: Option<&str>) -> Result<TenantSettings> {
        let region = match region.map(str::trim) {
            None | Some("") => None,
            Some(code) => Some(PhoneRegion::parse(code)?),
        };
        self.store()
            .set_phone_region(self.tenant_id(), region)
            .await
    }

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
