//! The schema stays distributable by tenant (issue 34): what Citus needs to keep each tenant's
//! rows and each tenant's statements on one node, checked on a migrated PostgreSQL database on
//! every run of the test command (the cluster itself runs in `scripts/test-citus`).
//!
//! * A table with a `tenant_id` column (distributed by it, co-located) has it NOT NULL, in its
//!   primary key, in every unique key, and on both sides of every foreign key between two such
//!   tables. A table without one is a reference table (a copy on every node): only the tables
//!   named below, which hold nothing of any tenant.
//! * Every function a tenant's operation calls takes the tenant first (`p_tenant text`), the
//!   argument Citus routes a call by; trigger functions are the ones named below, and
//!   IMMUTABLE functions read no table.

use identity_testkit as common;

/// Tables that hold nothing of any tenant: the blocked-list defaults, the readiness probe's row,
/// the store's suppression secret.
const REFERENCE_TABLES: [&str; 3] = [
    "identity_blocked_default",
    "identity_probe",
    "identity_secret",
];

/// Trigger functions: the feed's numbering of an event and the notes of changes made to
/// `contact` outside the library. `identity migrate --citus` replaces both (see docs/scaling.md).
const TRIGGER_FUNCTIONS: [&str; 2] = ["identity_event_position", "identity_note_change"];

/// Each ordinary table of the migrated schema (sqlx's own record left out), with the number of
/// its `tenant_id` column and whether that column is NOT NULL.
const TABLES: &str = "
SELECT c.oid::bigint AS oid, c.relname::text AS name, a.attnum::int AS tenant, a.attnotnull
FROM pg_class AS c
LEFT JOIN pg_attribute AS a
    ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
  AND c.relname <> '_sqlx_migrations'
ORDER BY c.relname";

/// Unique indexes (primary keys and unique constraints included) of tenant tables whose key
/// columns leave `tenant_id` out.
const UNIQUE_WITHOUT_TENANT: &str = "
SELECT i.indexrelid::regclass::text
FROM pg_index AS i
JOIN pg_attribute AS a
    ON a.attrelid = i.indrelid AND a.attname = 'tenant_id' AND NOT a.attisdropped
JOIN pg_class AS c ON c.oid = i.indrelid
WHERE c.relnamespace = current_schema()::regnamespace AND i.indisunique
  AND NOT EXISTS (
      SELECT 1 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, n)
      WHERE k.att = a.attnum AND k.n <= i.indnkeyatts)
ORDER BY 1";

/// Foreign keys of the schema that do not pair the two tables' `tenant_id` columns (a tenant
/// table may reference a reference table; nothing else may cross).
const FOREIGN_KEYS_ACROSS_TENANTS: &str = "
SELECT f.conname::text
FROM pg_constraint AS f
LEFT JOIN pg_attribute AS src
    ON src.attrelid = f.conrelid AND src.attname = 'tenant_id' AND NOT src.attisdropped
LEFT JOIN pg_attribute AS dst
    ON dst.attrelid = f.confrelid AND dst.attname = 'tenant_id' AND NOT dst.attisdropped
WHERE f.connamespace = current_schema()::regnamespace AND f.contype = 'f'
  AND NOT (src.attnum IS NOT NULL AND dst.attnum IS NULL)
  AND NOT EXISTS (
      SELECT 1 FROM unnest(f.conkey, f.confkey) AS k(a, b)
      WHERE k.a = src.attnum AND k.b = dst.attnum)
ORDER BY 1";

/// Every function of the schema: its name, its arguments' names and types, whether it is a
/// trigger function and whether it is IMMUTABLE.
const FUNCTIONS: &str = "
SELECT p.proname::text, coalesce(p.proargnames, '{}')::text[] AS names,
       coalesce((SELECT array_agg(format_type(t, NULL) ORDER BY n)
                 FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS x(t, n)), '{}') AS types,
       p.prorettype = 'trigger'::regtype AS is_trigger, p.provolatile = 'i' AS immutable
FROM pg_proc AS p
WHERE p.pronamespace = current_schema()::regnamespace
ORDER BY 1";

