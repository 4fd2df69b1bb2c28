//! Import equals replay: historical checkouts imported in one batch give the rows (ids in time
//! order), customers and primaries that replaying them through `identify` one by one gives, on
//! random streams (property test), on the vectors and on every backend; refusals change nothing;
//! identifies running during an import either wait for it or make it refuse, and the store
//! verifies clean afterwards.

use identity_testkit as common;

use std::collections::BTreeMap;

use common::replay::{RowShape, checkouts_of, replay, row_shapes};
use identity::import::{Checkout, ImportOptions, OnError};
use identity::{Error, Field, IdentifyRequest, Identity, IgnoredReason};
use proptest::prelude::*;

/// Shapes with ids replaced by their rank (stores may start their sequence elsewhere).
fn ranked(shapes: Vec<RowShape>) -> Vec<RowShape> {
    let rank: BTreeMap<i64, i64> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0, i as i64 + 1))
        .collect();
    shapes
        .into_iter()
        .map(|(id, e, p, linked)| (rank[&id], e, p, linked.map(|l| rank[&l])))
        .collect()
}

/// Imports `checkouts` into `into` and replays them into a fresh `memory:` store; panics unless
/// the rows agree (by rank) and the report counts what the rows show.
async fn assert_import_equals_replay(into: &Identity, checkouts: Vec<Checkout>) {
    let replayed = identity::connect("memory:").await.unwrap();
    let refused = replay(&replayed, &checkouts).await;
    let report = into
        .import(checkouts.clone(), ImportOptions::default())
        .await
        .unwrap();
    let rows = into.all_contacts().await.unwrap();
    let expected = replayed.all_contacts().await.unwrap();
    let backend = into.store().backend();
    assert_eq!(
        ranked(row_shapes(&rows)),
        ranked(row_shapes(&expected)),
        "{backend}: import and replay disagree"
    );
    let customers = common::customers_by_link(&rows);
    assert_eq!(report.rows, rows.len() as u64, "{backend}");
    assert_eq!(report.customers, customers.len() as u64, "{backend}");
    assert_eq!(
        report.largest_customer,
        customers
            .values()
            .map(|m| m.len() as u64)
            .max()
            .unwrap_or(0)
    );
    assert_eq!(report.ignored_checkouts, refused, "{backend}");
    assert_eq!(report.checkouts, checkouts.len() as u64);
    assert!(report.written || rows.is_empty());
    // the ids follow time order: the oldest row of a customer has its smallest id
    let mut by_time = rows.clone();
    by_time.sort_by_key(|c| (c.created_at, c.id));
    assert!(by_time.windows(2).all(|w| w[0].id < w[1].id), "{backend}");
    common::assert_verified(into).await;
    // a returning customer is answered as the replayed store answers it
    for c in checkouts.iter().take(20) {
        let imported = into.lookup_request(&c.request).await;
        let online = replayed.lookup_request(&c.request).await;
        match (imported, online) {
            (Ok(a), Ok(b)) => assert_eq!(
                a.map(|a| (a.emails, a.phone_numbers, a.secondary_contact_ids.len())),
                b.map(|b| (b.emails, b.phone_numbers, b.secondary_contact_ids.len()))
            ),
            (Err(Error::BlockedValue { .. }), Err(Error::BlockedValue { .. })) => {}
            (a, b) => panic!("{backend}: lookups differ: {a:?} / {b:?}"),
        }
    }
}

/// A raw checkout over 4 emails and 4 phones (one of them a blocked placeholder), with the
/// noise normalization removes.
fn raw_checkout() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    let email = (0..4u8, any::<bool>()).prop_map(|(i, upper)| {
        let e = format!("user{i}@shop.test");
        if upper { e.to_uppercase() } else { e }
    });
    let phone = (0..4u8, any::<bool>()).prop_map(|(i, fmt)| match (i, fmt) {
        (3, _) => "0000000".to_owned(),
        (i, true) => format!("(55) 5-{i}"),
        (i, false) => format!("555{i}"),
    });
    (proptest::option::of(email), proptest::option::of(phone))
        .prop_filter("one value", |(e, p)| e.is_some() || p.is_some())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_checkout_stream_imports_as_its_replay(
        raw in proptest::collection::vec(raw_checkout(), 0..40),
        tie in 0..4usize,
    ) {
        let requests: Vec<IdentifyRequest> = raw
            .iter()
            .map(|(e, p)| IdentifyRequest::parse(e.as_deref(), p.as_deref()).unwrap())
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let into = identity::connect("memory:").await.unwrap();
            assert_import_equals_replay(&into, checkouts_of(&requests, tie)).await;
        });
    }
}

