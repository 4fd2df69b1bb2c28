//! What migrating leaves in a database: on PostgreSQL exactly the SQL functions the store needs,
//! one definition each; and a database an earlier build of identity created is refused, on
//! both backends, with nothing created.

use identity_testkit as common;

use identity::{ContactStore, Error, PgStore, SqliteStore};

/// Every `identity_` function of a migrated PostgreSQL database: what the store calls, and what
/// those call. A new function is added here on purpose; an old signature is dropped, not left
/// callable beside the new one.
const FUNCTIONS: [&str; 26] = [
    "identity_add_row",
    "identity_add_row_exact",
    "identity_append_row",
    "identity_append_row_exact",
    "identity_begin",
    "identity_begin_write",
    "identity_claim",
    "identity_count_pending",
    "identity_event_position",
    "identity_feed_head",
    "identity_insert_customer",
    "identity_kept_apart",
    "identity_lock",
    "identity_lock_tenant",
    "identity_merge",
    "identity_move_ids_above",
    "identity_new_customer",
    "identity_note_change",
    "identity_read_batch",
    "identity_read_known",
    "identity_read_known_inline",
    "identity_settings_are",
    "identity_status_row",
    "identity_suppress",
    "identity_tenant_state",
    "identity_write_batch",
];

#[tokio::test]
async fn postgres_holds_one_definition_of_each_function_the_store_needs() {
    let db = common::TestDb::create().await;
    identity::connect(db.url()).await.unwrap();
    let found: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.proname::text, p.oid::regprocedure::text FROM pg_proc AS p
         WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'identity\\_%'
         ORDER BY 2",
    )
    .fetch_all(&db.pool().await)
    .await
    .unwrap();
    let signatures = |name: &str| -> Vec<&str> {
        found
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
            .collect()
    };
    for (name, signature) in &found {
        assert!(
            FUNCTIONS.contains(&name.as_str()),
            "unexpected function {signature}"
        );
        assert_eq!(
            signatures(name).len(),
            1,
            "{name} has several overloads: {:?}",
            signatures(name)
        );
    }
    for name in FUNCTIONS {
        assert!(!signatures(name).is_empty(), "{name} is missing");
    }
}

/// A known checkout's read on one server is planned as its query, not run through a function
/// call: the statement the store prepares has no function scan in its plan (PostgreSQL inlined
/// `identity_read_known_inline`, a SQL function of one SELECT). It is the query of the PL/pgSQL
/// `identity_read_known` (Citus and poolers call that one), word for word, and answers its row.
#[tokio::test]
async fn the_known_read_is_inlined_and_is_the_functions_query() {
    let db = common::TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    identity
        .identify(Some("ada@example.com"), Some("5550101"))
        .await
        .unwrap();
    let pool = db.pool().await;
    // the stored values as the store wrote them, and their tenant
    let (tenant, email, phone): (String, String, String) = sqlx::query_as(
        "SELECT e.tenant_id, e.value, p.value FROM identity_identifier AS e
         JOIN identity_identifier AS p ON p.tenant_id = e.tenant_id AND p.kind = 'phone'
         WHERE e.kind = 'email'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // on Citus the store calls the PL/pgSQL function (Citus runs its statements on the
    // tenant's node; a SQL function reading distributed tables it refuses), so only the one
    // query is checked there
    if common::citus_workers().is_none() {
        let read = |function: &str| format!("SELECT * FROM {function}($1, $2, $3, '{{}}', '{{}}')");
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN {}",
            read("identity_read_known_inline")
        )))
        .bind(&tenant)
        .bind(&email)
        .bind(&phone)
        .fetch_all(&pool)
        .await
        .unwrap();
        let plan = plan.join("\n");
        assert!(!plan.contains("Function Scan"), "a function call: {plan}");
        assert!(plan.contains("identity_identifier"), "{plan}");
        // both answer the same row, the customer's lists included
        let mut rows = Vec::new();
        for function in ["identity_read_known", "identity_read_known_inline"] {
            let row: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT r::text FROM ({}) AS r",
                read(function)
            )))
            .bind(&tenant)
            .bind(&email)
            .bind(&phone)
            .fetch_one(&pool)
            .await
            .unwrap();
            rows.push(row);
        }
        assert_eq!(rows[0], rows[1]);
        assert!(rows[0].contains("ada@example.com"), "{}", rows[0]);
    }
    // one query: the PL/pgSQL body is `BEGIN RETURN QUERY <query>; END`
    let bodies: Vec<String> = sqlx::query_scalar(
        "SELECT prosrc FROM pg_proc WHERE proname IN ('identity_read_known', 'identity_read_known_inline')
         ORDER BY proname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let words = |body: &str| -> Vec<String> {
        body.lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .flat_map(str::split_whitespace)
            .map(str::to_owned)
            .collect()
    };
    let (function, inline) = (words(&bodies[0]), words(&bodies[1]));
    assert_eq!(&function[..3], ["BEGIN", "RETURN", "QUERY"]);
    assert_eq!(function.last().map(String::as_str), Some("END"));
    assert_eq!(function[3..function.len() - 1], inline[..]);
}

