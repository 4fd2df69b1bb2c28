//! Phone regions on every backend: a tenant with a region reads every form of a number as one
//! E.164 identifier and refuses numbers that are not valid there; tenants without one keep the
//! plain rules; the region changes only while the tenant has no rows; a region set by one
//! process is followed by every other; and a region set during a storm of identifies leaves
//! each tenant under one rule, whole (I1-I4 in SQL, `verify`, the union-find of its requests).

use identity_testkit as common;

use identity::{Error, Field, IdentifyRequest, Identity, PhoneRegion};

/// Four spellings of each of a few Indian mobile numbers (national with and without the trunk
/// 0, international with separators): one identifier each in region IN.
fn spellings(k: u64) -> [String; 4] {
    let n = 9_876_543_210 + k;
    let s = n.to_string();
    [
        format!("0{s}"),
        format!("+91 {} {}", &s[..5], &s[5..]),
        s.clone(),
        format!("+91-{}-{}", &s[..5], &s[5..]),
    ]
}

fn phones(identity_rows: &[identity::Contact]) -> Vec<String> {
    identity_rows
        .iter()
        .filter_map(|c| c.phone_number.as_ref().map(|p| p.as_str().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_tenant_with_a_region_reads_every_form_of_a_number_as_one() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let shop = store.identity.tenant("shop-in").unwrap();
        let settings = shop.set_phone_region(Some("in")).await.unwrap();
        assert_eq!(
            settings.phone_region.map(|r| r.to_string()),
            Some("IN".into())
        );
        let mut primary = None;
        for (i, phone) in spellings(0).iter().enumerate() {
            let email = format!("p{i}@x.io");
            let c = shop.identify(Some(&email), Some(phone)).await.unwrap();
            assert_eq!(c.phone_numbers.len(), 1, "{backend} {phone}: {c:?}");
            assert_eq!(c.phone_numbers[0].as_str(), "+919876543210", "{backend}");
            assert_eq!(
                *primary.get_or_insert(c.primary_contact_id),
                c.primary_contact_id
            );
            let found = shop.lookup(None, Some(phone)).await.unwrap().unwrap();
            assert_eq!(found.primary_contact_id, c.primary_contact_id, "{backend}");
        }
        let rows = shop.all_contacts().await.unwrap();
        assert_eq!(rows.len(), 4, "{backend}: one row per new email");
        assert!(
            phones(&rows).iter().all(|p| p == "+919876543210"),
            "{backend}"
        );
        common::assert_verified(&shop).await;

        // the default tenant (no region) keeps the plain rules: three identifiers
        let plain = &store.identity;
        for phone in &spellings(0)[..3] {
            plain.identify(None, Some(phone)).await.unwrap();
        }
        let rows = plain.all_contacts().await.unwrap();
        assert_eq!(
            phones(&rows),
            ["09876543210", "+919876543210", "9876543210"],
            "{backend}"
        );
        assert_eq!(plain.settings().await.unwrap().phone_region, None);
        common::assert_verified(plain).await;
    }
}

#[tokio::test]
async fn a_number_not_valid_in_the_region_is_invalid_input_and_writes_nothing() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let shop = store.identity.tenant("shop-us").unwrap();
        shop.set_phone_region(Some("US")).await.unwrap();
        for (phone, reason) in [
            ("555 0123", "is not a valid number in region US"),
            (
                "+1 555 0123",
                "is not a valid number for its country calling code",
            ),
            ("+999 1234", "invalid country code"),
            ("0", "not a number"),
        ] {
            let err = shop
                .identify(Some("a@x.io"), Some(phone))
                .await
                .unwrap_err();
            match err {
                Error::InvalidInput {
                    field: Field::PhoneNumber,
                    reason: got,
                } => assert_eq!(got, reason, "{backend} {phone}"),
                other => panic!("{backend} {phone}: {other:?}"),
            }
            let err = shop.lookup(None, Some(phone)).await.unwrap_err();
            assert!(err.is_invalid_input(), "{backend} {phone}: {err}");
        }
        assert!(shop.all_contacts().await.unwrap().is_empty(), "{backend}");
        let c = shop.identify(None, Some("(201) 555-0123")).await.unwrap();
        assert_eq!(c.phone_numbers[0].as_str(), "+12015550123");
        // an email-only request is untouched by the region
        shop.identify(Some("b@x.io"), None).await.unwrap();
        common::assert_verified(&shop).await;
    }
}

