//! The plans SQLite makes for the statements that find one request's or one customer's rows:
//! each must reach them by their keys, never by searching every row of the tenant.
//!
//! Every index of the tenant's tables leads with `tenant_id`, so a statement whose key terms
//! SQLite cannot use on an index (terms joined by `OR`, an `IN` list next to a tenant term it
//! prefers) still finds an index to search: the tenant's whole range of it. Such a plan is right
//! on a small database and costs O(tenant) per call on a large one (a merge relinked its rows
//! that way: 2.5 ms more per merge at 30,000 rows). Each module lists the statements of that
//! kind as `BY_KEY`; this test asks SQLite for their plans (`EXPLAIN QUERY PLAN`) on the
//! migrated schema.

use std::collections::BTreeSet;

use sqlx::Row;

use super::{SqliteStore, erase_steps, read, records, steps, tails};
use crate::store::ContactStore;

/// The tables that grow with a tenant: a statement of `BY_KEY` must not scan them, nor
/// search them by the tenant alone.
const LARGE: &[&str] = &[
    "contact",
    "identity_identifier",
    "identity_customer",
    "identity_customer_tail",
    "identity_event",
    "identity_kept_apart",
];

/// The names a plan may give `LARGE` tables in `sql`: their own and their aliases.
fn large_names(sql: &str) -> BTreeSet<String> {
    let words: Vec<&str> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut names: BTreeSet<String> = LARGE.iter().map(|t| (*t).to_owned()).collect();
    for (i, word) in words.iter().enumerate() {
        if LARGE.contains(word) {
            let next = match words.get(i + 1) {
                Some(w) if w.eq_ignore_ascii_case("AS") => words.get(i + 2),
                other => other,
            };
            if let Some(alias) = next.filter(|w| w.len() <= 2) {
                names.insert((*alias).to_owned());
            }
        }
    }
    names
}

/// The lines of `plan` that reach a large table of `sql` other than by a key.
fn not_by_key(sql: &str, plan: &[String]) -> Vec<String> {
    let names = large_names(sql);
    plan.iter()
        .filter(|line| {
            let mut words = line.split_whitespace();
            let (Some(how), Some(what)) = (words.next(), words.next()) else {
                return false;
            };
            names.contains(what)
                && ((how == "SCAN" && !line.contains("VIRTUAL TABLE"))
                    || (how == "SEARCH" && line.contains("(tenant_id=?)")))
        })
        .cloned()
        .collect()
}

/// SQLite's plan of `sql` (every parameter bound to NULL: a plan does not depend on values).
async fn plan(store: &SqliteStore, sql: &str) -> Vec<String> {
    let params = (1..=32)
        .rev()
        .find(|n| sql.contains(&format!("?{n}")))
        .unwrap_or(0);
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
    for _ in 0..params {
        query = query.bind(None::<i64>);
    }
    let mut conn = store.pool.acquire().await.unwrap();
    query
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect()
}

#[tokio::test]
async fn the_statements_of_one_customer_find_its_rows_by_key() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let statements = [
        records::BY_KEY,
        read::BY_KEY,
        tails::BY_KEY,
        steps::BY_KEY,
        erase_steps::BY_KEY,
    ];
    let mut found = Vec::new();
    for (name, sql) in statements.iter().copied().flatten() {
        let plan = plan(&store, sql).await;
        assert!(!plan.is_empty(), "{name}: no plan");
        let lines = not_by_key(sql, &plan);
        if !lines.is_empty() {
            found.push(format!("{name}: {}", lines.join("; ")));
        }
    }
    assert!(found.is_empty(), "not by key:\n{}", found.join("\n"));
}

/// The check itself: the statements this test was written for, as they were, fail it.
#[tokio::test]
async fn a_search_of_the_whole_tenant_is_found() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let before = [
        // a merge's relink: the tenant's `linked_id` index, not the rows' ids
        "UPDATE contact SET linked_id = ?2, updated_at = ?3
         WHERE tenant_id = ?4 AND id IN (SELECT value FROM json_each(?1))
           AND deleted_at IS NULL",
        // a customer's rows by `OR`
        "SELECT id FROM contact
         WHERE tenant_id = ?1 AND deleted_at IS NULL AND (id = ?2 OR linked_id = ?2)",
        // a value's owners by `OR`
        "SELECT customer_id FROM identity_identifier AS i
         WHERE i.tenant_id = ?3 AND ((i.kind = 'email' AND i.value IN (SELECT value FROM json_each(?1)))
            OR (i.kind = 'phone' AND i.value IN (SELECT value FROM json_each(?2))))",
        // every row, deleted ones too (no index of visible rows serves)
        "SELECT id FROM contact WHERE tenant_id = ?1 AND email = ?2",
    ];
    for sql in before {
        let plan = plan(&store, sql).await;
        assert!(!not_by_key(sql, &plan).is_empty(), "{sql}\n{plan:?}");
    }
}
