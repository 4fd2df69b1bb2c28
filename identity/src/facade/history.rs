//! A customer's history through the handle (facade layer).

use super::connect::Identity;
use crate::contact::ContactId;
use crate::error::Result;
use crate::history::History;

impl Identity {
    /// The history of the customer that contact `id` belongs to now (see [`History`]).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// identity.identify(None, Some("555")).await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("555")).await?; // joins 2 into 1
    /// let history = identity.history(identity::ContactId::new(2)).await?;
    /// assert_eq!(history.customer.get(), 1); // 2 was absorbed by 1
    /// let kinds: Vec<&str> = history.events.iter().map(|e| e.change.kind()).collect();
    /// assert_eq!(kinds, ["created", "created", "merged"]);
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when the tenant has no visible row `id`;
    /// otherwise as [`crate::ContactStore::history`].
    pub async fn history(&self, id: ContactId) -> Result<History> {
        self.store().history(self.tenant_id(), id).await
    }
}
