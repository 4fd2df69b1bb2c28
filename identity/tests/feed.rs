//! The change feed on every backend: the events each write makes, pages and cursors, waiting
//! for new events, a storm whose feed replayed rebuilds every row's primary, and on PostgreSQL
//! the proof that a slow transaction holding an earlier position makes later writers wait
//! instead of letting a reader skip it (the outbox bug).

use identity_testkit as common;

use std::time::Duration;

use futures_util::StreamExt;
use identity::feed::Cursor;
use identity::{ContactId, Error, ErrorKind, FeedChange, Field};
use identity_testkit::{TestDb, Workload};

fn types(events: &[identity::FeedEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.change.kind()).collect()
}

#[tokio::test]
async fn each_write_makes_its_event_in_order() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-f").unwrap();
        let doc = id.identify(Some("doc@x.io"), Some("555")).await.unwrap();
        let marty = id.identify(Some("marty@x.io"), Some("777")).await.unwrap();
        id.identify(Some("doc@x.io"), Some("777")).await.unwrap(); // merges marty into doc
        let linked = id.identify(Some("doc2@x.io"), Some("555")).await.unwrap();
        let row = *linked.secondary_contact_ids.last().unwrap();
        id.identify(Some("doc@x.io"), Some("555")).await.unwrap(); // known: no event
        id.split(doc.primary_contact_id, &[marty.primary_contact_id], false)
            .await
            .unwrap();
        id.erase(marty.primary_contact_id, false).await.unwrap();

        let page = id.events(None, 100).await.unwrap();
        assert_eq!(
            types(&page.events),
            [
                "contact.created",
                "contact.created",
                "customer.merged",
                "contact.linked",
                "customer.split",
                "customer.erased"
            ],
            "{backend}"
        );
        let (d, m) = (doc.primary_contact_id, marty.primary_contact_id);
        assert_eq!(
            page.events[2].change,
            FeedChange::CustomerMerged {
                primary: d,
                merged_primary: m,
                contacts: vec![m]
            },
            "{backend}"
        );
        let FeedChange::ContactLinked {
            contact, primary, ..
        } = &page.events[3].change
        else {
            panic!("{backend}: {:?}", page.events[3]);
        };
        assert_eq!((*contact, *primary), (row, d), "{backend}");
        let FeedChange::CustomerSplit { customers } = &page.events[4].change else {
            panic!("{backend}: {:?}", page.events[4]);
        };
        assert_eq!(customers[0].primary, d, "{backend}");
        assert_eq!(customers[0].contacts, vec![d, row], "{backend}");
        assert_eq!(customers[1].primary, m, "{backend}");
        assert_eq!(customers[1].contacts, vec![m], "{backend}");
        assert_eq!(
            page.events[5].change,
            FeedChange::CustomerErased { contacts: vec![m] },
            "{backend}"
        );
        // the erased row's values are gone from its earlier event too
        let wire = serde_json::to_value(&page.events[1]).unwrap();
        assert_eq!(wire["data"]["email"], serde_json::Value::Null, "{backend}");
        assert_eq!(wire["tenant"], "shop-f", "{backend}");
        assert_eq!(page.next, page.events[5].cursor, "{backend}");
        // another tenant's feed is its own
        let other = store.identity.tenant("shop-g").unwrap();
        assert!(other.events(None, 10).await.unwrap().events.is_empty());
        common::feed::assert_feed_rebuilds(&id).await;
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_and_bad_cursors_are_refused() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = &store.identity;
        for i in 0..5 {
            id.identify(Some(&format!("p{i}@x.io")), None)
                .await
                .unwrap();
        }
        let first = id.events(None, 2).await.unwrap();
        let second = id.events(Some(first.next), 2).await.unwrap();
        let third = id.events(Some(second.next), 2).await.unwrap();
        let last = id.events(Some(third.next), 2).await.unwrap();
        let sizes = [&first, &second, &third, &last].map(|p| p.events.len());
        assert_eq!(sizes, [2, 2, 1, 0], "{backend}");
        assert_eq!(last.next, third.next, "{backend}");
        let all = id.events(None, 10).await.unwrap();
        let paged: Vec<_> = [first, second, third]
            .into_iter()
            .flat_map(|p| p.events)
            .collect();
        assert_eq!(paged, all.events, "{backend}");

        let ahead: Cursor = "f1.ff".parse().unwrap();
        let e = id.events(Some(ahead), 10).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: Field::Cursor,
                    ..
                }
            ),
            "{backend}: {e}"
        );
        let e = id.events(None, 0).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: Field::Limit,
                    ..
                }
            ),
            "{backend}: {e}"
        );
        let e = id
            .events_wait(None, 10, Duration::from_secs(31))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidInput {
                    field: Field::Wait,
                    ..
                }
            ),
            "{backend}: {e}"
        );
    }
}