#[tokio::test]
async fn the_region_changes_only_while_the_tenant_has_no_rows() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let shop = store.identity.tenant("shop-gb").unwrap();
        // set, change and clear freely while empty
        shop.set_phone_region(Some("US")).await.unwrap();
        shop.set_phone_region(Some(" gb ")).await.unwrap();
        shop.set_phone_region(None).await.unwrap();
        assert_eq!(shop.settings().await.unwrap().phone_region, None);
        shop.set_phone_region(Some("GB")).await.unwrap();
        shop.identify(None, Some("020 7946 0958")).await.unwrap();

        // the same region again is a no-op; another, or none, is a conflict that changes nothing
        let same = shop.set_phone_region(Some("GB")).await.unwrap();
        assert_eq!(same.phone_region, Some(PhoneRegion::parse("GB").unwrap()));
        for other in [Some("US"), None, Some("")] {
            let err = shop.set_phone_region(other).await.unwrap_err();
            assert!(matches!(err, Error::Conflict { .. }), "{backend}: {err:?}");
            let to = other.filter(|c| !c.is_empty()).unwrap_or("none");
            assert_eq!(
                err.to_string(),
                format!(
                    "conflict: tenant shop-gb already has contacts, stored under phone region \
                     GB; its region cannot change to {to} (set it before the tenant's first \
                     identify)"
                ),
                "{backend}"
            );
        }
        let settings = shop.settings().await.unwrap();
        assert_eq!(settings.phone_region.unwrap().as_str(), "GB", "{backend}");

        // a code that is not a region is invalid input, and changes nothing either
        let err = shop.set_phone_region(Some("XX")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: Field::PhoneRegion,
                    ..
                }
            ),
            "{backend}: {err:?}"
        );
        // another tenant is unaffected, and may still choose
        let other = store.identity.tenant("shop-other").unwrap();
        assert_eq!(other.settings().await.unwrap().phone_region, None);
        other.set_phone_region(Some("IN")).await.unwrap();
        assert_eq!(
            shop.settings()
                .await
                .unwrap()
                .phone_region
                .unwrap()
                .as_str(),
            "GB"
        );
    }
}

#[tokio::test]
async fn every_process_follows_a_region_another_set() {
    for store in common::every_backend().await {
        let Some(url) = store.url.clone() else {
            continue; // `memory:` has no second process
        };
        let backend = store.identity.store().backend();
        let first = store.identity.tenant("shop-in").unwrap();
        let second = identity::connect(&url)
            .await
            .unwrap()
            .tenant("shop-in")
            .unwrap();
        // the first process has seen the tenant without a region
        assert!(
            first
                .lookup(None, Some("9876543210"))
                .await
                .unwrap()
                .is_none()
        );
        second.set_phone_region(Some("IN")).await.unwrap();
        let c = first.identify(None, Some("098765 43210")).await.unwrap();
        assert_eq!(c.phone_numbers[0].as_str(), "+919876543210", "{backend}");
        let seen = second.lookup(None, Some("9876543210")).await.unwrap();
        assert_eq!(
            seen.map(|s| s.primary_contact_id),
            Some(c.primary_contact_id)
        );

        // the other way: the first process believes IN, the second clears it meanwhile
        let first = store.identity.tenant("shop-plain").unwrap();
        let second = second.tenant("shop-plain").unwrap();
        first.set_phone_region(Some("IN")).await.unwrap();
        second.set_phone_region(None).await.unwrap();
        // "12345" is not valid in IN; the first process finds out the region is gone
        let c = first.identify(None, Some("12345")).await.unwrap();
        assert_eq!(c.phone_numbers[0].as_str(), "12345", "{backend}");
        let c = first.identify(None, Some("9876543210")).await.unwrap();
        assert_eq!(c.phone_numbers[0].as_str(), "9876543210", "{backend}");
        common::assert_verified(&first).await;
        second.close().await;
    }
}

