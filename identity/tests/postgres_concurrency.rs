//! Correctness under concurrency on PostgreSQL: many connections and a second OS process send
//! overlapping identifies; afterwards the invariants are checked in SQL and the customers are
//! compared with a union-find over every request sent. Plus faults: connections killed mid-write.

use identity_testkit as common;

use std::sync::Arc;
use std::time::Duration;

use identity::{ConnectOptions, IdentifyRequest, Identity};
use identity_testkit::{TestDb, Workload};

/// Set (to a database URL) in the child process this file spawns.
const CHILD_URL: &str = "IDENTITY_TEST_CHILD_URL";
const CHILD_SEED: u64 = 1_000;
const TASKS: u64 = 16;
const PER_TASK: u64 = 250;
const CHILD_REQUESTS: u64 = 1_000;
const IDENTIFIERS: u64 = 6;
const PER_NAMESPACE: u64 = 10;

async fn connect(url: &str, connections: u32) -> Identity {
    let options = ConnectOptions::default()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(60));
    Identity::connect_with(url, &options).await.unwrap()
}

/// The second OS process: when spawned by the parent it hammers the parent's database; run on
/// its own it hammers a fresh database and checks the invariants itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hammer_child_process_keeps_invariants() {
    let own_db;
    let url = match std::env::var(CHILD_URL) {
        Ok(url) => url,
        Err(_) => {
            own_db = TestDb::create().await;
            own_db.url().to_owned()
        }
    };
    let identity = connect(&url, 8).await;
    // two workers in this process, each with its own stream
    let requests = Workload::requests(CHILD_SEED, IDENTIFIERS, CHILD_REQUESTS, PER_NAMESPACE);
    let (a, b) = requests.split_at(requests.len() / 2);
    let failures = common::hammer(&identity, vec![a.to_vec(), b.to_vec()]).await;
    assert!(failures.is_empty(), "child failures: {failures:?}");
    let rows = identity.all_contacts().await.unwrap();
    common::assert_invariants(&rows);
    common::assert_verified(&identity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identifies_from_two_processes_keep_invariants() {
    let db = TestDb::create().await;
    let identity = connect(db.url(), 16).await;

    let child = common::spawn_test_process(
        "hammer_child_process_keeps_invariants",
        &[(CHILD_URL, db.url())],
    );

    let per_worker: Vec<Vec<IdentifyRequest>> = (1..=TASKS)
        .map(|seed| Workload::requests(seed, IDENTIFIERS, PER_TASK, PER_NAMESPACE))
        .collect();
    let failures = common::hammer(&identity, per_worker.clone()).await;
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );

    common::assert_test_process_passed(child).await;

    common::assert_sql_invariants(&db.pool().await).await;

    common::assert_verified(&identity).await;
    let rows = identity.all_contacts().await.unwrap();
    common::assert_invariants(&rows);

    // the customers are exactly the connected components of everything sent
    let mut model = common::Model::default();
    let child = Workload::requests(CHILD_SEED, IDENTIFIERS, CHILD_REQUESTS, PER_NAMESPACE);
    for request in per_worker.iter().flatten().chain(&child) {
        model.add(request);
    }
    assert_eq!(common::stored_customers(&rows), model.customers());
    let merged = rows.iter().filter(|c| c.linked_id().is_some()).count();
    assert!(
        merged > rows.len() / 2,
        "the workload must exercise linking: {merged} of {}",
        rows.len()
    );
}

