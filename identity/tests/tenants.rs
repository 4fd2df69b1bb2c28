//! Tenants on every backend: one store, many shops, each isolated. A storm over several tenants
//! that send identical emails and phones keeps every tenant whole (I1-I4, `verify`, the
//! union-find of its own requests) and apart; no call scoped to one tenant reads, links, counts
//! or repairs another's records; a tenant's rebuild holds up only that tenant's writes.

use identity_testkit as common;

use std::time::Duration;

use identity::{ContactId, Error, Field, IdentifyRequest};
use identity_testkit::{TestDb, Workload};

const TENANTS: [&str; 4] = ["default", "shop-a", "shop.b", "Shop_C"];
const IDENTIFIERS: u64 = 6;
const PER_NAMESPACE: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_over_tenants_sharing_every_value_keeps_each_tenant_whole_and_apart() {
    for common::FreshStore { identity, db, .. } in common::every_backend().await {
        let backend = identity.store().backend();
        // every tenant gets the same four request streams: the same values, at the same time
        let streams: Vec<Vec<IdentifyRequest>> = (1..=4)
            .map(|seed| Workload::requests(seed, IDENTIFIERS, 120, PER_NAMESPACE))
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for tenant in TENANTS {
            let scoped = identity.tenant(tenant).unwrap();
            let streams = streams.clone();
            tasks.spawn(async move { common::hammer(&scoped, streams).await });
        }
        let failures: Vec<String> = tasks.join_all().await.into_iter().flatten().collect();
        assert!(failures.is_empty(), "{backend}: {failures:?}");

        let mut model = common::Model::default();
        for request in streams.iter().flatten() {
            model.add(request);
        }
        let expected = model.customers();
        let mut all_ids = std::collections::BTreeSet::new();
        for tenant in TENANTS {
            let scoped = identity.tenant(tenant).unwrap();
            common::assert_verified(&scoped).await;
            let rows = scoped.all_contacts().await.unwrap();
            common::assert_invariants(&rows);
            assert_eq!(
                common::stored_customers(&rows),
                expected,
                "{backend} {tenant}: the customers of its own requests, no more, no fewer"
            );
            for row in &rows {
                assert!(
                    all_ids.insert(row.id),
                    "{backend}: id {} in two tenants",
                    row.id
                );
            }
            let report = scoped.rebuild().await.unwrap();
            assert_eq!(
                report.rows,
                rows.len() as u64,
                "{backend} {tenant}: rebuild counts its own"
            );
            assert!(report.relinked.is_empty(), "{backend} {tenant}: {report:?}");
        }
        if let Some(db) = db {
            common::assert_sql_invariants(&db.pool().await).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_of_one_tenant_reads_links_or_counts_another_tenants_records() {
    for common::FreshStore { identity, .. } in common::every_backend().await {
        let backend = identity.store().backend();
        let (a, b) = (
            identity.tenant("shop-a").unwrap(),
            identity.tenant("shop-b").unwrap(),
        );
        let first = a
            .identify(Some("doc@hillvalley.edu"), Some("555"))
            .await
            .unwrap();
        let second = a
            .identify(Some("marty@hillvalley.edu"), Some("555"))
            .await
            .unwrap();
        assert_eq!(second.secondary_contact_ids.len(), 1, "{backend}");

        // B sees nothing of A: not by email, not by phone, not in its rows, counts or repairs
        assert!(
            b.lookup(Some("doc@hillvalley.edu"), None)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert!(
            b.lookup(None, Some("555")).await.unwrap().is_none(),
            "{backend}"
        );
        assert!(b.all_contacts().await.unwrap().is_empty(), "{backend}");
        let report = b.verify().await.unwrap();
        assert!(
            report.is_clean() && report.rows == 0 && report.customers == 0,
            "{backend}: {report}"
        );
        let rebuilt = b.rebuild().await.unwrap();
        assert_eq!((rebuilt.rows, rebuilt.customers), (0, 0), "{backend}");

        // the same values in B start B's own customer, which links nothing of A's
        let in_b = b
            .identify(Some("doc@hillvalley.edu"), Some("555"))
            .await
            .unwrap();
        assert_ne!(
            in_b.primary_contact_id, first.primary_contact_id,
            "{backend}"
        );
        assert!(in_b.secondary_contact_ids.is_empty(), "{backend}: {in_b:?}");
        let in_b = b
            .identify(Some("doc@hillvalley.edu"), Some("777"))
            .await
            .unwrap();
        assert_eq!(
            in_b.phone_numbers.len(),
            2,
            "{backend}: B's own values only"
        );
        assert!(
            !in_b
                .secondary_contact_ids
                .iter()
                .any(|id| second.secondary_contact_ids.contains(id))
        );

        // and A is as it was
        let again = a
            .lookup(Some("doc@hillvalley.edu"), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, second, "{backend}");
        assert_eq!(a.all_contacts().await.unwrap().len(), 2, "{backend}");
        assert!(
            a.all_contacts()
                .await
                .unwrap()
                .iter()
                .all(|c| !in_b.secondary_contact_ids.contains(&c.id)
                    && c.id != in_b.primary_contact_id),
            "{backend}"
        );
        // the default tenant is a tenant like the others
        assert!(
            identity.lookup(None, Some("555")).await.unwrap().is_none(),
            "{backend}"
        );
        common::assert_verified(&a).await;
        common::assert_verified(&b).await;
    }
}

#[tokio::test]
async fn a_tenant_id_outside_the_rules_is_an_error_naming_tenant() {
    let identity = identity::connect("memory:").await.unwrap();
    for bad in ["", "shop 42", "shop/42", "café", &"x".repeat(65), "a\u{0}b"] {
        let err = identity.tenant(bad).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: Field::Tenant,
                    ..
                }
            ),
            "{bad:?}: {err}"
        );
    }
    let longest = "x".repeat(64);
    for good in ["a", "shop-42", "Shop.EU_1", longest.as_str()] {
        assert_eq!(identity.tenant(good).unwrap().tenant_id().as_str(), good);
    }
    assert_eq!(identity.tenant_id().as_str(), "default");
}

/// Rows changed by hand in one tenant are repaired in that tenant alone; the other tenant's
/// records are neither read nor touched. On a SQLite file and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_edits_in_one_tenant_are_repaired_there_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("hand.db").display());
    let db = TestDb::create().await;
    for url in [sqlite_url.as_str(), db.url()] {
        let identity = identity::connect(url).await.unwrap();
        let backend = identity.store().backend();
        let run = async |sql: &str| {
            let sql = sqlx::AssertSqlSafe(sql.to_owned());
            if backend == "sqlite" {
                let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                sqlx::raw_sql(sql).execute(&pool).await.map(drop).unwrap();
            } else {
                sqlx::raw_sql(sql)
                    .execute(&db.pool().await)
                    .await
                    .map(drop)
                    .unwrap();
            }
        };
        let (a, b) = (
            identity.tenant("shop-a").unwrap(),
            identity.tenant("shop-b").unwrap(),
        );
        a.identify(Some("x@x.io"), Some("1")).await.unwrap();
        b.identify(Some("x@x.io"), Some("1")).await.unwrap();
        run("INSERT INTO contact (tenant_id, email, phone_number, link_precedence, created_at, updated_at)
             VALUES ('shop-a', 'y@x.io', '1', 'primary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')")
        .await;
        assert!(
            !a.verify().await.unwrap().is_clean(),
            "{backend}: A's change waits"
        );
        common::assert_verified(&b).await;
        let answer = a.lookup(None, Some("1")).await.unwrap().unwrap();
        assert_eq!(
            answer.emails.len(),
            2,
            "{backend}: the next answer shows it: {answer:?}"
        );
        a.identify(Some("x@x.io"), None).await.unwrap(); // applies it
        common::assert_verified(&a).await;
        let in_b = b.lookup(None, Some("1")).await.unwrap().unwrap();
        assert_eq!(
            in_b.emails.len(),
            1,
            "{backend}: B never saw A's row: {in_b:?}"
        );

        // a row moved to another tenant by hand leaves one and joins the other; Citus refuses
        // to change a row's distribution column, so there it moves as a delete and an insert
        if backend == "postgres" && common::citus_workers().is_some() {
            run("BEGIN;
                 DELETE FROM contact WHERE tenant_id = 'shop-a' AND email = 'y@x.io';
                 INSERT INTO contact (tenant_id, email, phone_number, link_precedence, created_at, updated_at)
                 VALUES ('shop-b', 'y@x.io', '1', 'primary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z');
                 COMMIT;")
            .await;
        } else {
            run(
                "UPDATE contact SET tenant_id = 'shop-b', linked_id = NULL, link_precedence = 'primary'
                 WHERE email = 'y@x.io'",
            )
            .await;
        }
        let in_a = a.identify(None, Some("1")).await.unwrap();
        assert_eq!(in_a.emails.len(), 1, "{backend}: {in_a:?}");
        let in_b = b.identify(None, Some("1")).await.unwrap();
        assert_eq!(in_b.emails.len(), 2, "{backend}: {in_b:?}");
        common::assert_verified(&a).await;
        common::assert_verified(&b).await;
    }
    common::assert_sql_invariants(&db.pool().await).await;
}

/// A tenant's repair and rebuild take that tenant's lock alone: its writes wait, every other
/// tenant's go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_rebuild_lock_holds_up_only_that_tenant() {
    let db = TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    let (a, b) = (
        identity.tenant("shop-a").unwrap(),
        identity.tenant("shop-b").unwrap(),
    );
    let pool = db.pool().await;
    let lock = common::GraphLock::take_for(&pool, "shop-a").await;
    let waiting = tokio::spawn({
        let a = a.clone();
        async move { a.identify(Some("held@x.io"), None).await }
    });
    let in_b = tokio::time::timeout(Duration::from_secs(20), b.identify(Some("free@x.io"), None))
        .await
        .expect("shop-b does not wait for shop-a's lock")
        .unwrap();
    assert_eq!(in_b.emails.len(), 1);
    assert!(!waiting.is_finished(), "shop-a waits for its own lock");
    lock.release().await;
    let in_a = waiting.await.unwrap().unwrap();
    assert_ne!(in_a.primary_contact_id, ContactId::new(0));
    common::assert_verified(&a).await;
    common::assert_verified(&b).await;
}
