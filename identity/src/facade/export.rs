//! Every customer of the tenant, consolidated, through the handle (facade layer).

use super::connect::Identity;
use crate::blocked::BlockList;
use crate::customer::CustomerRecord;
use crate::derive::derive_screened;
use crate::error::Result;
use crate::request::ConsolidatedContact;

impl Identity {
    /// Every customer of the handle's tenant, consolidated as `identify` answers it, by primary
    /// id. Reads every visible row and derives the customers from them under the tenant's
    /// blocked list (so the answer is what the rows define, even when the derived records wait
    /// for a repair).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("5550101")).await?;
    /// identity.identify(Some("marty@hillvalley.edu"), None).await?;
    /// let customers = identity.customers().await?;
    /// assert_eq!(customers.len(), 2);
    /// assert_eq!(customers[0].emails[0].as_str(), "doc@hillvalley.edu");
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::ContactStore::all_contacts`].
    pub async fn customers(&self) -> Result<Vec<ConsolidatedContact>> {
        let rows = self.all_contacts().await?;
        let list = BlockList::new(0, self.blocked_values().await?)?;
        let derived = derive_screened(&rows, &|kind, value| list.blocks(kind, value));
        Ok(derived
            .customers
            .iter()
            .map(CustomerRecord::answer)
            .collect())
    }
}
