//! Per-customer caps on every backend: a new value past a cap is left out, a merge past one is
//! withheld (the email's customer answers), both with reason `limit`, `lookup` agrees, the caps
//! are tenant settings seen by every handle; and a storm from two stores, changing the caps
//! midway, leaves no customer past the highest cap, with I1-I4 in SQL and a clean `verify`.

use identity_testkit as common;

use identity::{Error, Field, Ignored, IgnoredReason, Limits};

fn limited(field: Field) -> Vec<Ignored> {
    vec![Ignored {
        field,
        reason: IgnoredReason::Limit,
    }]
}

#[tokio::test]
async fn caps_leave_new_values_out_and_withhold_merges() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-l").unwrap();
        let second = store.second_handle().await.tenant("shop-l").unwrap();
        assert_eq!(id.settings().await.unwrap().limits, Limits::none());
        // the second handle reads the settings before the caps change
        second.identify(Some("warmup@x.io"), None).await.unwrap();
        let caps = Limits::new(Some(2), Some(1)).unwrap();
        assert_eq!(id.set_limits(caps).await.unwrap().limits, caps, "{backend}");
        assert_eq!(second.settings().await.unwrap().limits, caps, "{backend}");

        let doc = id.identify(Some("a@x.io"), Some("1")).await.unwrap();
        let rows = id.all_contacts().await.unwrap().len();
        for handle in [&id, &second] {
            // a second phone would pass the cap of 1: left out, nothing written
            let c = handle.identify(Some("a@x.io"), Some("2")).await.unwrap();
            assert_eq!(c.primary_contact_id, doc.primary_contact_id, "{backend}");
            assert_eq!(c.ignored, limited(Field::PhoneNumber), "{backend}");
            let c = handle
                .lookup(Some("a@x.io"), Some("2"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(c.ignored, limited(Field::PhoneNumber), "{backend}: lookup");
        }
        assert_eq!(id.all_contacts().await.unwrap().len(), rows, "{backend}");
        // a second email fits, a third does not
        let c = id.identify(Some("b@x.io"), Some("1")).await.unwrap();
        assert!(
            c.ignored.is_empty() && c.emails.len() == 2,
            "{backend}: {c:?}"
        );
        let c = second.identify(Some("c@x.io"), Some("1")).await.unwrap();
        assert_eq!(c.ignored, limited(Field::Email), "{backend}");
        assert_eq!(c.emails.len(), 2, "{backend}");
        // a merge past a cap: the email's customer answers, the phone is left out
        let biff = id.identify(Some("z@x.io"), Some("9")).await.unwrap();
        for handle in [&id, &second] {
            let c = handle.identify(Some("z@x.io"), Some("1")).await.unwrap();
            assert_eq!(c.primary_contact_id, biff.primary_contact_id, "{backend}");
            assert_eq!(c.ignored, limited(Field::PhoneNumber), "{backend}");
            let c = handle.identify(Some("a@x.io"), Some("9")).await.unwrap();
            assert_eq!(c.primary_contact_id, doc.primary_contact_id, "{backend}");
            let c = handle
                .lookup(Some("z@x.io"), Some("1"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(c.primary_contact_id, biff.primary_contact_id, "{backend}");
        }
        // other tenants have no caps
        let other = store.identity.tenant("shop-m").unwrap();
        other.identify(Some("a@x.io"), Some("1")).await.unwrap();
        assert!(
            other
                .identify(Some("a@x.io"), Some("2"))
                .await
                .unwrap()
                .ignored
                .is_empty()
        );
        // lifting the caps links again
        id.set_limits(Limits::none()).await.unwrap();
        let c = second.identify(Some("z@x.io"), Some("1")).await.unwrap();
        assert!(c.ignored.is_empty(), "{backend}: {c:?}");
        assert_eq!(
            c.primary_contact_id, doc.primary_contact_id,
            "{backend}: merged now"
        );
        common::assert_invariants(&id.all_contacts().await.unwrap());
        common::assert_verified(&id).await;
        second.close().await;
    }
}

#[tokio::test]
async fn bad_caps_are_refused() {
    for (emails, phones) in [(Some(0), None), (None, Some(-3)), (Some(2_000_000), None)] {
        let err = Limits::new(emails, phones).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: Field::Limits,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_storm_under_changing_caps_leaves_no_customer_past_them() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let second = store.second_handle().await;
        let high = Limits::new(Some(3), Some(3)).unwrap();
        store.identity.set_limits(high).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..6u64 {
            let id = store.handle_for(&second, worker);
            tasks.spawn(async move {
                let backend = id.store().backend();
                let mut limited = 0;
                for (n, request) in common::Workload::requests(worker + 1, 12, 80, 40)
                    .into_iter()
                    .enumerate()
                {
                    match id.identify_request(&request).await {
                        Ok(c) => {
                            limited += c.ignored.len();
                            assert!(
                                c.emails.len() <= 3 && c.phone_numbers.len() <= 3,
                                "{backend}: {request:?} answered {c:?}"
                            );
                        }
                        Err(Error::BlockedValue { .. }) => {}
                        Err(e) => panic!("identify: {e}"),
                    }
                    if worker == 5 && n % 20 == 10 {
                        // lower the caps for a while, then raise them again
                        let caps = if n % 40 == 10 {
                            Limits::new(Some(2), Some(2))
                        } else {
                            Ok(high)
                        };
                        id.set_limits(caps.unwrap()).await.unwrap();
                    }
                }
                limited
            });
        }
        let limited: usize = tasks.join_all().await.into_iter().sum();
        assert!(limited > 0, "{backend}: no request met a cap");
        let rows = store.identity.all_contacts().await.unwrap();
        for members in common::customers_by_link(&rows).values() {
            let of = |f: &dyn Fn(&identity::Contact) -> Option<String>| {
                rows.iter()
                    .filter(|c| members.contains(&c.id))
                    .filter_map(f)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            };
            let emails = of(&|c| c.email.as_ref().map(|e| e.as_str().to_owned()));
            let phones = of(&|c| c.phone_number.as_ref().map(|p| p.as_str().to_owned()));
            assert!(
                emails <= 3 && phones <= 3,
                "{backend}: {members:?} has {emails} emails, {phones} phones"
            );
        }
        common::assert_sound_after_storm(&store).await;
        second.close().await;
    }
}