#[tokio::test]
async fn a_workload_imports_as_its_replay_on_every_backend() {
    let requests = common::Workload::requests(7, 40, 600, 150);
    for store in common::every_backend().await {
        assert_import_equals_replay(&store.identity, checkouts_of(&requests, 3)).await;
        common::assert_sound_after_storm(&store).await;
        // the store goes on online: a new checkout joins an imported customer
        let known = &requests[0];
        let c = store
            .identity
            .identify(
                Some("new@shop.test"),
                known.phone_number().map(|p| p.as_str()),
            )
            .await
            .unwrap();
        assert!(c.emails.iter().any(|e| e.as_str() == "new@shop.test"));
        common::assert_verified(&store.identity).await;
    }
}

#[tokio::test]
async fn every_vector_of_plain_requests_imports_as_its_replay() {
    let mut replayed_files = 0;
    for file in common::vector_files() {
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let steps = case["steps"].as_array().unwrap();
        // files with settings, tenants or admin steps are replays of more than checkouts
        if steps
            .iter()
            .any(|s| s.get("request").is_none() || s.get("tenant").is_some())
        {
            continue;
        }
        let requests: Vec<IdentifyRequest> = steps
            .iter()
            .filter(|s| s.get("error").is_none())
            .map(|s| IdentifyRequest::from_json(s["request"].to_string().as_bytes()).unwrap())
            .collect();
        for store in common::every_backend().await {
            assert_import_equals_replay(&store.identity, checkouts_of(&requests, 0)).await;
        }
        replayed_files += 1;
    }
    assert!(replayed_files >= 8, "only {replayed_files} vector files");
}

#[tokio::test]
async fn a_tenant_with_rows_is_refused_and_nothing_changes() {
    let requests = common::Workload::requests(3, 10, 30, 30);
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        store
            .identity
            .identify(Some("old@x.io"), None)
            .await
            .unwrap();
        let before = store.identity.all_contacts().await.unwrap();
        let err = store
            .identity
            .import(checkouts_of(&requests, 0), ImportOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Conflict { reason } if reason.contains("tenant default already has 1 contact row")),
            "{backend}: {err}"
        );
        assert_eq!(store.identity.all_contacts().await.unwrap(), before);
        // another tenant of the same store is empty: it imports
        let shop = store.identity.tenant("shop").unwrap();
        let report = shop
            .import(checkouts_of(&requests, 0), ImportOptions::default())
            .await
            .unwrap();
        assert!(report.written && report.rows > 0, "{backend}");
        assert_eq!(store.identity.all_contacts().await.unwrap(), before);
        common::assert_verified(&shop).await;
        common::assert_verified(&store.identity).await;
    }
}

#[tokio::test]
async fn dry_runs_and_refused_checkouts_write_nothing() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let india = store.identity.tenant("shop-in").unwrap();
        india.set_phone_region(Some("IN")).await.unwrap();
        let checkouts = vec![
            Checkout::new(
                IdentifyRequest::parse(Some("a@x.io"), Some("098765 43210")).unwrap(),
                time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(1),
                1,
            ),
            Checkout::new(
                IdentifyRequest::parse(Some("b@x.io"), Some("+91 98765 43210")).unwrap(),
                time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(2),
                2,
            ),
            Checkout::new(
                IdentifyRequest::parse(Some("c@x.io"), Some("12")).unwrap(),
                time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(3),
                3,
            ),
        ];
        let err = india
            .import(checkouts.clone(), ImportOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field: Field::Checkouts, reason } if reason.contains("record 3: invalid phone number")),
            "{backend}: {err}"
        );
        assert!(india.all_contacts().await.unwrap().is_empty(), "{backend}");

        let skip = ImportOptions::default().on_error(OnError::Skip);
        let dry = india
            .import(checkouts.clone(), skip.dry_run(true))
            .await
            .unwrap();
        assert!(!dry.written && dry.ids.is_none(), "{backend}");
        assert!(india.all_contacts().await.unwrap().is_empty(), "{backend}");

        let report = india.import(checkouts, skip).await.unwrap();
        assert_eq!((report.rows, report.customers, report.rejected), (2, 1, 1));
        assert_eq!(report.first_rejected[0].origin, 3);
        assert_eq!(
            (dry.rows, dry.customers, dry.rejected),
            (report.rows, report.customers, report.rejected),
            "{backend}: a dry run reports what the import does"
        );
        // the region's other spelling matched: one customer, one phone in E.164
        let c = india.lookup(Some("b@x.io"), None).await.unwrap().unwrap();
        assert_eq!(c.phone_numbers[0].as_str(), "+919876543210");
        assert_eq!(c.emails.len(), 2);
        common::assert_verified(&india).await;
    }
}

