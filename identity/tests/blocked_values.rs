//! Blocked values on every backend: the defaults, per-tenant changes, exact phones in a region's
//! form, and blocks made during a storm of identifies from two stores on the same data (two
//! processes, in effect): once `block` returns no request stores the value again (the rows that
//! carry it are frozen), every answer says which values it left out, the customers equal the
//! union-find of the requests as screened, and I1-I4 and `verify` hold.

use identity_testkit as common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use identity::{BlockedValue, Error, Field, IdentifyRequest};

fn rows_with(rows: &[identity::Contact], value: &str) -> BTreeSet<i64> {
    rows.iter()
        .filter(|c| {
            c.email.as_ref().is_some_and(|e| e.as_str() == value)
                || c.phone_number.as_ref().is_some_and(|p| p.as_str() == value)
        })
        .map(|c| c.id.get())
        .collect()
}

#[tokio::test]
async fn every_tenant_starts_with_the_defaults_and_changes_only_its_own_list() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let shop = store.identity.tenant("shop-a").unwrap();
        assert_eq!(
            shop.blocked_values().await.unwrap(),
            BlockedValue::defaults()
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
            "{backend}"
        );
        let entry = BlockedValue::email("VIP@shop.io").unwrap();
        assert!(shop.block(&entry).await.unwrap(), "{backend}");
        assert!(!shop.block(&entry).await.unwrap(), "{backend}: twice");
        assert!(shop.blocked_values().await.unwrap().contains(&entry));
        assert!(
            !store
                .identity
                .blocked_values()
                .await
                .unwrap()
                .contains(&entry),
            "{backend}: another tenant's list changed"
        );
        let err = shop.identify(Some("vip@shop.io"), None).await.unwrap_err();
        assert!(
            matches!(&err, Error::BlockedValue { fields } if fields == &[Field::Email]),
            "{backend}: {err:?}"
        );
        assert_eq!(err.to_string(), "blocked value: the email is blocked");
        // the default tenant still links it
        let c = store
            .identity
            .identify(Some("vip@shop.io"), None)
            .await
            .unwrap();
        assert!(c.ignored.is_empty() && c.emails.len() == 1, "{backend}");

        // removing a default lets its values through, in that tenant only
        let zeros = BlockedValue::defaults()
            .into_iter()
            .find(|e| e.pattern_text().is_some_and(|p| p.contains("0{6,}")))
            .unwrap();
        assert!(shop.unblock(&zeros).await.unwrap(), "{backend}");
        assert!(!shop.unblock(&zeros).await.unwrap(), "{backend}: twice");
        let c = shop.identify(None, Some("000 000 0000")).await.unwrap();
        assert_eq!(c.phone_numbers[0].as_str(), "0000000000", "{backend}");
        let err = store.identity.identify(None, Some("0000000000")).await;
        assert!(matches!(err, Err(Error::BlockedValue { .. })), "{backend}");
        // lookups leave blocked values out the same way
        let found = shop
            .lookup(Some("vip@shop.io"), Some("0000000000"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.ignored.len(), 1, "{backend}");
        assert!(matches!(
            shop.lookup(Some("vip@shop.io"), None).await,
            Err(Error::BlockedValue { .. })
        ));
        common::assert_verified(&shop).await;
    }
}

#[tokio::test]
async fn a_blocked_value_stored_before_stays_but_is_never_matched_again() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = &store.identity;
        let first = id
            .identify(Some("shared@x.io"), Some("5550101"))
            .await
            .unwrap();
        id.block(&BlockedValue::email("shared@x.io").unwrap())
            .await
            .unwrap();
        let other = id
            .identify(Some("shared@x.io"), Some("5550202"))
            .await
            .unwrap();
        assert_ne!(
            other.primary_contact_id, first.primary_contact_id,
            "{backend}"
        );
        assert!(other.emails.is_empty(), "{backend}: {other:?}");
        let again = id
            .identify(Some("shared@x.io"), Some("5550101"))
            .await
            .unwrap();
        assert_eq!(again.primary_contact_id, first.primary_contact_id);
        assert_eq!(
            again.emails[0].as_str(),
            "shared@x.io",
            "{backend}: rows keep it"
        );
        assert_eq!(id.all_contacts().await.unwrap().len(), 2, "{backend}");
        common::assert_verified(id).await;
    }
}

