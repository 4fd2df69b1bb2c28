//! The change feed replayed: every row's primary rebuilt from the feed alone, compared with the
//! store.

use std::collections::BTreeMap;

use identity::{ContactId, FeedChange, FeedEvent};

/// Every event of the handle's tenant, read page by page from the start.
pub async fn read_all(identity: &identity::Identity) -> Vec<FeedEvent> {
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let page = identity.events(after, 1000).await.unwrap();
        if page.events.is_empty() {
            return events;
        }
        after = Some(page.next);
        events.extend(page.events);
    }
}

/// Each row's primary as `events` (in order) leave it: `contact.created` makes a customer,
/// `contact.linked` adds a row, `customer.merged` and `customer.split` move rows, and
/// `customer.erased` takes them away.
pub fn primaries(events: &[FeedEvent]) -> BTreeMap<ContactId, ContactId> {
    let mut primary = BTreeMap::new();
    for event in events {
        match &event.change {
            FeedChange::ContactCreated { contact, .. } => {
                primary.insert(*contact, *contact);
            }
            FeedChange::ContactLinked {
                contact,
                primary: p,
                ..
            } => {
                primary.insert(*contact, *p);
            }
            FeedChange::CustomerMerged {
                primary: p,
                contacts,
                ..
            } => {
                for c in contacts {
                    primary.insert(*c, *p);
                }
            }
            FeedChange::CustomerSplit { customers } => {
                for customer in customers {
                    for c in &customer.contacts {
                        primary.insert(*c, customer.primary);
                    }
                }
            }
            FeedChange::CustomerErased { contacts } => {
                for c in contacts {
                    primary.remove(c);
                }
            }
            other => panic!("an event type this replay does not know: {other:?}"),
        }
    }
    primary
}

/// Asserts that the feed of the handle's tenant, replayed from the start, gives every visible
/// row its primary and names no other row, that its cursors go up one event at a time, and
/// that each event keeps its id when read again.
pub async fn assert_feed_rebuilds(identity: &identity::Identity) {
    let events = read_all(identity).await;
    let rows = identity.all_contacts().await.unwrap();
    let stored: BTreeMap<ContactId, ContactId> = rows.iter().map(|c| (c.id, c.root())).collect();
    let backend = identity.store().backend();
    assert_eq!(primaries(&events), stored, "{backend}: the feed replayed");
    for pair in events.windows(2) {
        assert!(pair[0].cursor < pair[1].cursor, "{backend}: {pair:?}");
    }
    let again = read_all(identity).await;
    let ids = |e: &[FeedEvent]| e.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&events), "{backend}: ids read twice");
}