#[tokio::test]
async fn every_key_of_a_tenant_table_leads_to_one_tenant() {
    let db = common::TestDb::create().await;
    identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    let tables: Vec<(i64, String, Option<i32>, Option<bool>)> =
        sqlx::query_as(TABLES).fetch_all(&pool).await.unwrap();
    assert!(
        tables.iter().any(|(_, name, ..)| name == "contact"),
        "the schema was not migrated: {tables:?}"
    );
    let mut tenant_tables = 0;
    for (_, name, tenant, not_null) in &tables {
        if REFERENCE_TABLES.contains(&name.as_str()) {
            assert!(
                tenant.is_none(),
                "{name} is listed as a reference table but has a tenant_id column"
            );
            continue;
        }
        assert!(
            tenant.is_some(),
            "{name} has no tenant_id column: add one (and lead its keys with it), or list it \
             in REFERENCE_TABLES if it holds nothing of any tenant"
        );
        assert_eq!(*not_null, Some(true), "{name}.tenant_id must be NOT NULL");
        tenant_tables += 1;
    }
    for name in REFERENCE_TABLES {
        assert!(
            tables.iter().any(|(_, n, ..)| n == name),
            "reference table {name} is missing"
        );
    }
    assert!(tenant_tables >= 14, "only {tenant_tables} tenant tables");

    let unique: Vec<String> = sqlx::query_scalar(UNIQUE_WITHOUT_TENANT)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        unique.is_empty(),
        "unique keys without tenant_id (Citus cannot enforce them per shard): {unique:?}"
    );
    let across: Vec<String> = sqlx::query_scalar(FOREIGN_KEYS_ACROSS_TENANTS)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        across.is_empty(),
        "foreign keys that do not pair tenant_id with tenant_id: {across:?}"
    );
}

/// A function as [`FUNCTIONS`] reads it.
type Function = (String, Vec<String>, Vec<String>, bool, bool);

/// The schema's functions that break the rule, as `name(arguments)`, and its trigger functions.
async fn functions_against_the_rule(pool: &sqlx::PgPool) -> (Vec<String>, Vec<String>) {
    let functions: Vec<Function> = sqlx::query_as(FUNCTIONS).fetch_all(pool).await.unwrap();
    assert!(functions.len() >= 20, "{functions:?}");
    let (mut against, mut triggers) = (Vec::new(), Vec::new());
    for (name, names, types, is_trigger, immutable) in functions {
        if is_trigger {
            triggers.push(name);
        } else if !immutable
            && (
                names.first().map(String::as_str),
                types.first().map(String::as_str),
            ) != (Some("p_tenant"), Some("text"))
        {
            against.push(format!("{name}({})", names.join(", ")));
        }
    }
    (against, triggers)
}

#[tokio::test]
async fn every_function_takes_the_tenant_first() {
    let db = common::TestDb::create().await;
    identity::connect(db.url()).await.unwrap();
    let (against, triggers) = functions_against_the_rule(&db.pool().await).await;
    assert!(
        against.is_empty(),
        "functions that do not take the tenant first, as p_tenant text: {against:?}"
    );
    assert_eq!(
        triggers, TRIGGER_FUNCTIONS,
        "the schema's trigger functions"
    );
}

/// The guard above, seen to fail: a key, a foreign key and a function that break it are named.
#[tokio::test]
async fn the_guard_names_what_breaks_it() {
    let db = common::TestDb::create().await;
    identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    sqlx::raw_sql(
        "CREATE TABLE identity_loose (tenant_id text NOT NULL, id bigint PRIMARY KEY,
                                      customer bigint);
         ALTER TABLE identity_loose ADD CONSTRAINT identity_loose_contact_fkey
             FOREIGN KEY (tenant_id, customer) REFERENCES identity_customer (tenant_id, primary_id);
         ALTER TABLE identity_loose ADD CONSTRAINT identity_loose_any_fkey
             FOREIGN KEY (customer) REFERENCES identity_loose (id);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let unique: Vec<String> = sqlx::query_scalar(UNIQUE_WITHOUT_TENANT)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(unique, ["identity_loose_pkey"]);
    let across: Vec<String> = sqlx::query_scalar(FOREIGN_KEYS_ACROSS_TENANTS)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(across, ["identity_loose_any_fkey"]);
    sqlx::raw_sql(
        "CREATE FUNCTION identity_loose_count(p_id bigint, p_tenant text) RETURNS bigint
         LANGUAGE sql STABLE AS $$ SELECT count(*) FROM identity_loose WHERE id = p_id $$;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (against, _) = functions_against_the_rule(&pool).await;
    assert_eq!(against, ["identity_loose_count(p_id, p_tenant)"]);
}
