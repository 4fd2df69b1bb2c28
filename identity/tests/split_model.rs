//! Property test: any sequence of requests and splits (of random rows of the customer a request
//! answered with, blocking what the parts share), run through SQLite in memory: after every
//! split the new customer's history explains exactly the rows moved and the old one's exactly
//! the rows that stay; after every step every customer's history explains exactly its rows,
//! I1-I4 hold (I3: no unblocked value in two customers) and `verify` finds nothing.

use identity_testkit as common;

use std::collections::BTreeSet;

use identity::{ContactId, ContactStore, Error, IdentifyRequest, SqliteStore, TenantId};
use proptest::prelude::*;

/// A step: a request over 4 emails and 4 phones, and maybe a split of the answer's customer
/// moving the secondaries a mask picks (and the primary, with the mask's lowest bit).
fn step() -> impl Strategy<Value = (Option<u8>, Option<u8>, Option<u16>)> {
    (
        proptest::option::of(0..4u8),
        proptest::option::of(0..4u8),
        proptest::option::weighted(0.3, any::<u16>()),
    )
        .prop_filter("one value", |(e, p, _)| e.is_some() || p.is_some())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn splits_are_explained_by_history(steps in proptest::collection::vec(step(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
            store.migrate().await.unwrap();
            let tenant = TenantId::default();
            for (email, phone, split) in &steps {
                let email = email.map(|i| format!("user{i}@shop.test"));
                let phone = phone.map(|i| format!("555{i}"));
                let request = IdentifyRequest::parse(email.as_deref(), phone.as_deref()).unwrap();
                let answer = match store.identify(&tenant, &request).await {
                    Ok(answer) => answer,
                    Err(Error::BlockedValue { .. }) => continue,
                    Err(e) => panic!("{e}"),
                };
                if let Some(mask) = split {
                    let primary = answer.primary_contact_id;
                    let mut asked: Vec<ContactId> = answer
                        .secondary_contact_ids
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask >> (i % 15 + 1) & 1 == 1)
                        .map(|(_, id)| *id)
                        .collect();
                    if mask & 1 == 1 {
                        asked.push(primary);
                    }
                    let before = common::customers_by_link(&store.all_contacts(&tenant).await.unwrap());
                    let all = before[&primary].clone();
                    match store.split(&tenant, primary, &asked, true).await {
                        Ok(split) => {
                            let new = split.new_customer.primary_contact_id;
                            let moved = store.history(&tenant, new).await.unwrap().rows();
                            let stays = store.history(&tenant, primary).await.unwrap().rows();
                            // the rows asked for are one part, whichever side they went
                            let asked: BTreeSet<ContactId> = asked.into_iter().collect();
                            let part = if asked.contains(&primary) { &stays } else { &moved };
                            assert_eq!(part, &asked);
                            assert_eq!(moved.union(&stays).copied().collect::<BTreeSet<_>>(), all);
                            assert!(moved.is_disjoint(&stays));
                        }
                        // nothing to move, or every row
                        Err(Error::InvalidInput { .. }) => {
                            assert!(asked.is_empty() || asked.len() == all.len());
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                let rows = store.all_contacts(&tenant).await.unwrap();
                let blocked = store.blocked_values(&tenant).await.unwrap();
                common::assert_invariants_blocking(&rows, &blocked);
                let report = store.verify(&tenant).await.unwrap();
                assert!(report.is_clean(), "{report}");
                for (primary, members) in common::customers_by_link(&rows) {
                    let history = store.history(&tenant, primary).await.unwrap();
                    assert_eq!(&history.rows(), &members, "customer {primary}");
                }
            }
        });
    }
}
