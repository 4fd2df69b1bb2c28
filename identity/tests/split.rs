//! Split on every backend: what it moves and answers, the errors that change nothing, blocking
//! shared values, kept-apart customers (through later merges, nested splits and rebuilds),
//! history on both sides, and a storm mixing identifies, splits and blocks from two stores that
//! ends with I1-I4 (I3: no unblocked value in two customers) in SQL and a clean `verify`.

use identity_testkit as common;

use std::collections::BTreeSet;

use identity::{BlockedValue, ContactId, Error, Field, Identity, IgnoredReason};

fn ids(list: &[ContactId]) -> BTreeSet<ContactId> {
    list.iter().copied().collect()
}

fn kinds(history: &identity::History) -> Vec<&'static str> {
    history.events.iter().map(|e| e.change.kind()).collect()
}

/// Doc (1: doc@, 555) and Marty (2: marty@, 777), wrongly merged by a request carrying doc@ and
/// 777; then Marty's row 3 (marty2@, 777).
async fn wrong_merge(id: &Identity) -> (ContactId, ContactId, ContactId) {
    let doc = id.identify(Some("doc@x.io"), Some("555")).await.unwrap();
    let marty = id.identify(Some("marty@x.io"), Some("777")).await.unwrap();
    id.identify(Some("doc@x.io"), Some("777")).await.unwrap();
    let c = id.identify(Some("marty2@x.io"), Some("777")).await.unwrap();
    let three = *c.secondary_contact_ids.last().unwrap();
    (doc.primary_contact_id, marty.primary_contact_id, three)
}

#[tokio::test]
async fn a_split_undoes_a_wrong_merge_and_keeps_the_parts_apart() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-s").unwrap();
        let (doc, marty, three) = wrong_merge(&id).await;
        let split = id.split(doc, &[three, marty], false).await.unwrap();
        assert_eq!(split.customer.primary_contact_id, doc, "{backend}");
        assert!(split.customer.secondary_contact_ids.is_empty(), "{backend}");
        assert_eq!(split.new_customer.primary_contact_id, marty, "{backend}");
        assert_eq!(split.new_customer.secondary_contact_ids, vec![three]);
        let phones: Vec<&str> = split
            .new_customer
            .phone_numbers
            .iter()
            .map(|p| p.as_str())
            .collect();
        assert_eq!(phones, ["777"], "{backend}");
        assert!(split.blocked.is_empty());

        // each value answers with its own customer again
        let marty_now = id.identify(None, Some("777")).await.unwrap();
        assert_eq!(marty_now.primary_contact_id, marty, "{backend}");
        // the request that merged them no longer does: the email's customer answers
        let rows_before = id.all_contacts().await.unwrap().len();
        for _ in 0..2 {
            let c = id.identify(Some("doc@x.io"), Some("777")).await.unwrap();
            assert_eq!(c.primary_contact_id, doc, "{backend}");
            assert_eq!(c.ignored.len(), 1, "{backend}");
            assert_eq!(c.ignored[0].field, Field::PhoneNumber);
            assert_eq!(c.ignored[0].reason, IgnoredReason::KeptApart);
            let c = id
                .lookup(Some("doc@x.io"), Some("777"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(c.primary_contact_id, doc, "{backend}: lookup");
            assert_eq!(c.ignored[0].reason, IgnoredReason::KeptApart);
        }
        assert_eq!(
            id.all_contacts().await.unwrap().len(),
            rows_before,
            "{backend}"
        );

        // history on both sides; each explains exactly its rows
        let h = id.history(doc).await.unwrap();
        assert_eq!(
            kinds(&h),
            ["created", "created", "merged", "created", "split_off"],
            "{backend}"
        );
        assert_eq!(h.rows(), ids(&[doc]), "{backend}");
        let h = id.history(three).await.unwrap();
        assert_eq!((h.asked, h.customer), (three, marty), "{backend}");
        assert_eq!(kinds(&h), ["split_from"], "{backend}");
        assert_eq!(h.events[0].change.split(), Some((doc, &[marty, three][..])));
        assert_eq!(h.rows(), ids(&[marty, three]), "{backend}");
        let wire = serde_json::to_value(&h).unwrap();
        assert_eq!(wire["events"][0]["type"], "split_from");
        assert_eq!(wire["events"][0]["otherCustomerId"], doc.get());
        assert_eq!(
            wire["events"][0]["movedIds"],
            serde_json::json!([marty.get(), three.get()])
        );

        // a rebuild recomputes the same two customers
        id.rebuild().await.unwrap();
        let c = id.identify(None, Some("777")).await.unwrap();
        assert_eq!(c.primary_contact_id, marty, "{backend}: after rebuild");
        common::assert_invariants(&id.all_contacts().await.unwrap());
        common::assert_verified(&id).await;
    }
}

