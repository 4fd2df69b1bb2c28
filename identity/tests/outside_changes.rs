//! Rows changed behind the library's back, in SQL, on SQLite and PostgreSQL: every change shows
//! in the very next answer, `verify` reports what is not applied yet, and the derived records
//! are right again after the next identify (or `rebuild`). Rows that break the model are
//! repaired the way the contract defines, never turned into a wrong customer.

use identity_testkit as common;

use identity::{ContactId, Identity, Problem};

/// A second connection to the store's database, for SQL the library does not see.
enum Sql {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Sql {
    async fn run(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Sql::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Sql::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Inserts a row behind the library's back and returns its id (drawn by the database, as
    /// the library's are: consecutive on one server, per node on Citus): `values` is an SQL
    /// tuple of (email, phone_number, linked_id, link_precedence, created_at, updated_at).
    async fn insert(&self, values: &str) -> ContactId {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, \
             updated_at) VALUES {values} RETURNING id"
        ));
        match self {
            Sql::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Sql::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .map(ContactId::new)
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A fresh store on each SQL backend, with its side connection; the guard keeps the database.
async fn stores() -> Vec<(Identity, Sql, Box<dyn std::any::Any>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("outside.db").display());
    let sqlite = identity::connect(&url).await.unwrap();
    let side = Sql::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap());
    let db = common::TestDb::create().await;
    let pg = identity::connect(db.url()).await.unwrap();
    let pg_side = Sql::Postgres(db.pool().await);
    vec![(sqlite, side, Box::new(dir)), (pg, pg_side, Box::new(db))]
}

