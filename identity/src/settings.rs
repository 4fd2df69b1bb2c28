//! Tenant settings ([`TenantSettings`]): kept in the store, so every process serving a tenant
//! agrees on them; read and changed through [`Identity::settings`] and
//! [`Identity::set_phone_region`].

use serde::Serialize;

use crate::connect::Identity;
use crate::error::Result;
use crate::limits::Limits;
use crate::region::PhoneRegion;

/// A tenant's settings: what [`crate::Identity::settings`] reads and the setters change. Kept in
/// the store, so every process serving the tenant agrees on them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TenantSettings {
    /// The region national phone numbers are read in; `None` keeps the plain phone rules.
    pub phone_region: Option<PhoneRegion>,
    /// The per-customer caps ([`Limits::none`] unless set).
    pub limits: Limits,
}

impl TenantSettings {
    /// Settings with this phone region (and no caps).
    #[must_use]
    pub fn with_phone_region(phone_region: Option<PhoneRegion>) -> Self {
        TenantSettings {
            phone_region,
            limits: Limits::none(),
        }
    }

    /// These settings with `limits`.
    #[must_use]
    pub fn with_limits(self, limits: Limits) -> Self {
        TenantSettings { limits, ..self }
    }
}

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
}