#[tokio::test]
async fn bad_splits_are_refused_and_change_nothing() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-e").unwrap();
        let (doc, marty, three) = wrong_merge(&id).await;
        let other = store.identity.tenant("shop-other").unwrap();
        let stranger = other
            .identify(Some("z@x.io"), None)
            .await
            .unwrap()
            .primary_contact_id;
        let rows = id.all_contacts().await.unwrap();
        let events = id.history(doc).await.unwrap().events.len();

        for missing in [ContactId::new(999_999), stranger] {
            let err = id.split(missing, &[three], false).await.unwrap_err();
            assert!(
                matches!(err, Error::NotFound { entity: "contact", id } if id == missing.get()),
                "{backend}: {err:?}"
            );
        }
        for (asked, reason) in [
            (vec![], "name at least one row to move".to_owned()),
            (
                vec![stranger],
                format!("contact {stranger} is not a row of customer {doc}"),
            ),
            (
                vec![doc, marty, three],
                format!("names every row of customer {doc}: nothing would stay"),
            ),
        ] {
            let err = id.split(marty, &asked, false).await.unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { field: Field::ContactIds, reason: r } if *r == reason),
                "{backend}: {err:?}"
            );
        }
        // row 3 shares 777 with Marty's row, which stays
        let err = id.split(doc, &[three], false).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "conflict: the rows to move share phone 777 with the rows that stay; block them as \
             part of the split, or move other rows",
            "{backend}"
        );
        assert_eq!(id.all_contacts().await.unwrap(), rows, "{backend}");
        assert_eq!(
            id.history(doc).await.unwrap().events.len(),
            events,
            "{backend}"
        );
        common::assert_verified(&id).await;
    }
}

#[tokio::test]
async fn shared_values_can_be_blocked_as_part_of_the_split() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-b").unwrap();
        let (doc, marty, three) = wrong_merge(&id).await;
        let blocked_before = id.blocked_values().await.unwrap();
        let split = id.split(marty, &[three], true).await.unwrap();
        assert_eq!(
            split.blocked,
            vec![BlockedValue::phone("777").unwrap()],
            "{backend}"
        );
        assert_eq!(split.customer.primary_contact_id, doc);
        assert_eq!(split.new_customer.primary_contact_id, three);
        let list = id.blocked_values().await.unwrap();
        assert_eq!(list.len(), blocked_before.len() + 1, "{backend}");
        // both keep 777 in their rows; no request matches it any more
        let c = id.identify(Some("marty2@x.io"), Some("777")).await.unwrap();
        assert_eq!(c.primary_contact_id, three, "{backend}");
        assert_eq!(c.ignored[0].reason, IgnoredReason::Blocked);
        let h = id.history(doc).await.unwrap();
        assert!(kinds(&h).contains(&"blocked"), "{backend}: {:?}", kinds(&h));
        assert_eq!(h.rows(), ids(&[doc, marty]), "{backend}");
        // unblocking it would put one unblocked value in two customers: refused
        let err = id
            .unblock(&BlockedValue::phone("777").unwrap())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "conflict: phone 777 is held by customers a split keeps apart, so it stays blocked",
            "{backend}"
        );
        assert_eq!(id.blocked_values().await.unwrap(), list, "{backend}");
        let rows = id.all_contacts().await.unwrap();
        common::assert_invariants_blocking(&rows, &list);
        common::assert_verified(&id).await;
        id.rebuild().await.unwrap();
        common::assert_verified(&id).await;
        if let Some(db) = &store.db {
            common::assert_sql_invariants(&db.pool().await).await;
        }
    }
}

