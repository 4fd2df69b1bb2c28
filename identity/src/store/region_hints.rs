//! [`RegionHints`]: the phone region a SQL store last saw for each tenant, so it can read a
//! request in the right region before its first statement. Only a hint: every read reports the
//! tenant's region as stored, and every write checks it in the database, so a stale hint costs
//! one more read, never a wrong answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::RwLock;

use crate::error::Result;
use crate::region::{Localized, PhoneRegion, stored_region};
use crate::request::IdentifyRequest;
use crate::tenant::TenantId;

/// The last region seen per tenant; a tenant absent has none (the common case costs nothing).
#[derive(Debug, Default)]
pub(crate) struct RegionHints {
    regions: RwLock<HashMap<TenantId, PhoneRegion>>,
}

impl RegionHints {
    fn get(&self, tenant: &TenantId) -> Option<PhoneRegion> {
        let regions = self.regions.read().unwrap_or_else(|p| p.into_inner());
        regions.get(tenant).copied()
    }

    /// Remembers `tenant`'s region as a store reported it.
    pub(crate) fn learn(&self, tenant: &TenantId, region: Option<PhoneRegion>) {
        if self.get(tenant) == region {
            return;
        }
        let mut regions = self.regions.write().unwrap_or_else(|p| p.into_inner());
        match region {
            Some(region) => regions.insert(tenant.clone(), region),
            None => regions.remove(tenant),
        };
    }

    /// The request read in the region hinted for `tenant`. When that region refuses the phone
    /// number, `current` (the store's settings read) decides: the error stands if the region is
    /// still the tenant's.
    pub(crate) async fn localize<F, Fut>(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
        current: F,
    ) -> Result<Localized>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<PhoneRegion>>>,
    {
        let hint = self.get(tenant);
        match Localized::new(request, hint) {
            Ok(local) => Ok(local),
            Err(e) => {
                let region = current().await?;
                self.learn(tenant, region);
                if region == hint {
                    return Err(e);
                }
                Localized::new(request, region)
            }
        }
    }

    /// After a read reported `tenant`'s region as `stored`: true when `local` was read in
    /// another one, and is now read in this one.
    ///
    /// # Errors
    /// The phone number is not valid in the stored region, or the stored code is not one.
    pub(crate) fn follow(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
        local: &mut Localized,
        stored: Option<&str>,
    ) -> Result<bool> {
        if local.agrees(stored) {
            return Ok(false);
        }
        let region = stored_region(stored)?;
        self.learn(tenant, region);
        *local = Localized::new(request, region)?;
        Ok(true)
    }
}
