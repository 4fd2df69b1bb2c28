//! The reads find records by key whatever the tables' statistics were when they were planned.
//! The store keeps its plans per connection (a prepared statement, PL/pgSQL's cached plans),
//! so a new database's first reads plan on empty tables; a read that joined the records on the
//! identifiers it found then scanned all the tenant's records per read until the next ANALYZE
//! (`migrations/postgres/*_read_records_by_key.sql`). Each read here is planned once on empty
//! tables, as PL/pgSQL plans its query (generic, its parameters as `$n`), and planned again by
//! nothing: its plan after the tables filled must still look every record up by its key. So
//! must `identity_lock` (a stale plan's read, which locks the records first) its values and
//! records: counted by the rows its call fetches. The batch the store sends as a statement of
//! its own is checked likewise, and checked to keep one plan per connection.

use identity_testkit as common;

use identity_testkit::TestDb;
use sqlx::Connection;

/// The query of a PL/pgSQL function whose body is `BEGIN RETURN QUERY <query>; END`, its
/// parameters (`params`, in order) as `$1`, `$2`, ...
fn query_of(body: &str, params: &[(&str, &str)]) -> String {
    let start = body.find("RETURN QUERY").expect("RETURN QUERY") + "RETURN QUERY".len();
    let end = body.rfind(';').expect("the query's end");
    let mut query: String = body[start..end]
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    for (i, (name, ty)) in params.iter().enumerate() {
        let pattern = regex::Regex::new(&format!(r"\b{name}\b")).unwrap();
        let param = format!("${}::{ty}", i + 1);
        query = pattern
            .replace_all(&query, regex::NoExpand(&param))
            .into_owned();
    }
    query
}

/// Every scan of `identity_customer` in `plan` that is not keyed by its primary id.
fn unkeyed_record_scans(plan: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, line) in plan.iter().enumerate() {
        if line.contains("on identity_customer") {
            let cond = plan[i + 1..]
                .iter()
                .take_while(|l| !l.contains("->"))
                .find(|l| l.contains("Index Cond"));
            if !cond.is_some_and(|c| c.contains("primary_id")) {
                found.push(format!("{line} / {cond:?}"));
            }
        }
    }
    found
}

