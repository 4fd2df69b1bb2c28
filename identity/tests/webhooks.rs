//! Webhooks on every backend, delivered through an in-memory transport: every event after an
//! endpoint's creation, in feed order, signed; the types it asked for only; retries, then
//! failing with the backlog kept, then a replay; two senders on one database never delivering
//! to one endpoint at once; and clear errors. (The HTTP transport, a real receiver, a killed
//! service and two service processes: `examples/server/tests/webhooks.rs`.)

use identity_testkit as common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use identity::feed::Cursor;
use identity::webhook::{EventTypes, WebhookSecret, WebhookState, verify};
use identity::{Error, FeedEvent, Field, Identity, SenderOptions, Transport};

/// A delivery the inbox took.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    body: Vec<u8>,
}

/// Receivers in memory, one per URL: answers 503 while `down`, else 204 after `delay`.
#[derive(Debug, Default)]
struct Inbox {
    got: Mutex<HashMap<String, Vec<Received>>>,
    attempts: AtomicUsize,
    down: AtomicBool,
    delay: Mutex<Duration>,
    in_flight: Mutex<HashMap<String, usize>>,
    most_in_flight: AtomicUsize,
}

impl Inbox {
    fn got(&self, url: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Transport for Inbox {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
        _timeout: Duration,
    ) -> Result<u16, String> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let now = {
            let mut in_flight = self.in_flight.lock().unwrap();
            let n = in_flight.entry(url.to_owned()).or_default();
            *n += 1;
            *n
        };
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        *self.in_flight.lock().unwrap().get_mut(url).unwrap() -= 1;
        if self.down.load(Ordering::SeqCst) {
            return Ok(503);
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let received = Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp").parse().unwrap(),
            signature: header("webhook-signature"),
            body,
        };
        self.got
            .lock()
            .unwrap()
            .entry(url.to_owned())
            .or_default()
            .push(received);
        Ok(204)
    }
}

fn quick() -> SenderOptions {
    SenderOptions::default().poll(Duration::from_millis(20))
}

/// The tenant's feed events after `after`.
async fn events_after(id: &Identity, after: Cursor) -> Vec<FeedEvent> {
    id.events(Some(after), 1000).await.unwrap().events
}

/// A few customers, a merge, a link, a split and an erase.
async fn some_changes(id: &Identity, tag: &str) {
    let a = id
        .identify(Some(&format!("a-{tag}@x.io")), Some("100"))
        .await
        .unwrap();
    let b = id
        .identify(Some(&format!("b-{tag}@x.io")), Some("200"))
        .await
        .unwrap();
    id.identify(Some(&format!("a-{tag}@x.io")), Some("200"))
        .await
        .unwrap();
    id.identify(Some(&format!("c-{tag}@x.io")), Some("100"))
        .await
        .unwrap();
    id.split(a.primary_contact_id, &[b.primary_contact_id], false)
        .await
        .unwrap();
    id.erase(b.primary_contact_id, false).await.unwrap();
}