/// The table an earlier build's sqlx recorded its migrations in, with the first migration it
/// ran (on PostgreSQL; SQLite's differs in its types only).
const EARLIER_BUILD_PG: &str = "
CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
);
INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
VALUES (20261121000001, 'contact', true, '\\x00', 1);";

const EARLIER_BUILD_SQLITE: &str = "
CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
VALUES (20261121000001, 'contact', 1, x'00', 1);";

/// The refusal: a conflict, telling how to move the data (the CLI's `export` and `import`).
fn assert_refused(err: &Error) {
    let Error::Conflict { reason, .. } = err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert!(
        reason.starts_with("this database was created by an earlier build of identity"),
        "{reason}"
    );
    assert!(reason.contains("`identity export`"), "{reason}");
    assert!(reason.contains("`identity import"), "{reason}");
}

#[tokio::test]
async fn postgres_refuses_a_database_an_earlier_build_created_and_creates_nothing() {
    let db = common::TestDb::create().await;
    let pool = db.pool().await;
    sqlx::raw_sql(EARLIER_BUILD_PG)
        .execute(&pool)
        .await
        .unwrap();
    let store = PgStore::connect(db.url()).await.unwrap();
    assert_refused(&store.migrate().await.unwrap_err());
    assert_refused(&identity::connect(db.url()).await.unwrap_err());
    // the baseline's own version, recorded with other SQL (a build before it was final)
    sqlx::query("UPDATE _sqlx_migrations SET version = 20270101000001")
        .execute(&pool)
        .await
        .unwrap();
    assert_refused(&store.migrate().await.unwrap_err());
    // what an extension installed in the schema is its own (Citus's views), not the store's
    let objects: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class AS c
         WHERE c.relnamespace = current_schema()::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.objid = c.oid AND d.deptype = 'e')
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(objects, ["_sqlx_migrations", "_sqlx_migrations_pkey"]);
    let functions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_proc AS p WHERE pronamespace = current_schema()::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.objid = p.oid AND d.deptype = 'e')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(functions, 0);
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(recorded, 1);
}

#[tokio::test]
async fn sqlite_refuses_a_database_an_earlier_build_created_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("earlier.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    sqlx::raw_sql(EARLIER_BUILD_SQLITE)
        .execute(store.pool())
        .await
        .unwrap();
    assert_refused(&store.migrate().await.unwrap_err());
    assert_refused(&identity::connect(&url).await.unwrap_err());
    sqlx::query("UPDATE _sqlx_migrations SET version = 20270101000001")
        .execute(store.pool())
        .await
        .unwrap();
    assert_refused(&store.migrate().await.unwrap_err());
    let objects: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master ORDER BY 1")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(
        objects,
        ["_sqlx_migrations", "sqlite_autoindex__sqlx_migrations_1"]
    );
}
