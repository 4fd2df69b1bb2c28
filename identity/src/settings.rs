//! Tenant settings ([`TenantSettings`]): kept in the store, so every process serving a tenant
//! agrees on them; read and changed through [`Identity::settings`](crate::Identity::settings) and
//! [`Identity::set_phone_region`](crate::Identity::set_phone_region).

use serde::Serialize;

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