#[tokio::test]
async fn every_event_after_creation_arrives_in_feed_order_signed_and_as_the_feed_shows_it() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-w").unwrap();
        id.identify(Some("before@x.io"), None).await.unwrap(); // before: not delivered
        let all = id
            .create_webhook("https://crm.example.com/all", EventTypes::ALL)
            .await
            .unwrap();
        let merges = id
            .create_webhook(
                "https://crm.example.com/merges",
                EventTypes::parse(&["customer.merged"]).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(all.webhook.cursor, id.events(None, 10).await.unwrap().next);
        assert_eq!(merges.webhook.types.names(), Some(&["customer.merged"][..]));
        let inbox = Arc::new(Inbox::default());
        let sender = id.deliver_webhooks(inbox.clone(), quick());
        some_changes(&id, "w").await;

        let expected = events_after(&id, all.webhook.cursor).await;
        assert_eq!(expected.len(), 6, "{backend}");
        common::wait_until(
            "every event delivered",
            Duration::from_secs(20),
            async || inbox.got("https://crm.example.com/all").len() >= expected.len(),
        )
        .await;
        // the merges endpoint takes one of them, then moves past the rest without a POST
        let last = expected.last().unwrap().cursor;
        common::wait_until(
            "the merge delivered and the rest passed over",
            Duration::from_secs(20),
            async || id.webhook(merges.webhook.id).await.unwrap().cursor == last,
        )
        .await;
        sender.stop().await;

        let got = inbox.got("https://crm.example.com/all");
        let ids = |events: &[FeedEvent]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        let got_ids: Vec<String> = got.iter().map(|r| r.id.clone()).collect();
        assert_eq!(
            got_ids,
            ids(&expected),
            "{backend}: in feed order, once each"
        );
        let secret = WebhookSecret::parse(all.secret.as_str()).unwrap();
        for (r, event) in got.iter().zip(&expected) {
            // as the feed shows it, but for the values an erase removed since it was sent
            let mut sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            let now = serde_json::to_value(event).unwrap();
            for field in ["email", "phoneNumber"] {
                if now["data"][field].is_null() && !sent["data"][field].is_null() {
                    sent["data"][field] = serde_json::Value::Null;
                }
            }
            assert_eq!(sent, now, "{backend}");
            assert!(
                verify(&secret, &r.id, r.timestamp, &r.body, &r.signature),
                "{backend}: {r:?}"
            );
        }
        let merged: Vec<String> = inbox
            .got("https://crm.example.com/merges")
            .iter()
            .map(|r| r.id.clone())
            .collect();
        let expected_merges: Vec<String> = expected
            .iter()
            .filter(|e| e.change.kind() == "customer.merged")
            .map(|e| e.id.clone())
            .collect();
        assert_eq!(merged, expected_merges, "{backend}");

        let listed = id.webhooks().await.unwrap();
        assert_eq!(listed.len(), 2, "{backend}");
        assert_eq!(
            listed[0].cursor,
            expected.last().unwrap().cursor,
            "{backend}"
        );
        assert_eq!(listed[0].state, WebhookState::Active);
        assert_eq!(
            (listed[0].attempts, listed[0].last_error.as_deref()),
            (0, None)
        );
        // the merges endpoint moved past the events it does not take too
        assert_eq!(
            listed[1].cursor,
            expected.last().unwrap().cursor,
            "{backend}"
        );
        let attempts = id.webhook_deliveries(all.webhook.id, 100).await.unwrap();
        assert_eq!(attempts.len(), expected.len(), "{backend}");
        assert!(
            attempts
                .iter()
                .all(|d| d.succeeded() && d.status == Some(204))
        );
        assert_eq!(
            attempts[0].event_id,
            expected.last().unwrap().id,
            "newest first"
        );
        assert_eq!(attempts[0].attempt, 1);
    }
}