#[tokio::test]
async fn a_tenant_with_a_region_blocks_every_spelling_of_a_number() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let shop = store.identity.tenant("shop-in").unwrap();
        shop.set_phone_region(Some("IN")).await.unwrap();
        shop.block(&BlockedValue::phone("098765 43210").unwrap())
            .await
            .unwrap();
        let listed = shop.blocked_values().await.unwrap();
        assert!(
            listed.iter().any(|e| e.value() == Some("+919876543210")),
            "{backend}: {listed:?}"
        );
        for spelling in ["9876543210", "+91 98765 43210", "0 98765 43210"] {
            let err = shop.identify(None, Some(spelling)).await.unwrap_err();
            assert!(
                matches!(err, Error::BlockedValue { .. }),
                "{backend} {spelling}"
            );
        }
        // a blocked placeholder is left out before the region could refuse it
        let c = shop
            .identify(Some("a@x.io"), Some("0000000000"))
            .await
            .unwrap();
        assert_eq!(c.ignored.len(), 1, "{backend}");
        assert!(
            shop.unblock(&BlockedValue::phone("+919876543210").unwrap())
                .await
                .unwrap()
        );
        assert!(shop.identify(None, Some("9876543210")).await.is_ok());
    }
}

/// One worker's requests: pairs from small pools, so workers collide and merge.
fn requests(seed: u64, count: u64) -> Vec<IdentifyRequest> {
    let mut w = common::Workload::new(seed, 10);
    (0..count).map(|_| w.next_request(0)).collect()
}

/// The values blocked during the storm: four emails, then four phones of the pools.
fn storm_blocks() -> Vec<(String, BlockedValue)> {
    let emails = (0..4).map(|k| format!("c{k}.n0@shop.test"));
    let phones = (4..8).map(|k| format!("0555{k:03}"));
    emails
        .map(|e| (e.clone(), BlockedValue::email(&e).unwrap()))
        .chain(phones.map(|p| (p.clone(), BlockedValue::phone(&p).unwrap())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blocks_during_a_storm_are_never_crossed() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        // a second store on the same data has its own settings hints, like another process
        let second = store.second_handle().await;
        let screened = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8u64 {
            let id = store.handle_for(&second, worker);
            let screened = screened.clone();
            tasks.spawn(async move {
                for request in requests(worker + 1, 150) {
                    match id.identify_request(&request).await {
                        Ok(answer) => {
                            let kept = IdentifyRequest::new(
                                request
                                    .email()
                                    .filter(|_| {
                                        !answer.ignored.iter().any(|i| i.field == Field::Email)
                                    })
                                    .cloned(),
                                request
                                    .phone_number()
                                    .filter(|_| {
                                        !answer
                                            .ignored
                                            .iter()
                                            .any(|i| i.field == Field::PhoneNumber)
                                    })
                                    .cloned(),
                            )
                            .unwrap();
                            common::assert_answer_covers(&kept, &answer);
                            screened.lock().unwrap().push(kept);
                        }
                        Err(Error::BlockedValue { .. }) => {}
                        Err(e) => panic!("identify: {e:?}"),
                    }
                }
            });
        }
        // block one value at a time; right after each block returns, the rows carrying the
        // value are frozen
        let mut frozen = Vec::new();
        for (value, entry) in storm_blocks() {
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
            assert!(store.identity.block(&entry).await.unwrap(), "{backend}");
            let rows = store.identity.all_contacts().await.unwrap();
            frozen.push((value.clone(), rows_with(&rows, &value)));
        }
        tasks.join_all().await;

        let rows = store.identity.all_contacts().await.unwrap();
        for (value, before) in &frozen {
            assert_eq!(
                &rows_with(&rows, value),
                before,
                "{backend}: {value} stored after its block"
            );
        }
        common::assert_invariants(&rows);
        common::assert_customers_match(&rows, screened.lock().unwrap().iter());
        if let Some(db) = &store.db {
            common::assert_sql_invariants(&db.pool().await).await;
        }
        common::assert_verified(&store.identity).await;
        // and the second store follows the blocks too
        for (value, _) in &frozen {
            let request = if value.contains('@') {
                second.identify(Some(value), None).await
            } else {
                second.identify(None, Some(value)).await
            };
            assert!(
                matches!(request, Err(Error::BlockedValue { .. })),
                "{backend}: {value}"
            );
        }
        second.close().await;
    }
}