/// I4 and I3 under a thundering herd: 32 identical (or conflicting) requests released at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_requests_with_new_values_insert_exactly_one_row() {
    let db = TestDb::create().await;
    let identity = connect(db.url(), 32).await;
    for round in 0..10 {
        identity
            .identify(Some(&format!("a{round}@x.io")), Some(&format!("1{round}")))
            .await
            .unwrap();
        identity
            .identify(Some(&format!("b{round}@x.io")), Some(&format!("2{round}")))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..32 {
            let (identity, barrier) = (identity.clone(), barrier.clone());
            tasks.spawn(async move {
                // half the tasks send the brand-new pair, half join the new email to customer a or b
                let phone = match task % 4 {
                    0 | 1 => format!("9{round}"),
                    2 => format!("1{round}"),
                    _ => format!("2{round}"),
                };
                barrier.wait().await;
                identity
                    .identify(Some(&format!("new{round}@x.io")), Some(&phone))
                    .await
                    .unwrap()
            });
        }
        let answers: Vec<_> = tasks.join_all().await;
        let rows = identity.all_contacts().await.unwrap();
        let new_rows = rows
            .iter()
            .filter(|c| {
                c.email
                    .as_ref()
                    .is_some_and(|e| e.as_str() == format!("new{round}@x.io"))
            })
            .count();
        let new_phone_rows = rows
            .iter()
            .filter(|c| {
                c.phone_number
                    .as_ref()
                    .is_some_and(|p| p.as_str() == format!("9{round}"))
            })
            .count();
        assert_eq!(
            new_phone_rows, 1,
            "round {round}: the new phone was inserted {new_phone_rows} times"
        );
        assert!(
            (1..=2).contains(&new_rows),
            "round {round}: new email rows {new_rows}"
        );
        // everything ended in one customer, and the last answers saw all of it
        let primary = answers.iter().map(|a| a.primary_contact_id).min().unwrap();
        assert!(
            rows.iter()
                .filter(|c| c
                    .email
                    .as_ref()
                    .is_some_and(|e| e.as_str().ends_with(&format!("{round}@x.io"))))
                .all(|c| c.root() == primary)
        );
    }
    common::assert_sql_invariants(&db.pool().await).await;
    common::assert_verified(&identity).await;
    common::assert_invariants(&identity.all_contacts().await.unwrap());
}

/// Two merges with disjoint identifiers through one shared customer: A joins C to the older D,
/// B joins the newer E to C. Identifier locks cannot order them; the primary locks must, or E
/// ends up linked to C after C was demoted (a secondary of a secondary).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merges_sharing_a_customer_but_no_identifier_stay_flat() {
    let db = TestDb::create().await;
    let identity = connect(db.url(), 8).await;
    for round in 0..60 {
        let id = |kind: &str| format!("{kind}{round}@x.io");
        let phone = |n: u32| format!("{n}{round:03}");
        identity
            .identify(Some(&id("d")), Some(&phone(1)))
            .await
            .unwrap(); // D, the oldest
        identity
            .identify(Some(&id("c")), Some(&phone(2)))
            .await
            .unwrap(); // C
        identity
            .identify(Some(&id("e")), Some(&phone(3)))
            .await
            .unwrap(); // E, the newest
        let barrier = Arc::new(tokio::sync::Barrier::new(4));
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..4 {
            let (identity, barrier) = (identity.clone(), barrier.clone());
            let (email, phone) = if task % 2 == 0 {
                (id("c"), phone(1))
            } else {
                (id("e"), phone(2))
            };
            tasks.spawn(async move {
                barrier.wait().await;
                identity.identify(Some(&email), Some(&phone)).await.unwrap()
            });
        }
        tasks.join_all().await;
    }
    common::assert_sql_invariants(&db.pool().await).await;
    common::assert_verified(&identity).await;
    common::assert_invariants(&identity.all_contacts().await.unwrap());
}

/// The protocol needs read committed. A database defaulting to repeatable read must not change
/// that: `PgStore::connect` pins read committed for its sessions, and a store made from a pool
/// the caller configured wraps each write in a read committed transaction instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_default_of_repeatable_read_does_not_break_the_protocol() {
    let db = TestDb::create().await;
    db.set_on(
        &common::admin_url(),
        "default_transaction_isolation = 'repeatable read'",
    )
    .await;
    connect(db.url(), 1).await.close().await; // migrate
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(db.url())
        .await
        .unwrap();
    let level: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        level, "repeatable read",
        "the caller's sessions really default to repeatable read"
    );
    let identity = Identity::from_store(identity::PgStore::from_pool(pool));
    for round in 0..10 {
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (identity, barrier) = (identity.clone(), barrier.clone());
            tasks.spawn(async move {
                barrier.wait().await;
                let email = format!("same{round}@x.io");
                identity
                    .identify(Some(&email), Some(&format!("7{round}")))
                    .await
            });
        }
        for result in tasks.join_all().await {
            result.unwrap();
        }
    }
    let pool = db.pool().await;
    common::assert_sql_invariants(&pool).await;
    common::assert_verified(&identity).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM contact")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 10, "one row per round");
}

