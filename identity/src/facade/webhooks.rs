//! Webhook endpoints through the handle (facade layer): register, list, delete, read attempts,
//! replay. [`crate::webhook`] says what is delivered and how; `facade/deliver.rs` sends.

use super::connect::Identity;
use crate::error::{Error, Field, Result};
use crate::feed::Cursor;
use crate::webhook::{
    self, Delivery, EventTypes, NewWebhook, Webhook, WebhookId, WebhookSecret, WebhookTarget,
};

impl Identity {
    /// Registers an endpoint that receives the tenant's events of `types` written from now on,
    /// POSTed to `url` and signed with a new secret, told once in the answer
    /// ([`crate::webhook`] says how). A target on a loopback, private or link-local address is
    /// refused unless the handle allows it ([`crate::ConnectOptions::allow_private_webhooks`]).
    ///
    /// ```
    /// use identity::webhook::EventTypes;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// let merges = EventTypes::parse(&["customer.merged", "customer.split"])?;
    /// let hook = identity.create_webhook("https://crm.example.com/hooks", merges).await?;
    /// assert!(hook.secret.as_str().starts_with("whsec_"));
    /// assert_eq!(identity.webhooks().await?, vec![hook.webhook.clone()]);
    /// identity.delete_webhook(hook.webhook.id).await?;
    /// assert!(identity.create_webhook("http://10.0.0.8/", EventTypes::ALL).await.is_err());
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Url`] for a URL that is not a webhook target
    /// ([`WebhookTarget::parse`]); otherwise as [`crate::ContactStore::identify`].
    pub async fn create_webhook(&self, url: &str, types: EventTypes) -> Result<NewWebhook> {
        let target = WebhookTarget::parse(url, self.allows_private_webhooks())?;
        let secret = WebhookSecret::generate()?;
        let webhook = self
            .store()
            .webhooks()
            .create_webhook(self.tenant_id(), &target, &types, &secret)
            .await?;
        Ok(NewWebhook { webhook, secret })
    }

    /// The tenant's endpoints, oldest first, with where each is ([`Webhook`]).
    ///
    /// # Errors
    /// As [`crate::ContactStore::lookup`].
    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.store()
            .webhooks()
            .list_webhooks(self.tenant_id())
            .await
    }

    /// The tenant's endpoint `id`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the tenant has no endpoint `id`; otherwise as
    /// [`crate::ContactStore::lookup`].
    pub async fn webhook(&self, id: WebhookId) -> Result<Webhook> {
        self.webhooks()
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| not_found(id))
    }

    /// Deletes the tenant's endpoint `id` and its attempts: nothing more is sent to it (an
    /// attempt in flight finishes).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the tenant has no endpoint `id`; otherwise as
    /// [`crate::ContactStore::identify`].
    pub async fn delete_webhook(&self, id: WebhookId) -> Result<()> {
        let deleted = self
            .store()
            .webhooks()
            .delete_webhook(self.tenant_id(), id)
            .await?;
        if deleted { Ok(()) } else { Err(not_found(id)) }
    }

    /// The last `limit` (1 to [`webhook::MAX_DELIVERIES`]) attempts to deliver to the tenant's
    /// endpoint `id`, newest first: which event, when, the status or error, and after a failure
    /// when it is tried again. Attempts are kept as long as the events
    /// ([`Identity::prune_events`] prunes both).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the tenant has no endpoint `id`; [`Error::InvalidInput`] naming
    /// [`Field::Limit`] for a bad `limit`; otherwise as [`crate::ContactStore::lookup`].
    pub async fn webhook_deliveries(&self, id: WebhookId, limit: usize) -> Result<Vec<Delivery>> {
        if !(1..=webhook::MAX_DELIVERIES).contains(&limit) {
            return Err(Error::InvalidInput {
                field: Field::Limit,
                reason: format!("must be 1 to {}", webhook::MAX_DELIVERIES),
            });
        }
        self.store()
            .webhooks()
            .webhook_deliveries(self.tenant_id(), id, limit)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Makes the tenant's endpoint `id` deliver again the events after `after` (from the
    /// oldest kept when `None`), in order: active again, its failures forgotten. What a
    /// failing endpoint needs once it is fixed (give its [`Webhook::cursor`] to resume
    /// without repeating anything), or a receiver that lost data.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the tenant has no endpoint `id`;
    /// [`Error::CursorExpired`] when retention pruned events after `after`;
    /// [`Error::InvalidInput`] ([`Field::Cursor`]) for a cursor past the feed's last event;
    /// otherwise as [`crate::ContactStore::identify`].
    pub async fn replay_webhook(&self, id: WebhookId, after: Option<Cursor>) -> Result<Webhook> {
        self.store()
            .webhooks()
            .replay_webhook(self.tenant_id(), id, after)
            .await?
            .ok_or_else(|| not_found(id))
    }
}

fn not_found(id: WebhookId) -> Error {
    Error::NotFound {
        entity: "webhook",
        id: id.get(),
    }
}