/// The id of the row an identify just added to a customer: its newest secondary.
fn new_row(answer: identity::Result<identity::ConsolidatedContact>) -> ContactId {
    let answer = answer.unwrap();
    *answer
        .secondary_contact_ids
        .last()
        .expect("the identify added a row to a customer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_delete_in_sql_shows_in_the_next_answer_and_is_applied_by_the_next_identify() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
        let b = new_row(identity.identify(Some("b@x.io"), Some("1")).await);
        let c = new_row(identity.identify(Some("c@x.io"), Some("1")).await);
        sql.run(&format!(
            "UPDATE contact SET deleted_at = '2026-01-01T00:00:00Z' WHERE id = {b}"
        ))
        .await;
        let report = identity.verify().await.unwrap();
        assert!(
            report
                .problems
                .contains(&Problem::PendingChanges { count: 1 }),
            "{backend}: {report}"
        );
        // lookup answers from the rows meanwhile, writing nothing
        let seen = identity
            .lookup(Some("a@x.io"), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen.secondary_contact_ids, vec![c], "{backend}");
        assert_eq!(seen.emails.len(), 2, "{backend}: b@x.io is gone");
        assert!(!identity.verify().await.unwrap().is_clean(), "{backend}");
        // the deleted row's email is unknown now: a new customer
        let new_b = identity.identify(Some("b@x.io"), None).await.unwrap();
        assert!(new_b.secondary_contact_ids.is_empty(), "{backend}");
        assert!(
            ![seen.primary_contact_id, b, c].contains(&new_b.primary_contact_id),
            "{backend}: a row of its own"
        );
        common::assert_verified(&identity).await;
        let a = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
        assert_eq!(a.secondary_contact_ids, vec![c], "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_fixed_in_sql_moves_the_value() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        let a = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
        let jonh = new_row(identity.identify(Some("jonh@x.io"), Some("1")).await);
        sql.run(&format!(
            "UPDATE contact SET email = 'john@x.io' WHERE id = {jonh}"
        ))
        .await;
        let john = identity.identify(Some("john@x.io"), None).await.unwrap();
        assert_eq!(john.primary_contact_id, a.primary_contact_id, "{backend}");
        let emails: Vec<&str> = john.emails.iter().map(|e| e.as_str()).collect();
        assert_eq!(emails, ["a@x.io", "john@x.io"], "{backend}");
        assert_eq!(
            identity.lookup(Some("jonh@x.io"), None).await.unwrap(),
            None,
            "{backend}: the typo is no customer's any more"
        );
        common::assert_verified(&identity).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chained_secondary_written_in_sql_is_repaired_into_its_customer() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        let a = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
        let primary = a.primary_contact_id;
        let b = new_row(identity.identify(Some("b@x.io"), Some("1")).await);
        // a secondary linked to another secondary
        let c = sql
            .insert(&format!(
                "('c@x.io', '3', {b}, 'secondary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')"
            ))
            .await;
        let report = identity.verify().await.unwrap();
        assert!(
            report
                .problems
                .contains(&Problem::BrokenLink { row: c, to: b }),
            "{backend}: {report}"
        );
        // never a customer of its own: row c belongs to a's customer
        let found = identity
            .lookup(Some("c@x.io"), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.primary_contact_id, primary, "{backend}");
        let answer = identity.identify(Some("c@x.io"), Some("3")).await.unwrap();
        assert_eq!(answer.primary_contact_id, primary, "{backend}");
        // in id order (on Citus the row written in SQL drew its id on the coordinator)
        let mut secondaries = vec![b, c];
        secondaries.sort();
        assert_eq!(answer.secondary_contact_ids, secondaries, "{backend}");
        let rows = identity.all_contacts().await.unwrap();
        let row = rows
            .iter()
            .find(|r| r.id == c)
            .expect("the row written in SQL");
        assert_eq!(row.linked_id(), Some(primary), "{backend}: relinked");
        common::assert_invariants(&rows);
        common::assert_verified(&identity).await;
    }
}

/// Before the next identify applies it, a row written in SQL is found by each of its values
/// alone (the walk over the rows looks each kind of value up by its own index), and joins the
/// customer it shares a value with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_written_in_sql_is_found_by_its_email_alone_and_by_its_phone_alone() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        let a = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
        let d = sql
            .insert(
                "('d@x.io', '4', NULL, 'primary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')",
            )
            .await;
        for (email, phone) in [(Some("d@x.io"), None), (None, Some("4"))] {
            let found = identity.lookup(email, phone).await.unwrap();
            let found = found.unwrap_or_else(|| panic!("{backend}: {email:?} {phone:?}"));
            assert_eq!(
                found.primary_contact_id, d,
                "{backend}: {email:?} {phone:?}"
            );
        }
        // a row of a's phone: a's customer, found by that phone before it is applied
        let e = sql
            .insert(
                "('e@x.io', '1', NULL, 'primary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')",
            )
            .await;
        let joined = identity.lookup(None, Some("1")).await.unwrap().unwrap();
        assert_eq!(joined.primary_contact_id, a.primary_contact_id, "{backend}");
        assert_eq!(joined.secondary_contact_ids, vec![e], "{backend}");
        identity.identify(Some("e@x.io"), None).await.unwrap();
        common::assert_verified(&identity).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_primaries_sharing_an_email_written_in_sql_become_one_customer() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        let first = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
        let older = sql
            .insert(
                "('a@x.io', '2', NULL, 'primary', '2001-01-01T00:00:00Z', '2001-01-01T00:00:00Z')",
            )
            .await;
        let answer = identity.identify(Some("a@x.io"), None).await.unwrap();
        assert_eq!(
            answer.primary_contact_id, older,
            "{backend}: the older row leads"
        );
        assert_eq!(
            answer.secondary_contact_ids,
            vec![first.primary_contact_id],
            "{backend}"
        );
        assert_eq!(answer.phone_numbers.len(), 2, "{backend}");
        common::assert_verified(&identity).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_repairs_everything_and_reports_it() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
        let b = new_row(identity.identify(Some("b@x.io"), Some("1")).await);
        let c = sql
            .insert(&format!(
                "('c@x.io', NULL, {b}, 'secondary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')"
            ))
            .await;
        let report = identity.rebuild().await.unwrap();
        assert_eq!((report.rows, report.customers), (3, 1), "{backend}");
        assert_eq!(report.relinked, vec![c], "{backend}");
        common::assert_verified(&identity).await;
        // hand edits of the derived records themselves are found and undone by rebuild
        sql.run("DELETE FROM identity_identifier WHERE value = 'b@x.io'")
            .await;
        let report = identity.verify().await.unwrap();
        assert!(
            report
                .to_string()
                .contains("identifier email \"b@x.io\" names none"),
            "{backend}: {report}"
        );
        identity.rebuild().await.unwrap();
        common::assert_verified(&identity).await;
    }
}
