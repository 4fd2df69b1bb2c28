//! Undoing a wrong merge through the handle (facade layer).

use super::connect::Identity;
use crate::contact::ContactId;
use crate::error::Result;
use crate::split::Split;

impl Identity {
    /// Undoes a wrong merge: moves the rows `contact_ids` of the customer that row `customer`
    /// belongs to into a new customer, led by the oldest of them (the rest link to it), and
    /// keeps the two apart from then on: a later request carrying values of both does not merge
    /// them (the email's customer answers, the phone number is
    /// [`crate::IgnoredReason::KeptApart`]). When `contact_ids` holds the customer's primary,
    /// the other rows move instead: the customer keeps its primary and the parts are the same.
    ///
    /// The parts must share no email or phone (else [`Error::Conflict`](crate::Error::Conflict)
    /// lists them); with `block_shared` those values are added to the tenant's blocked list in the
    /// same transaction, and then both parts keep them in their rows, matched by no request. The
    /// split waits for the tenant's writes in flight; history records it on both customers
    /// (`split_off`, `split_from`).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::ContactId;
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("555")).await?;
    /// identity.identify(Some("marty@hillvalley.edu"), Some("777")).await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("777")).await?; // a wrong merge
    /// let split = identity.split(ContactId::new(1), &[ContactId::new(2)], false).await?;
    /// assert_eq!(split.new_customer.primary_contact_id.get(), 2);
    /// // the same request again no longer merges them: the email's customer answers
    /// let c = identity.identify(Some("doc@hillvalley.edu"), Some("777")).await?;
    /// assert_eq!((c.primary_contact_id.get(), c.ignored[0].reason.as_str()), (1, "kept_apart"));
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) when the tenant has no visible row `customer`;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming
    /// [`Field::ContactIds`](crate::Field::ContactIds) when `contact_ids` is empty, names a row of
    /// another customer or every row; [`Error::Conflict`](crate::Error::Conflict) for shared
    /// values; otherwise as [`crate::ContactStore::split`]. Nothing changes on an error.
    pub async fn split(
        &self,
        customer: ContactId,
        contact_ids: &[ContactId],
        block_shared: bool,
    ) -> Result<Split> {
        self.store()
            .split(self.tenant_id(), customer, contact_ids, block_shared)
            .await
    }
}
