//! The tenant's blocked list through the handle (facade layer): read it, add to it, remove from
//! it.

use super::connect::Identity;
use crate::blocked::BlockedValue;
use crate::error::Result;

impl Identity {
    /// The blocked list of the handle's tenant, sorted (the defaults for a tenant that never
    /// changed it).
    ///
    /// # Errors
    /// As [`crate::ContactStore::blocked_values`].
    pub async fn blocked_values(&self) -> Result<Vec<BlockedValue>> {
        self.store().blocked_values(self.tenant_id()).await
    }

    /// Adds an entry to the tenant's blocked list; `false` when it was there already. From the
    /// moment this returns, no request of the tenant stores or matches a value it blocks (rows
    /// already stored keep it).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::{BlockedValue, Error};
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// assert!(identity.block(&BlockedValue::phone("555-0000")?).await?);
    /// let c = identity.identify(Some("doc@hillvalley.edu"), Some("5550000")).await?;
    /// assert!(c.phone_numbers.is_empty()); // the phone was left out...
    /// assert_eq!(c.ignored[0].reason.as_str(), "blocked"); // ...and the answer says why
    /// let err = identity.identify(None, Some("555 0000")).await.unwrap_err();
    /// assert!(matches!(err, Error::BlockedValue { .. }));
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::ContactStore::block`].
    pub async fn block(&self, entry: &BlockedValue) -> Result<bool> {
        self.store().block(self.tenant_id(), entry).await
    }

    /// Removes an entry (a default one too) from the tenant's blocked list; `false` when it was
    /// not there.
    ///
    /// # Errors
    /// As [`crate::ContactStore::unblock`].
    pub async fn unblock(&self, entry: &BlockedValue) -> Result<bool> {
        self.store().unblock(self.tenant_id(), entry).await
    }
}
