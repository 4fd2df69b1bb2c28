//! `--webhook`: one webhook endpoint on the target's tenant, delivered by a sender on the
//! target's handle (for HTTP: the service's own, as the service runs it) to a receiver in this
//! process that answers 204 at once, so that `--writes` shows what the sender costs the writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use identity::webhook::{EventTypes, WebhookId};
use identity::{HttpTransport, Identity, SenderOptions, WebhookSender};

/// A registered endpoint, its receiver and the sender delivering to it.
pub struct Endpoint {
    received: Arc<AtomicU64>,
    sender: WebhookSender,
    receiver: tokio::task::JoinHandle<()>,
    hook: WebhookId,
}

/// Registers an endpoint on `identity`'s tenant and starts delivering to it.
///
/// # Errors
/// When the receiver cannot listen or the endpoint cannot be registered.
pub async fn attach(identity: &Identity) -> Result<Endpoint, String> {
    let received = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&received);
    let app = axum::Router::new().fallback(move || {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::Relaxed);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}/hooks",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let receiver = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let local = identity.clone().with_private_webhooks(true);
    let hook = local
        .create_webhook(&url, EventTypes::ALL)
        .await
        .map_err(|e| e.chain())?
        .webhook
        .id;
    let transport = HttpTransport::new(true).map_err(|e| e.chain())?;
    let sender = local.deliver_webhooks(Arc::new(transport), SenderOptions::default());
    Ok(Endpoint {
        received,
        sender,
        receiver,
        hook,
    })
}

impl Endpoint {
    /// Stops the sender and says what it delivered and how far behind the feed it was.
    pub async fn report(self, identity: &Identity) -> String {
        let delivered_during = self.received.load(Ordering::Relaxed);
        self.sender.stop().await;
        self.receiver.abort();
        let behind = match identity.webhook(self.hook).await {
            Ok(hook) => {
                let mut after = hook.cursor;
                let mut behind = 0;
                while let Ok(page) = identity.events(Some(after), 1000).await {
                    if page.events.is_empty() {
                        break;
                    }
                    behind += page.events.len();
                    after = page.next;
                }
                behind.to_string()
            }
            Err(e) => format!("? ({})", e.chain()),
        };
        format!(
            "webhook: {delivered_during} events delivered during the run, {behind} behind at its end"
        )
    }
}