/// Every column of every table the library writes, in a stable order: to check that a call
/// wrote nothing.
async fn snapshot(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT t FROM (
            SELECT 'c' || row(c.*)::text AS t FROM contact c
            UNION ALL SELECT 'r' || row(r.*)::text FROM identity_customer r
            UNION ALL SELECT 'i' || row(i.*)::text FROM identity_identifier i
            UNION ALL SELECT 'e' || row(e.*)::text FROM identity_event e) x ORDER BY t",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn version(pool: &sqlx::PgPool, customer: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT version FROM identity_customer WHERE tenant_id = 'default' AND primary_id = $1",
    )
    .bind(customer)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The guards of the write protocol, made deterministic: each write function is handed the plan
/// a request would have made from a read that went stale, and must refuse it (-1) and write
/// nothing. A row for a customer that was merged away finds no record; without the owner check
/// a row would join a customer that no longer holds the request's value (its identifier names
/// none or another); without the version check a merge would store a record computed from old
/// records; without the claim a value would start a second customer (I3). Each is called as the
/// store calls it, under the tenant's settings (no phone region, blocked-list version 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_functions_refuse_plans_made_from_a_stale_read() {
    let db = TestDb::create().await;
    let identity = connect(db.url(), 4).await;
    let pool = db.pool().await;
    // customers 1, 2 and 3 (their ids as the store drew them: from 1 on one server)
    let first = async |email: &str, phone: &str| {
        let answer = identity.identify(Some(email), Some(phone)).await.unwrap();
        answer.primary_contact_id.get()
    };
    let c1 = first("a@x.io", "1").await;
    let c2 = first("b@x.io", "2").await;
    let c3 = first("c@x.io", "3").await;
    let (v1, v2) = (version(&pool, c1).await, version(&pool, c2).await);
    identity.identify(Some("a@x.io"), Some("2")).await.unwrap(); // 2 joins 1
    let before = snapshot(&pool).await;
    // the write functions' calls, with the customers' ids in place of 1, 2 and 3
    let call = |sql: &str| {
        let sql = sql
            .replace("{c1}", &c1.to_string())
            .replace("{c2}", &c2.to_string())
            .replace("{c3}", &c3.to_string());
        sqlx::AssertSqlSafe(sql)
    };

    // read before the merge: "b@x.io" belonged to customer 2, so a new phone went to 2
    let status: i64 = sqlx::query_scalar(call(
        "SELECT status FROM identity_add_row('default', NULL, 0, {c2}, $1, -1, 'b@x.io', '9', false, true)",
    ))
    .bind(v2)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, -1, "a row for a customer that was merged away");

    // read before the merge: customers 1 and 3 at their old versions
    let status: i64 = sqlx::query_scalar(call(
        "SELECT identity_merge('default', NULL, 0, {c1}, $1, {c3}, $2, ARRAY[{c3}]::bigint[],
                ARRAY['a@x.io', 'c@x.io'], ARRAY[{c1}, {c3}]::bigint[], ARRAY['1', '3'],
                ARRAY[{c1}, {c3}]::bigint[], ARRAY[{c3}]::bigint[], now(), 'a@x.io', '3')",
    ))
    .bind(v1)
    .bind(version(&pool, c3).await)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        status, -1,
        "a merge computed from an old record of customer 1"
    );

    // read before customer 3 existed: "c@x.io" was unknown
    let status: i64 =
        sqlx::query_scalar("SELECT identity_new_customer('default', NULL, 0, 'c@x.io', '77')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        status, -1,
        "a new customer for a value that was claimed meanwhile"
    );

    // another tenant's plan naming this tenant's customers finds none of them
    let status: i64 = sqlx::query_scalar(call(
        "SELECT status FROM identity_add_row('shop-2', NULL, 0, {c1}, $1, -1, 'a@x.io', '8', false, true)",
    ))
    .bind(version(&pool, c1).await)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, -1, "a row for another tenant's customer");
    let (v1, v3) = (version(&pool, c1).await, version(&pool, c3).await);
    let status: i64 = sqlx::query_scalar(call(
        "SELECT identity_merge('shop-2', NULL, 0, {c1}, $1, {c3}, $2, ARRAY[{c3}]::bigint[],
                ARRAY['a@x.io'], ARRAY[{c1}]::bigint[], ARRAY['1'], ARRAY[{c1}]::bigint[],
                ARRAY[{c3}]::bigint[], now(), 'a@x.io', '3')",
    ))
    .bind(v1)
    .bind(v3)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, -1, "a merge of another tenant's customers");
    assert_eq!(
        snapshot(&pool).await,
        before,
        "the refused plans wrote nothing"
    );

    // read before a row was soft-deleted in SQL: "d@x.io" belonged to customer 3, which still
    // exists (applying the deletion took the value away from it)
    identity.identify(Some("d@x.io"), Some("3")).await.unwrap(); // a secondary of 3
    let v3 = version(&pool, c3).await;
    sqlx::query("UPDATE contact SET deleted_at = now() WHERE email = 'd@x.io'")
        .execute(&pool)
        .await
        .unwrap();
    identity.rebuild().await.unwrap();
    let before = snapshot(&pool).await;
    let status: i64 = sqlx::query_scalar(call(
        "SELECT status FROM identity_add_row('default', NULL, 0, {c3}, $1, -1, 'd@x.io', '99', false, true)",
    ))
    .bind(v3)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        status, -1,
        "a row for a customer that no longer holds the value"
    );
    assert_eq!(
        snapshot(&pool).await,
        before,
        "the refused plans wrote nothing"
    );
    let report = identity.verify().await.unwrap();
    assert!(report.is_clean(), "{report}");
}