#[tokio::test]
async fn a_cursor_older_than_what_was_kept_is_expired() {
    let db = TestDb::create().await;
    let id = identity::connect(db.url()).await.unwrap();
    for i in 0..4 {
        id.identify(Some(&format!("e{i}@x.io")), None)
            .await
            .unwrap();
    }
    let page = id.events(None, 1).await.unwrap();
    // what retention leaves: the first three events gone, the floor at 3
    let pool = db.pool().await;
    sqlx::query("DELETE FROM identity_event WHERE position <= 3")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO identity_feed_floor (tenant_id, position) VALUES ('default', 3)")
        .execute(&pool)
        .await
        .unwrap();
    let e = id.events(Some(page.next), 10).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Expired, "{e}");
    assert_eq!(
        e.to_string(),
        "cursor expired: the events after it were pruned; the oldest cursor kept is f1.3"
    );
    let rest = id.events(None, 10).await.unwrap();
    assert_eq!(rest.events.len(), 1);
    // the next write numbers on after the pruned ones, also when none is left
    sqlx::query("DELETE FROM identity_event")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE identity_feed_floor SET position = 4")
        .execute(&pool)
        .await
        .unwrap();
    id.identify(Some("e9@x.io"), None).await.unwrap();
    let after = id.events(None, 10).await.unwrap();
    assert_eq!(after.events[0].cursor.to_string(), "f1.5");
}

#[tokio::test]
async fn a_waiting_reader_wakes_for_a_write_and_a_stream_follows() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.clone();
        let head = id.events(None, 10).await.unwrap().next;
        let writer = id.clone();
        let write = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            writer.identify(Some("late@x.io"), None).await.unwrap();
        });
        let page = id
            .events_wait(Some(head), 10, Duration::from_secs(20))
            .await
            .unwrap();
        write.await.unwrap();
        assert_eq!(types(&page.events), ["contact.created"], "{backend}");
        // nothing comes: an empty page when the wait runs out
        let empty = id
            .events_wait(Some(page.next), 10, Duration::from_millis(300))
            .await
            .unwrap();
        assert!(empty.events.is_empty(), "{backend}");
        assert_eq!(empty.next, page.next, "{backend}");

        // a stream from the start, and a write from a second handle (another process's, on
        // the file and server backends) that it sees by looking again
        let second = store.second_handle().await;
        let mut feed = Box::pin(id.feed(None));
        let first = feed.next().await.unwrap().unwrap();
        assert_eq!(first, page.events[0], "{backend}");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            second.identify(None, Some("4242")).await.unwrap();
        });
        let next = tokio::time::timeout(Duration::from_secs(20), feed.next())
            .await
            .expect("the stream sees a write of another handle")
            .unwrap()
            .unwrap();
        let FeedChange::ContactCreated { phone_number, .. } = &next.change else {
            panic!("{backend}: {next:?}");
        };
        assert_eq!(phone_number.as_ref().unwrap().as_str(), "4242", "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_with_merges_replays_from_the_feed() {
    for store in common::every_backend().await {
        let second = store.second_handle().await;
        let per_worker: Vec<Vec<identity::IdentifyRequest>> = (1..=8)
            .map(|seed| Workload::requests(seed, 6, 60, 6))
            .collect();
        let (a, b) = per_worker.split_at(4);
        let (one, two) = tokio::join!(
            common::hammer(&store.identity, a.to_vec()),
            common::hammer(&second, b.to_vec()),
        );
        assert!(one.is_empty() && two.is_empty(), "{one:?} {two:?}");
        let events = common::feed::read_all(&store.identity).await;
        assert!(
            events.iter().any(|e| e.change.kind() == "customer.merged"),
            "the storm merged customers"
        );
        common::assert_sound_after_storm(&store).await;
    }
}