#[tokio::test]
async fn a_failing_endpoint_keeps_its_backlog_until_a_replay_delivers_it_in_order() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-r").unwrap();
        let hook = id
            .create_webhook("https://crm.example.com/r", EventTypes::ALL)
            .await
            .unwrap()
            .webhook;
        let inbox = Arc::new(Inbox::default());
        inbox.down.store(true, Ordering::SeqCst);
        let options = quick().retry_schedule([Duration::from_millis(30); 2]);
        let sender = id.deliver_webhooks(inbox.clone(), options);
        for n in 0..3 {
            id.identify(Some(&format!("r{n}@x.io")), None)
                .await
                .unwrap();
        }
        common::wait_until(
            "the endpoint to be failing",
            Duration::from_secs(20),
            async || id.webhook(hook.id).await.unwrap().state == WebhookState::Failing,
        )
        .await;
        let failing = id.webhook(hook.id).await.unwrap();
        assert_eq!(
            failing.attempts, 3,
            "{backend}: the first try and two retries"
        );
        assert_eq!(failing.last_error.as_deref(), Some("answered 503"));
        assert_eq!(
            (failing.next_attempt_at, failing.cursor),
            (None, hook.cursor)
        );
        let tries = id.webhook_deliveries(hook.id, 10).await.unwrap();
        let first = events_after(&id, hook.cursor).await[0].id.clone();
        assert_eq!(tries.len(), 3, "{backend}");
        assert!(
            tries
                .iter()
                .all(|d| d.event_id == first && d.status == Some(503))
        );
        assert_eq!(
            tries.iter().map(|d| d.attempt).collect::<Vec<_>>(),
            [3, 2, 1],
            "{backend}"
        );
        assert!(tries[0].next_attempt_at.is_none() && tries[1].next_attempt_at.is_some());

        // nothing is sent while failing; the backlog grows
        id.identify(Some("r3@x.io"), None).await.unwrap();
        let sent = inbox.attempts.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(inbox.attempts.load(Ordering::SeqCst), sent, "{backend}");

        inbox.down.store(false, Ordering::SeqCst);
        let resumed = id
            .replay_webhook(hook.id, Some(failing.cursor))
            .await
            .unwrap();
        assert_eq!((resumed.state, resumed.attempts), (WebhookState::Active, 0));
        let expected = events_after(&id, hook.cursor).await;
        assert_eq!(expected.len(), 4);
        common::wait_until(
            "the backlog delivered",
            Duration::from_secs(20),
            async || inbox.got("https://crm.example.com/r").len() >= expected.len(),
        )
        .await;
        // a replay from the start sends everything again, in order
        id.replay_webhook(hook.id, None).await.unwrap();
        common::wait_until(
            "the replay delivered",
            Duration::from_secs(20),
            async || inbox.got("https://crm.example.com/r").len() >= 2 * expected.len(),
        )
        .await;
        sender.stop().await;
        let got: Vec<String> = inbox
            .got("https://crm.example.com/r")
            .iter()
            .map(|r| r.id.clone())
            .collect();
        let once: Vec<String> = expected.iter().map(|e| e.id.clone()).collect();
        assert_eq!(got, [once.clone(), once].concat(), "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_senders_on_one_database_never_deliver_to_one_endpoint_at_once() {
    for store in common::every_backend().await {
        let Some(url) = store.url.clone() else {
            continue; // memory: no second process can open it
        };
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-2").unwrap();
        let other = identity::connect(&url)
            .await
            .unwrap()
            .tenant("shop-2")
            .unwrap();
        let mut hooks = Vec::new();
        for n in 0..4 {
            let url = format!("https://crm.example.com/{n}");
            hooks.push((
                url.clone(),
                id.create_webhook(&url, EventTypes::ALL).await.unwrap(),
            ));
        }
        let inbox = Arc::new(Inbox::default());
        *inbox.delay.lock().unwrap() = Duration::from_millis(2);
        let one = id.deliver_webhooks(inbox.clone(), quick());
        let two = other.deliver_webhooks(inbox.clone(), quick());
        let mut writers = Vec::new();
        for w in 0..8 {
            let id = if w % 2 == 0 {
                id.clone()
            } else {
                other.clone()
            };
            writers.push(tokio::spawn(async move {
                for n in 0..15 {
                    let email = format!("p{}@x.io", (w * 7 + n) % 40);
                    let phone = format!("{}", 1000 + (w + n * 3) % 25);
                    id.identify(Some(&email), Some(&phone)).await.unwrap();
                }
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        let expected: Vec<String> = events_after(&id, hooks[0].1.webhook.cursor)
            .await
            .iter()
            .map(|e| e.id.clone())
            .collect();
        assert!(expected.len() > 40, "{backend}: {}", expected.len());
        for (url, _) in &hooks {
            common::wait_until(
                "every endpoint served",
                Duration::from_secs(60),
                async || inbox.got(url).len() >= expected.len(),
            )
            .await;
        }
        one.stop().await;
        two.stop().await;
        for (url, _) in &hooks {
            let got: Vec<String> = inbox.got(url).iter().map(|r| r.id.clone()).collect();
            assert_eq!(got, expected, "{backend} {url}: in order, once each");
        }
        assert_eq!(inbox.most_in_flight.load(Ordering::SeqCst), 1, "{backend}");
        drop(other);
    }
}

#[tokio::test]
async fn bad_requests_are_refused_clearly_and_change_nothing() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-e").unwrap();
        let e = id
            .create_webhook("http://127.0.0.1:9/", EventTypes::ALL)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: Field::Url,
                    ..
                }
            ),
            "{e}"
        );
        assert!(id.webhooks().await.unwrap().is_empty(), "{backend}");
        let hook = id
            .create_webhook("https://crm.example.com/e", EventTypes::ALL)
            .await
            .unwrap()
            .webhook;

        let other = id.tenant("shop-other").unwrap();
        assert!(
            other.webhooks().await.unwrap().is_empty(),
            "{backend}: tenants apart"
        );
        let e = other.delete_webhook(hook.id).await.unwrap_err();
        assert_eq!(e.to_string(), format!("webhook {} not found", hook.id));
        assert!(matches!(
            other.webhook_deliveries(hook.id, 10).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            other.replay_webhook(hook.id, None).await,
            Err(Error::NotFound { .. })
        ));
        let e = id.webhook_deliveries(hook.id, 0).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: Field::Limit,
                    ..
                }
            ),
            "{e}"
        );
        let past: Cursor = "f1.ff".parse().unwrap();
        let e = id.replay_webhook(hook.id, Some(past)).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: Field::Cursor,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            id.webhook(hook.id).await.unwrap(),
            hook,
            "{backend}: unchanged"
        );

        // the handle that allows private targets takes one
        let private = id.clone().with_private_webhooks(true);
        private
            .create_webhook("http://127.0.0.1:9/", EventTypes::ALL)
            .await
            .unwrap();
        id.delete_webhook(hook.id).await.unwrap();
        assert_eq!(id.webhooks().await.unwrap().len(), 1, "{backend}");
    }
}