/// Many concurrent writes into one customer (a hot customer) all succeed: a plan that went
/// stale is redone under the locks, where it cannot go stale again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_new_values_for_one_hot_customer_all_succeed() {
    let db = TestDb::create().await;
    let identity = connect(db.url(), 8).await;
    let hot = identity
        .identify(Some("hot@x.io"), Some("777"))
        .await
        .unwrap()
        .primary_contact_id;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let identity = identity.clone();
        tasks.spawn(async move {
            identity
                .identify(Some(&format!("fan{i}@x.io")), Some("777"))
                .await
        });
    }
    let answers: Vec<_> = tasks
        .join_all()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("no request gives up");
    assert!(answers.iter().all(|a| a.primary_contact_id == hot));
    let rows = identity.all_contacts().await.unwrap();
    assert_eq!(rows.len(), 301);
    common::assert_sql_invariants(&db.pool().await).await;
    common::assert_verified(&identity).await;
}

/// Blocks every write statement on contact until advisory lock 4242 (held by the test) is free
/// (two statements: Citus sends each to the workers as one command).
const INSTALL_BLOCKING_TRIGGER: [&str; 2] = [
    "CREATE FUNCTION test_block_writes() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
         PERFORM pg_advisory_lock(4242);
         PERFORM pg_advisory_unlock(4242);
         RETURN NULL;
     END $$",
    "CREATE TRIGGER test_block_writes AFTER INSERT OR UPDATE ON contact
         FOR EACH STATEMENT EXECUTE FUNCTION test_block_writes()",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_killed_mid_merge_leaves_nothing_half_written() {
    let db = TestDb::create().await;
    let identity = connect(db.url(), 4).await;
    identity.identify(Some("a@x.io"), Some("1")).await.unwrap(); // 1
    identity.identify(Some("b@x.io"), Some("2")).await.unwrap(); // 2
    identity.identify(Some("c@x.io"), Some("2")).await.unwrap(); // 3 -> 2
    let before = identity.all_contacts().await.unwrap();

    let admin = db.pool().await;
    let mut installer = admin.acquire().await.unwrap();
    // on Citus the trigger runs on the tenant's worker, where the test holds the lock and
    // watches the backend (the coordinator's own connection to the worker) it blocks
    let node = match common::citus_workers() {
        Some(_) => {
            sqlx::raw_sql("SET citus.enable_unsafe_triggers = on")
                .execute(&mut *installer)
                .await
                .unwrap();
            common::tenants_worker(&admin, "default").await
        }
        None => admin.clone(),
    };
    for statement in INSTALL_BLOCKING_TRIGGER {
        sqlx::raw_sql(statement)
            .execute(&mut *installer)
            .await
            .unwrap();
    }
    let mut holder = node.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(4242)")
        .execute(&mut *holder)
        .await
        .unwrap();

    // the merge of customers 1 and 2 relinks rows 2 and 3, then blocks in the trigger
    let merging = tokio::spawn({
        let identity = identity.clone();
        async move { identity.identify(Some("a@x.io"), Some("2")).await }
    });
    let pid = wait_for_blocked_backend(&node, None).await;
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&node)
        .await
        .unwrap();
    assert!(killed);
    // identify is idempotent: it tries again on a fresh connection, which blocks in turn
    wait_for_blocked_backend(&node, Some(pid)).await;
    assert_eq!(
        identity.all_contacts().await.unwrap(),
        before,
        "the killed merge left no trace (and the retry has not committed)"
    );
    sqlx::query("SELECT pg_advisory_unlock(4242)")
        .execute(&mut *holder)
        .await
        .unwrap();
    drop(holder);
    let merged = merging
        .await
        .unwrap()
        .expect("the retry completes the merge");
    assert_eq!(merged.secondary_contact_ids.len(), 2);
    sqlx::raw_sql("DROP TRIGGER test_block_writes ON contact")
        .execute(&mut *installer)
        .await
        .unwrap();
    drop(installer);
    let rows = identity.all_contacts().await.unwrap();
    assert_eq!(rows.len(), before.len(), "merged once, nothing inserted");
    common::assert_sql_invariants(&admin).await;
    common::assert_verified(&identity).await;
}

