//! History on every backend: what each write records, the walk through absorbed customers,
//! blocked-list changes that concern a customer, unknown ids, and a storm of identifies from
//! two stores after which every customer's history explains exactly its rows and the event
//! table agrees with `contact` in SQL (each write recorded its event in its own transaction).

use identity_testkit as common;

use identity::{BlockedValue, Change, ContactId, Error, IdentifierKind};

fn kinds(history: &identity::History) -> Vec<&'static str> {
    history.events.iter().map(|e| e.change.kind()).collect()
}

#[tokio::test]
async fn history_explains_rows_merges_and_blocks() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-h").unwrap();
        let first = id.identify(Some("a@x.io"), Some("111")).await.unwrap();
        let second = id.identify(Some("b@x.io"), Some("222")).await.unwrap();
        let (one, two) = (first.primary_contact_id, second.primary_contact_id);
        let merged = id.identify(Some("a@x.io"), Some("222")).await.unwrap();
        assert_eq!(merged.primary_contact_id, one, "{backend}");
        let third = id.identify(Some("c@x.io"), Some("111")).await.unwrap();
        let three = *third.secondary_contact_ids.last().unwrap();
        id.block(&BlockedValue::email("b@x.io").unwrap())
            .await
            .unwrap();
        id.block(&BlockedValue::email("zed@x.io").unwrap())
            .await
            .unwrap();
        id.block(&BlockedValue::pattern("phone", "^22").unwrap())
            .await
            .unwrap();

        // asked with the absorbed customer's id: the customer it is part of now
        let history = id.history(two).await.unwrap();
        assert_eq!((history.asked, history.customer), (two, one), "{backend}");
        assert_eq!(
            kinds(&history),
            [
                "created", "created", "merged", "created", "blocked", "blocked"
            ],
            "{backend}"
        );
        let e = &history.events;
        assert_eq!(e[0].customer, Some(one), "{backend}");
        assert_eq!(e[1].customer, Some(two), "{backend}: before the merge");
        assert!(matches!(
            &e[0].change,
            Change::Created { contact, via, .. } if *contact == one && via.is_empty()
        ));
        match &e[2].change {
            Change::Merged {
                absorbed,
                relinked,
                email,
                phone_number,
            } => {
                assert_eq!(*absorbed, two, "{backend}");
                assert_eq!(relinked, &vec![two], "{backend}");
                assert_eq!(email.as_ref().unwrap().as_str(), "a@x.io");
                assert_eq!(phone_number.as_ref().unwrap().as_str(), "222");
            }
            other => panic!("{backend}: {other:?}"),
        }
        assert!(matches!(
            &e[3].change,
            Change::Created { contact, via, .. }
                if *contact == three && via == &[IdentifierKind::Phone]
        ));
        // the unrelated block is not this customer's; the exact and the pattern one are
        assert!(
            matches!(&e[4].change, Change::Blocked { entry } if entry.value() == Some("b@x.io"))
        );
        assert!(matches!(&e[5].change, Change::Blocked { entry } if entry.is_pattern()));
        assert!(e.windows(2).all(|w| w[0].at <= w[1].at), "{backend}");
        assert_eq!(history.rows(), [one, two, three].into(), "{backend}");

        // any row of the customer gives the same history
        let by_row = id.history(three).await.unwrap();
        assert_eq!(by_row.customer, one);
        assert_eq!(by_row.events, history.events, "{backend}");

        // the wire shape
        let wire = serde_json::to_value(&history).unwrap();
        assert_eq!(wire["askedId"], two.get());
        assert_eq!(wire["customerId"], one.get());
        assert_eq!(wire["events"][2]["type"], "merged");
        assert_eq!(wire["events"][2]["absorbedId"], two.get());
        assert_eq!(wire["events"][2]["relinkedIds"], serde_json::json!([two]));
        assert_eq!(wire["events"][3]["via"], serde_json::json!(["phone"]));
        assert!(wire["events"][4].get("customerId").is_none());
        assert!(wire["events"][0]["at"].as_str().unwrap().ends_with('Z'));

        // unknown ids, and another tenant's
        for missing in [
            ContactId::new(999),
            ContactId::new(-1),
            ContactId::new(i64::MIN),
        ] {
            let err = id.history(missing).await.unwrap_err();
            assert!(matches!(err, Error::NotFound { .. }), "{backend}: {err:?}");
        }
        let err = store.identity.history(one).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("contact {one} not found"),
            "{backend}"
        );
        common::assert_verified(&id).await;
    }
}

#[tokio::test]
async fn a_failed_identify_records_nothing() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = &store.identity;
        let c = id.identify(Some("a@x.io"), None).await.unwrap();
        id.identify(Some("a@x.io"), None).await.unwrap(); // known: writes nothing
        assert!(id.identify(Some("nope"), None).await.is_err());
        assert!(id.identify(Some("null@x.io"), None).await.is_err()); // blocked
        let history = id.history(c.primary_contact_id).await.unwrap();
        assert_eq!(kinds(&history), ["created"], "{backend}");
    }
}

/// Rows, creation events, rows with one, and events naming no row (the same SQL for both).
const EVENT_COUNTS: &str = "\
SELECT (SELECT count(*) FROM contact),
       (SELECT count(*) FROM identity_event WHERE kind = 'created'),
       (SELECT count(DISTINCT contact_id) FROM identity_event WHERE kind = 'created'),
       (SELECT count(*) FROM identity_event AS e
        WHERE e.kind IN ('created', 'merged')
          AND NOT EXISTS (SELECT 1 FROM contact AS c
                          WHERE c.tenant_id = e.tenant_id AND c.id = e.contact_id))";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_storm_every_history_explains_exactly_its_customer() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let second = store.second_handle().await;
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8u64 {
            let id = store.handle_for(&second, worker);
            tasks.spawn(async move {
                for request in common::Workload::requests(worker + 1, 12, 120, 40) {
                    id.identify_request(&request).await.unwrap();
                }
            });
        }
        tasks.join_all().await;

        let rows = store.identity.all_contacts().await.unwrap();
        common::assert_invariants(&rows);
        let customers = common::customers_by_link(&rows);
        assert!(
            customers.values().any(|c| c.len() > 2),
            "{backend}: no merges"
        );
        let mut merges = 0;
        for (primary, members) in &customers {
            let history = store.identity.history(*primary).await.unwrap();
            assert_eq!(&history.rows(), members, "{backend}: customer {primary}");
            merges += kinds(&history).iter().filter(|k| **k == "merged").count();
            // a secondary's history is its customer's
            let last = *members.last().unwrap();
            assert_eq!(
                store.identity.history(last).await.unwrap().customer,
                *primary
            );
        }
        assert!(merges > 0, "{backend}: no merge recorded");
        // every row has exactly one creation event and every event names a row
        let counts = match (&store.db, &store.url) {
            (Some(db), _) => {
                let pool = db.pool().await;
                common::assert_sql_invariants(&pool).await;
                sqlx::query_as(EVENT_COUNTS).fetch_one(&pool).await.unwrap()
            }
            (None, Some(url)) => {
                let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                sqlx::query_as(EVENT_COUNTS).fetch_one(&pool).await.unwrap()
            }
            (None, None) => (0, 0, 0, 0),
        };
        let (rows_n, created, distinct, orphans): (i64, i64, i64, i64) = counts;
        assert_eq!(
            (created, distinct, orphans),
            (rows_n, rows_n, 0),
            "{backend}"
        );
        common::assert_verified(&store.identity).await;
        second.close().await;
    }
}