#[tokio::test]
async fn blocked_values_are_left_out_as_online_and_reported() {
    for store in common::every_backend().await {
        let blocked = identity::BlockedValue::email("front-desk@shop.io").unwrap();
        store.identity.block(&blocked).await.unwrap();
        let requests = [
            IdentifyRequest::parse(Some("front-desk@shop.io"), Some("1")).unwrap(),
            IdentifyRequest::parse(Some("front-desk@shop.io"), Some("2")).unwrap(),
            IdentifyRequest::parse(Some("front-desk@shop.io"), None).unwrap(),
        ];
        let checkouts = checkouts_of(&requests, 0);
        let report = store
            .identity
            .import(checkouts.clone(), ImportOptions::default())
            .await
            .unwrap();
        assert_eq!(
            (report.rows, report.customers),
            (2, 2),
            "a blocked value joins nothing"
        );
        assert_eq!(report.ignored_for(IgnoredReason::Blocked), 3);
        assert_eq!(report.ignored_checkouts, 1);
        let rows = store.identity.all_contacts().await.unwrap();
        assert!(rows.iter().all(|c| c.email.is_none()));
        common::assert_sound_after_storm(&store).await;
    }
}

#[tokio::test]
async fn identifies_during_an_import_wait_for_it_or_make_it_refuse() {
    let requests = common::Workload::requests(11, 60, 3_000, 3_000);
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let second = store.second_handle().await;
        let shop = store.identity.tenant("shop").unwrap();
        let importing = {
            let shop = shop.clone();
            let checkouts = checkouts_of(&requests, 5);
            tokio::spawn(async move { shop.import(checkouts, ImportOptions::default()).await })
        };
        let mut workers = Vec::new();
        for worker in 0..8u64 {
            let handle = store.handle_for(&second, worker);
            let requests = requests.clone();
            workers.push(tokio::spawn(async move {
                let tenant = if worker % 2 == 0 { "shop" } else { "other" };
                let handle = handle.tenant(tenant).unwrap();
                for r in requests.iter().skip(worker as usize * 7).take(40) {
                    handle.identify_request(r).await.unwrap();
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        match importing.await.unwrap() {
            Ok(report) => {
                let (first, last) = report.ids.unwrap();
                let rows = shop.all_contacts().await.unwrap();
                let imported = rows
                    .iter()
                    .filter(|c| c.id >= first && c.id <= last)
                    .count();
                assert_eq!(imported as u64, report.rows, "{backend}");
            }
            Err(Error::Conflict { .. }) => {}
            Err(e) => panic!("{backend}: {e}"),
        }
        for tenant in ["shop", "other"] {
            common::assert_verified(&store.identity.tenant(tenant).unwrap()).await;
        }
        if let Some(db) = &store.db {
            common::assert_sql_invariants(&db.pool().await).await;
        }
    }
}

#[tokio::test]
async fn checkout_times_are_stored_in_utc_and_ordered_as_instants() {
    let at = |text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    };
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let checkouts = vec![
            // later as written, earlier as an instant: it is the older row, the primary
            Checkout::new(
                IdentifyRequest::parse(Some("b@x.io"), Some("1")).unwrap(),
                at("2023-04-01T06:00:00Z"),
                1,
            ),
            Checkout::new(
                IdentifyRequest::parse(Some("a@x.io"), Some("1")).unwrap(),
                at("2023-04-01T10:00:00+05:00"),
                2,
            ),
        ];
        store
            .identity
            .import(checkouts, ImportOptions::default())
            .await
            .unwrap();
        let rows = store.identity.all_contacts().await.unwrap();
        assert!(
            rows.iter().all(|c| c.created_at.offset().is_utc()),
            "{backend}: {rows:?}"
        );
        assert_eq!(
            rows[0].email.as_ref().unwrap().as_str(),
            "a@x.io",
            "{backend}"
        );
        assert!(rows[0].is_primary() && !rows[1].is_primary(), "{backend}");
        common::assert_verified(&store.identity).await;
    }
}

#[tokio::test]
async fn values_with_quotes_and_backslashes_load_and_answer_as_written() {
    // COPY's CSV and array literals both quote: a value must come back byte for byte
    let odd = ["\"quoted\"@x.io", "back\\slash@x.io", "comma,{brace}@x.io"];
    let at = |s: i64| time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + s).unwrap();
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let checkouts = odd
            .iter()
            .enumerate()
            .map(|(i, email)| {
                let request = IdentifyRequest::parse(Some(email), Some("5550100")).unwrap();
                Checkout::new(request, at(i as i64), i as u64)
            })
            .collect();
        let report = store
            .identity
            .import(checkouts, ImportOptions::default())
            .await
            .unwrap();
        assert_eq!((report.rows, report.customers), (3, 1), "{backend}");
        let customers = store.identity.customers().await.unwrap();
        let emails: Vec<&str> = customers[0].emails.iter().map(|e| e.as_str()).collect();
        assert_eq!(emails, odd, "{backend}");
        let found = store
            .identity
            .lookup(Some("back\\slash@x.io"), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, customers[0], "{backend}");
        common::assert_verified(&store.identity).await;
    }
}