/// Waits until a backend of the store (other than `not`) is blocked on the test's advisory
/// lock; returns its pid. `node` is the server that runs the store's writes: on Citus the
/// tenant's worker, where they run on the coordinator's connections.
async fn wait_for_blocked_backend(node: &sqlx::PgPool, not: Option<i32>) -> i32 {
    let store = match common::citus_workers() {
        Some(_) => "citus_internal%",
        None => "identity",
    };
    for _ in 0..500 {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event = 'advisory'
               AND application_name LIKE $2 AND pid IS DISTINCT FROM $1 LIMIT 1",
        )
        .bind(not)
        .bind(store)
        .fetch_optional(node)
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no identify backend blocked in the trigger within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_random_connections_under_load_keeps_invariants() {
    let db = TestDb::create().await;
    let identity = connect(db.url(), 8).await;
    let admin = db.pool().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = tokio::spawn({
        let (admin, stop) = (admin.clone(), stop.clone());
        async move {
            let mut kills = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(pg_terminate_backend(pid)) FROM (
                        SELECT pid FROM pg_stat_activity
                        WHERE datname = current_database() AND application_name = 'identity'
                          AND state = 'active' ORDER BY random() LIMIT 1) AS victim",
                )
                .fetch_one(&admin)
                .await
                .unwrap();
                kills += u64::try_from(n).unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            kills
        }
    });
    let per_worker: Vec<Vec<IdentifyRequest>> = (1..=8)
        .map(|seed| Workload::requests(seed, IDENTIFIERS, 150, PER_NAMESPACE))
        .collect();
    let failures = common::hammer(&identity, per_worker).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let kills = killer.await.unwrap();
    assert!(kills > 0, "the killer must have hit something");
    assert!(
        failures.iter().all(|f| f.contains("database")),
        "only database failures expected: {failures:?}"
    );
    common::assert_sql_invariants(&admin).await;
    common::assert_verified(&identity).await;
    common::assert_invariants(&identity.all_contacts().await.unwrap());
    identity
        .identify(Some("after@x.io"), None)
        .await
        .expect("the pool recovers");
}

/// Soft deletes made in SQL and rebuilds while 8 tasks identify over overlapping values: every
/// identify succeeds, and once the last change is applied the invariants hold in SQL and verify
/// finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_deletes_and_rebuilds_during_identifies_keep_the_graph_exact() {
    let db = TestDb::create().await;
    let identity = connect(db.url(), 12).await;
    let admin = db.pool().await;
    let delete = {
        let admin = admin.clone();
        move || {
            let admin = admin.clone();
            async move {
                let done = sqlx::query(
                    "UPDATE contact SET deleted_at = now() WHERE id = (
                        SELECT id FROM contact WHERE deleted_at IS NULL ORDER BY random() LIMIT 1)",
                )
                .execute(&admin)
                .await;
                // an outside writer may lose a deadlock to a repair, as to any writer: it retries
                match done {
                    Ok(done) => done.rows_affected(),
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("40P01") => 0,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    };
    common::identify_while_meddling(&identity, IDENTIFIERS, PER_NAMESPACE, delete).await;
    // the next identify applies the last deletes
    identity.identify(Some("last@x.io"), None).await.unwrap();
    common::assert_sql_invariants(&admin).await;
    common::assert_verified(&identity).await;
}