/// Identifies `requests` from several tasks while another sets the tenant's region to IN.
async fn storm_with_a_region_change(shop: &Identity, requests: Vec<Vec<IdentifyRequest>>) -> bool {
    let setter = {
        let shop = shop.clone();
        tokio::spawn(async move { shop.set_phone_region(Some("IN")).await })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for stream in requests {
        let shop = shop.clone();
        tasks.spawn(async move {
            for request in stream {
                shop.identify_request(&request).await.unwrap();
            }
        });
    }
    tasks.join_all().await;
    match setter.await.unwrap() {
        Ok(settings) => {
            assert_eq!(settings.phone_region.unwrap().as_str(), "IN");
            true
        }
        Err(Error::Conflict { .. }) => false,
        Err(other) => panic!("setting the region: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_region_set_during_a_storm_leaves_each_tenant_under_one_rule() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let mut outcomes = Vec::new();
        for round in 0..12 {
            let shop = store.identity.tenant(&format!("storm-{round}")).unwrap();
            // 6 tasks, each through every spelling of 4 numbers with 3 emails, in its own order
            let streams: Vec<Vec<IdentifyRequest>> = (0..6u64)
                .map(|task| {
                    (0..24u64)
                        .map(|i| {
                            let j = (i * 7 + task * 5) % 24;
                            let phone = &spellings(j % 4)[(j / 4 % 4) as usize];
                            let email = format!("e{}@x.io", (j + task) % 3 + j % 4 * 3);
                            IdentifyRequest::parse(Some(&email), Some(phone)).unwrap()
                        })
                        .collect()
                })
                .collect();
            let set = storm_with_a_region_change(&shop, streams.clone()).await;
            outcomes.push(set);
            let region = shop.settings().await.unwrap().phone_region;
            assert_eq!(region.is_some(), set, "{backend} round {round}");

            // every row was written under the rule the tenant has now
            let rows = shop.all_contacts().await.unwrap();
            common::assert_invariants(&rows);
            common::assert_verified(&shop).await;
            let mut model = common::Model::default();
            for request in streams.iter().flatten() {
                model.add(&request.in_region(region).unwrap());
            }
            assert_eq!(
                common::stored_customers(&rows),
                model.customers(),
                "{backend} round {round}: the customers of its requests under region {region:?}"
            );
            if set {
                assert!(
                    phones(&rows).iter().all(|p| p.starts_with("+9198765432")),
                    "{backend} round {round}: {:?}",
                    phones(&rows)
                );
            }
        }
        if let Some(db) = &store.db {
            common::assert_sql_invariants(&db.pool().await).await;
        }
        eprintln!("{backend}: region set in {outcomes:?}");
    }
}

#[tokio::test]
async fn postgres_write_functions_refuse_a_plan_read_in_another_region() {
    let db = common::TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    // a customer of the tenant, which has no region
    let one = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
    let one = one.primary_contact_id.get();
    let version: i64 = sqlx::query_scalar(
        "SELECT version FROM identity_customer WHERE tenant_id = 'default' AND primary_id = $1",
    )
    .bind(one)
    .fetch_one(&pool)
    .await
    .unwrap();
    let count = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM contact")
            .fetch_one(&pool)
            .await
            .unwrap();
        n
    };
    // each planned as if the tenant's region were IN (under its current blocked list, version
    // 0), called as the store calls them: refused, nothing written
    let new: i64 =
        sqlx::query_scalar("SELECT identity_new_customer('default', 'IN', 0, 'b@x.io', '+912')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(new, -3);
    for function in ["identity_add_row", "identity_add_row_exact"] {
        let sql = format!(
            "SELECT status FROM {function}('default', 'IN', 0, $2, $1, -1, 'a@x.io', '+913', false, true)"
        );
        let add: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(version)
            .bind(one)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(add, -3, "{function}");
    }
    let merge: i64 = sqlx::query_scalar(
        "SELECT identity_merge('default', 'IN', 0, $2, $1, $2, $1, '{}', '{}', '{}', '{}', '{}', '{}',
                now(), 'a@x.io', '+913')",
    )
    .bind(version)
    .bind(one)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(merge, -3);
    assert_eq!(count().await, 1);
    // planned in the tenant's own region (none): written
    let ok: i64 =
        sqlx::query_scalar("SELECT identity_new_customer('default', NULL, 0, 'b@x.io', '2')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(ok > 0, "{ok}");
    // the region column takes only codes
    let bad =
        sqlx::query("INSERT INTO identity_tenant (tenant_id, phone_region) VALUES ('x', 'india')")
            .execute(&pool)
            .await;
    assert!(bad.is_err());
    common::assert_verified(&identity).await;
    common::assert_sql_invariants(&pool).await;
}

#[tokio::test]
async fn postgres_a_write_planned_before_a_region_change_is_read_again_in_the_new_region() {
    let db = common::TestDb::create().await;
    let (first, second) = (
        identity::connect(db.url()).await.unwrap(),
        identity::connect(db.url()).await.unwrap(),
    );
    let pool = db.pool().await;
    // the first process believes the tenant has no region
    assert!(first.lookup(Some("a@x.io"), None).await.unwrap().is_none());
    let lock = common::GraphLock::take(&pool).await;
    // the region change queues for the tenant's lock first ...
    let setter = tokio::spawn(async move { second.set_phone_region(Some("IN")).await });
    common::wait_until(
        "the region change to wait",
        std::time::Duration::from_secs(20),
        async || common::writers_waiting(&pool).await == 1,
    )
    .await;
    // ... then the identify, planned under no region, queues behind it
    let writer = first.clone();
    let identify =
        tokio::spawn(async move { writer.identify(Some("a@x.io"), Some("09876543210")).await });
    common::wait_until(
        "the identify to wait",
        std::time::Duration::from_secs(20),
        async || common::writers_waiting(&pool).await == 2,
    )
    .await;
    lock.release().await;
    setter.await.unwrap().unwrap();
    let answer = identify.await.unwrap().unwrap();
    assert_eq!(answer.phone_numbers[0].as_str(), "+919876543210");
    let stored: Vec<String> = sqlx::query_scalar("SELECT phone_number FROM contact")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored, ["+919876543210"]);
    common::assert_verified(&first).await;
    common::assert_sql_invariants(&pool).await;
}

#[tokio::test]
async fn verify_reports_a_hand_written_phone_outside_the_tenants_region() {
    for store in common::every_backend().await {
        let Some(url) = store.url.clone() else {
            continue; // no SQL to write by hand
        };
        let backend = store.identity.store().backend();
        let shop = store.identity.tenant("shop-in").unwrap();
        shop.set_phone_region(Some("IN")).await.unwrap();
        shop.identify(Some("a@x.io"), Some("098765 43210"))
            .await
            .unwrap();
        common::assert_verified(&shop).await;
        // a row written by another program, bypassing the library's parsing
        let insert = "INSERT INTO contact (tenant_id, email, phone_number, link_precedence, \
                      created_at, updated_at) VALUES ('shop-in', 'b@x.io', '09876500000', \
                      'primary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')";
        if backend == "postgres" {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(insert).execute(&pool).await.unwrap();
        } else {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query(insert).execute(&pool).await.unwrap();
        }
        shop.rebuild().await.unwrap(); // the graph takes the row in; the phone is still wrong
        let report = shop.verify().await.unwrap();
        let codes: Vec<&str> = report.problems.iter().map(|p| p.code()).collect();
        assert_eq!(codes, ["phone_not_in_region"], "{backend}: {report}");
        assert!(
            report.problems[0]
                .to_string()
                .ends_with("has phone \"09876500000\", not the E.164 form of a valid number in the tenant's region IN"),
            "{backend}: {report}"
        );
        // the default tenant (no region) takes any phone
        common::assert_verified(&store.identity).await;
    }
}