/// The outbox bug: a reader that remembers "I have read up to event n" skips an event numbered
/// below n that commits after it read. Here a transaction writes an event and stays open while
/// twenty identifies of the same tenant run: they wait for it instead of committing past it,
/// a reader meanwhile sees nothing new, and once it commits the reader, going on from the
/// cursor it had, gets the held event first and then every other one, none skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_transaction_holding_an_earlier_position_is_not_skipped() {
    let db = TestDb::create().await;
    let options = identity::ConnectOptions::default().max_connections(24);
    let id = identity::Identity::connect_with(db.url(), &options)
        .await
        .unwrap();
    id.identify(Some("first@x.io"), None).await.unwrap();
    let cursor = id.events(None, 10).await.unwrap().next;

    let pool = db.pool().await;
    let mut slow = pool.begin().await.unwrap();
    let held: i64 =
        sqlx::query_scalar("SELECT identity_new_customer('default', NULL, 0, 'slow@x.io', NULL)")
            .fetch_one(&mut *slow)
            .await
            .unwrap();
    assert!(held > 0);

    let mut writers = tokio::task::JoinSet::new();
    for i in 0..20 {
        let id = id.clone();
        writers.spawn(async move {
            id.identify(Some(&format!("later{i}@x.io")), None)
                .await
                .unwrap()
        });
    }
    // the writers queue behind the slow transaction's feed lock
    common::wait_until("a writer waiting", Duration::from_secs(30), async || {
        common::writers_waiting(&pool).await >= 1
    })
    .await;
    let meanwhile = id.events(Some(cursor), 100).await.unwrap();
    assert!(meanwhile.events.is_empty(), "{:?}", meanwhile.events);
    assert!(
        writers.try_join_next().is_none(),
        "no writer committed past it"
    );

    slow.commit().await.unwrap();
    let answers = writers.join_all().await;
    let page = id.events(Some(cursor), 100).await.unwrap();
    assert_eq!(page.events.len(), 21);
    let FeedChange::ContactCreated { contact, .. } = &page.events[0].change else {
        panic!("{:?}", page.events[0]);
    };
    assert_eq!(*contact, ContactId::new(held), "the held event comes first");
    let mut created: Vec<ContactId> = page.events[1..]
        .iter()
        .map(|e| match &e.change {
            FeedChange::ContactCreated { contact, .. } => *contact,
            other => panic!("{other:?}"),
        })
        .collect();
    created.sort_unstable();
    let mut answered: Vec<ContactId> = answers.iter().map(|a| a.primary_contact_id).collect();
    answered.sort_unstable();
    assert_eq!(created, answered);
    let positions: Vec<String> = page.events.iter().map(|e| e.cursor.to_string()).collect();
    let expected: Vec<String> = (2..=22).map(|p| format!("f1.{p:x}")).collect();
    assert_eq!(positions, expected, "one position after another");
    common::assert_sql_invariants(&pool).await;
    common::assert_verified(&id).await;
}

