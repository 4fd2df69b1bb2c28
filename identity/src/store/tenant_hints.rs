//! [`TenantHints`]: the tenant settings a SQL store last saw, so it can read a request
//! ([`Localized`]) right before its first statement. Only a hint: every read reports the
//! tenant's region and blocked-list version as stored, and every write checks them in the
//! database, so a stale hint costs one more read, never a wrong answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::RwLock;

use crate::error::Result;
use crate::request::IdentifyRequest;
use crate::screen::{Localized, TenantState};
use crate::tenant::TenantId;

/// The settings last seen per tenant.
#[derive(Debug, Default)]
pub(crate) struct TenantHints {
    states: RwLock<HashMap<TenantId, TenantState>>,
}

impl TenantHints {
    fn get(&self, tenant: &TenantId) -> Option<TenantState> {
        let states = self.states.read().unwrap_or_else(|p| p.into_inner());
        states.get(tenant).cloned()
    }

    /// Remembers `tenant`'s settings as a store reported them.
    pub(crate) fn learn(&self, tenant: &TenantId, state: TenantState) {
        let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
        states.insert(tenant.clone(), state);
    }

    /// Forgets `tenant`'s settings: the next request reads them again.
    pub(crate) fn forget(&self, tenant: &TenantId) {
        let mut states = self.states.write().unwrap_or_else(|p| p.into_inner());
        states.remove(tenant);
    }

    /// The request read under the settings hinted for `tenant` (read with `current` when none
    /// is). When the hinted settings refuse the request (a blocked value, a number the region
    /// refuses), `current` decides: the error stands if they are still the tenant's.
    pub(crate) async fn localize<F, Fut>(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
        mut current: F,
    ) -> Result<Localized>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<TenantState>>,
    {
        let (hint, fresh) = match self.get(tenant) {
            Some(hint) => (hint, false),
            None => {
                let state = current().await?;
                self.learn(tenant, state.clone());
                (state, true)
            }
        };
        match Localized::new(request, &hint) {
            Ok(local) => Ok(local),
            Err(e) if fresh => Err(e),
            Err(e) => {
                let state = current().await?;
                self.learn(tenant, state.clone());
                if state.region == hint.region && state.blocked.version == hint.blocked.version {
                    return Err(e);
                }
                Localized::new(request, &state)
            }
        }
    }

    /// After a read reported settings `local` does not agree with: remembers `state` (read
    /// since) and reads the request again under it.
    ///
    /// # Errors
    /// As [`Localized::new`].
    pub(crate) fn follow(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
        local: &mut Localized,
        state: TenantState,
    ) -> Result<()> {
        *local = Localized::new(request, &state)?;
        self.learn(tenant, state);
        Ok(())
    }
}