#[tokio::test]
async fn reads_planned_on_empty_tables_still_find_records_by_key() {
    if common::citus_workers().is_some() {
        // on Citus the store plans every call with its arguments (`plan_cache_mode` is
        // force_custom_plan there, and the read batch's own setting is reset): no plan outlives
        // the statistics it was made from, and the coordinator's plan is Citus's, not these
        return;
    }
    let db = TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    // no ANALYZE while the test runs (it would plan the reads again, with statistics)
    for table in [
        "identity_customer",
        "identity_identifier",
        "identity_tenant",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} SET (autovacuum_enabled = false)"
        )))
        .execute(&pool)
        .await
        .unwrap();
    }
    let bodies: Vec<(String, String)> = sqlx::query_as(
        "SELECT proname::text, prosrc FROM pg_proc
         WHERE proname IN ('identity_read_known', 'identity_read_batch')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let body = |name: &str| &bodies.iter().find(|(n, _)| n == name).unwrap().1;
    let alone = "SELECT * FROM identity_read_known_inline($1, $2, $3, $4, $5)";
    let function = query_of(
        body("identity_read_known"),
        &[
            ("p_tenant", "text"),
            ("p_email", "text"),
            ("p_phone", "text"),
            ("p_versions", "bigint[]"),
            ("p_bases", "bigint[]"),
        ],
    );
    let batch = query_of(
        body("identity_read_batch"),
        &[
            ("p_tenant", "text"),
            ("p_emails", "text[]"),
            ("p_phones", "text[]"),
            ("p_versions", "bigint[]"),
            ("p_bases", "bigint[]"),
        ],
    );
    let inline_batch = identity::store::postgres::read_batch_statement(2);
    // each read with arguments that meet a customer once the tables hold some
    let one = "'default', 'c3@plans.io', '5550207', '{}', '{}'";
    let many = "'default', ARRAY['nobody@plans.io', 'c3@plans.io'], ARRAY['5550207', NULL], \
                '{}', '{}'";
    let slots = "'default', '{}', '{}', 2, 'nobody@plans.io', '5550207', 'c3@plans.io', NULL";
    let reads = [
        ("alone", alone, one),
        ("function", function.as_str(), one),
        ("batch", batch.as_str(), many),
        ("inline_batch", inline_batch, slots),
    ];
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::query("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .unwrap();
    // planned now, on empty tables (the lock's statements inside its transaction)
    let lock = "SELECT count(*) FROM identity_lock('default', 'c3@plans.io', '5550207')";
    for statement in ["BEGIN", lock, "COMMIT"] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for (name, query, args) in reads {
        for statement in [
            format!("PREPARE {name} AS {query}"),
            format!("EXECUTE {name}({args})"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    for k in 0..60 {
        let (email, phone) = (format!("c{k}@plans.io"), format!("55502{k:02}"));
        identity.identify(Some(&email), Some(&phone)).await.unwrap();
    }
    for (name, _, args) in reads {
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (COSTS OFF) EXECUTE {name}({args})"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(
            plan.iter().any(|l| l.contains("identity_customer")),
            "{name}: {plan:#?}"
        );
        let unkeyed = unkeyed_record_scans(&plan);
        assert!(unkeyed.is_empty(), "{name}: {unkeyed:#?}\n{plan:#?}");
    }
    // the lock (loops, so not explained): the rows its call fetched by index, in its transaction
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(lock))
        .execute(&mut conn)
        .await
        .unwrap();
    let read: Vec<(String, i64)> = sqlx::query_as(
        "SELECT relname::text, idx_tup_fetch FROM pg_stat_xact_user_tables
         WHERE relname IN ('identity_customer', 'identity_identifier')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
    // its owners looked up twice (two values each) and read once more, its records locked and
    // read once each: a handful of entries, not the tenant's 60 customers and 120 values
    for (table, entries) in &read {
        assert!(
            *entries <= 8,
            "identity_lock read {entries} entries of {table}'s indexes"
        );
    }
    assert_eq!(read.len(), 2, "{read:?}");
    conn.close().await.unwrap();
    identity.close().await;
    common::assert_sql_invariants(&pool).await;
}

/// The batch the store sends as its own statement keeps one plan per connection: bound one by
/// one, its values give PostgreSQL nothing to plan each call with (with arrays, every call was
/// planned again: `store/postgres/read_batch.rs`). Counted by the server for the statement the
/// store's connection prepared.
#[tokio::test]
async fn the_batch_statement_is_planned_once_per_connection() {
    if common::citus_workers().is_some() {
        // on Citus the store sends the function instead, planned with its arguments
        return;
    }
    let db = TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    for k in 0..20 {
        let (email, phone) = (format!("p{k}@plans.io"), format!("55503{k:02}"));
        identity.identify(Some(&email), Some(&phone)).await.unwrap();
    }
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    for size in [3, 4] {
        let statement = identity::store::postgres::read_batch_statement(size);
        for call in 0..12 {
            let mut query = sqlx::query(statement)
                .bind("default")
                .bind(Vec::<i64>::new())
                .bind(Vec::<i64>::new())
                .bind(i32::try_from(size).unwrap());
            for slot in 0..4 {
                let k = (call + slot) % 25;
                let used = slot < size;
                query = query
                    .bind(used.then(|| format!("p{k}@plans.io")))
                    .bind(used.then(|| format!("55503{k:02}")));
            }
            let rows = query.fetch_all(&mut conn).await.unwrap();
            assert_eq!(
                rows.len(),
                size,
                "one row per request, none for an unused slot"
            );
        }
    }
    // sizes 3 and 4 share one statement (4 slots): 24 calls, the first 5 planned with their
    // arguments, the rest with the plan kept
    let (generic, custom): (i64, i64) = sqlx::query_as(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements
         WHERE statement = $1",
    )
    .bind(identity::store::postgres::read_batch_statement(4))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        custom, 5,
        "only the first calls planned with their arguments"
    );
    assert_eq!(generic, 19, "then the plan kept");
    conn.close().await.unwrap();
    identity.close().await;
}