#[tokio::test]
async fn retention_prunes_old_events_of_every_tenant_and_history_says_so() {
    use identity::{Checkout, IdentifyRequest, ImportOptions};
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let a = store.identity.tenant("shop-a").unwrap();
        let b = store.identity.tenant("shop-b").unwrap();
        // an import's events carry their rows' old times, yet stay until a later event goes
        let at = time::OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap();
        let checkout =
            |email: &str| Checkout::new(IdentifyRequest::parse(Some(email), None).unwrap(), at, 1);
        a.import(vec![checkout("old@x.io")], ImportOptions::default())
            .await
            .unwrap();
        let nothing = store.identity.prune_events(Duration::ZERO).await.unwrap();
        assert_eq!((nothing.events, nothing.tenants), (0, 0), "{backend}");
        assert_eq!(
            a.events(None, 10).await.unwrap().events.len(),
            1,
            "{backend}"
        );

        let doc = a.identify(Some("doc@x.io"), None).await.unwrap();
        b.identify(Some("doc@x.io"), None).await.unwrap();
        let before = a.events(None, 10).await.unwrap();
        let kept = store
            .identity
            .prune_events(identity::feed::DEFAULT_RETENTION)
            .await
            .unwrap();
        assert_eq!(kept.events, 0, "{backend}: nothing is 30 days old");
        assert!(
            a.history(doc.primary_contact_id)
                .await
                .unwrap()
                .pruned_before
                .is_none()
        );

        let pruned = store.identity.prune_events(Duration::ZERO).await.unwrap();
        assert_eq!((pruned.events, pruned.tenants), (3, 2), "{backend}");
        let e = a
            .events(Some(before.events[0].cursor), 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Expired, "{backend}");
        let empty = a.events(None, 10).await.unwrap();
        assert!(empty.events.is_empty(), "{backend}");
        assert_eq!(
            empty.next, before.next,
            "{backend}: read on from where it was cut"
        );
        // history tells what is left, and since when
        let history = a.history(doc.primary_contact_id).await.unwrap();
        assert!(history.events.is_empty() && history.pruned_before.is_some());
        let wire = serde_json::to_value(&history).unwrap();
        assert!(wire["prunedBefore"].is_string(), "{backend}: {wire}");
        // the next event numbers on after the pruned ones
        a.identify(None, Some("555")).await.unwrap();
        let next = a.events(Some(empty.next), 10).await.unwrap();
        assert_eq!(types(&next.events), ["contact.created"], "{backend}");
        assert_eq!(
            next.events[0].cursor.to_string(),
            format!("f1.{:x}", 3),
            "{backend}"
        );
        common::assert_verified(&a).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pruning_while_writers_write_leaves_a_gapless_feed() {
    let db = TestDb::create().await;
    let options = identity::ConnectOptions::default().max_connections(12);
    let id = identity::Identity::connect_with(db.url(), &options)
        .await
        .unwrap();
    let pruner = {
        let id = id.clone();
        tokio::spawn(async move {
            let mut pruned = 0;
            for _ in 0..40 {
                pruned += id.prune_events(Duration::ZERO).await.unwrap().events;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            pruned
        })
    };
    let per_worker: Vec<Vec<identity::IdentifyRequest>> = (1..=6)
        .map(|seed| Workload::requests(seed, 6, 80, 6))
        .collect();
    let failures = common::hammer(&id, per_worker).await;
    assert!(failures.is_empty(), "{failures:?}");
    let pruned = pruner.await.unwrap();
    assert!(pruned > 0, "the pruner ran while the writers wrote");
    // what is left is one run of positions right after the floor, up to the head
    let pool = db.pool().await;
    let (floor, low, high, count): (i64, Option<i64>, Option<i64>, i64) = sqlx::query_as(
        "SELECT coalesce((SELECT position FROM identity_feed_floor WHERE tenant_id = $1), 0),
                min(position), max(position), count(*) FROM identity_event WHERE tenant_id = $1",
    )
    .bind(id.tenant_id().as_str())
    .fetch_one(&pool)
    .await
    .unwrap();
    if count > 0 {
        assert_eq!(low, Some(floor + 1));
        assert_eq!(high, Some(floor + count));
    }
    common::assert_sql_invariants(&pool).await;
    common::assert_verified(&id).await;
}
