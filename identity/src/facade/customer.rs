//! [`Identity::customer`]: a customer's rows, for a person who looks at one (the console, the
//! admin API), read in one snapshot.

use crate::Identity;
use crate::contact::ContactId;
use crate::customer::Customer;
use crate::error::Result;

impl Identity {
    /// The customer the tenant's row `id` belongs to now: its primary's id and its visible
    /// rows, by id.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::ContactId;
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("555-0101")).await?; // row 1
    /// identity.identify(Some("emmett@hillvalley.edu"), Some("555-0101")).await?; // row 2
    /// let customer = identity.customer(ContactId::new(2)).await?;
    /// assert_eq!(customer.customer_id, ContactId::new(1));
    /// assert_eq!(customer.rows.len(), 2);
    /// assert!(identity.customer(ContactId::new(9)).await.is_err()); // not_found
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] when the tenant has no visible row `id`; otherwise as
    /// [`crate::ContactStore::lookup`].
    pub async fn customer(&self, id: ContactId) -> Result<Customer> {
        let (primary, rows) = self.store().customer(self.tenant_id(), id).await?;
        Ok(Customer::new(primary, rows))
    }
}