#[tokio::test]
async fn kept_apart_follows_later_merges_and_nested_splits() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-k").unwrap();
        let (doc, marty, three) = wrong_merge(&id).await;
        id.split(doc, &[marty, three], false).await.unwrap();
        // Doc absorbs a newer customer (Einstein); Einstein's email with Marty's phone is
        // still withheld: Doc's customer now holds Einstein
        id.identify(Some("einstein@x.io"), Some("888"))
            .await
            .unwrap();
        let merged = id.identify(Some("doc@x.io"), Some("888")).await.unwrap();
        assert_eq!(merged.primary_contact_id, doc, "{backend}");
        let c = id
            .identify(Some("einstein@x.io"), Some("777"))
            .await
            .unwrap();
        assert_eq!(c.primary_contact_id, doc, "{backend}");
        assert_eq!(c.ignored[0].reason, IgnoredReason::KeptApart, "{backend}");
        // Marty's customer split again: both of its parts stay apart from Doc
        id.split(marty, &[three], true).await.unwrap();
        for phone in ["777"] {
            let c = id.identify(Some("doc@x.io"), Some(phone)).await.unwrap();
            assert_eq!(c.primary_contact_id, doc, "{backend}");
        }
        let c = id.identify(Some("marty2@x.io"), Some("555")).await.unwrap();
        assert_eq!(c.primary_contact_id, three, "{backend}");
        assert_eq!(c.ignored[0].reason, IgnoredReason::KeptApart, "{backend}");
        let c = id.identify(Some("marty@x.io"), Some("555")).await.unwrap();
        assert_eq!(c.primary_contact_id, marty, "{backend}");
        assert_eq!(c.ignored[0].reason, IgnoredReason::KeptApart, "{backend}");
        let list = id.blocked_values().await.unwrap();
        common::assert_invariants_blocking(&id.all_contacts().await.unwrap(), &list);
        common::assert_verified(&id).await;
    }
}

/// Mixes identifies over a small pool of values with splits (of random rows, blocking what the
/// parts share) and blocks, from two stores at once; then checks everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_identifies_splits_and_blocks_keeps_every_invariant() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let second = store.second_handle().await;
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..6u64 {
            let id = store.handle_for(&second, worker);
            tasks.spawn(async move {
                let mut splits = 0;
                for (n, request) in common::Workload::requests(worker + 1, 10, 80, 30)
                    .into_iter()
                    .enumerate()
                {
                    let answer = match id.identify_request(&request).await {
                        Ok(answer) => answer,
                        // every value of the request was blocked (by a split or a block)
                        Err(Error::BlockedValue { .. }) => continue,
                        Err(e) => panic!("identify: {e}"),
                    };
                    if worker < 4 && n % 7 == 6 && !answer.secondary_contact_ids.is_empty() {
                        // move every other secondary of the answer's customer
                        let moved: Vec<ContactId> = answer
                            .secondary_contact_ids
                            .iter()
                            .copied()
                            .step_by(2)
                            .collect();
                        match id.split(answer.primary_contact_id, &moved, true).await {
                            Ok(_) => splits += 1,
                            // the customer changed meanwhile: its rows are another's now
                            Err(Error::InvalidInput { .. } | Error::NotFound { .. }) => {}
                            Err(e) => panic!("split: {e}"),
                        }
                    }
                    if worker == 5 && n % 20 == 19 {
                        // a phone the workers are sending right now
                        let value = format!("{}555{:03}", n / 30, n % 10);
                        id.block(&BlockedValue::phone(&value).unwrap())
                            .await
                            .unwrap();
                    }
                }
                splits
            });
        }
        let splits: usize = tasks.join_all().await.into_iter().sum();
        assert!(splits > 0, "{backend}: no split happened");
        common::assert_sound_after_storm(&store).await;
        second.close().await;
    }
}
