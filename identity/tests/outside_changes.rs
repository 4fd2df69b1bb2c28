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

    /// Inserts rows behind the library's back: `values` are SQL tuples of (email, phone_number,
    /// linked_id, link_precedence, created_at, updated_at).
    async fn insert(&self, values: &str) {
        self.run(&format!(
            "INSERT INTO contact (email, phone_number, linked_id, link_precedence, created_at, \
             updated_at) VALUES {values}"
        ))
        .await;
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

fn ids(v: &[i64]) -> Vec<ContactId> {
    v.iter().copied().map(ContactId::new).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_delete_in_sql_shows_in_the_next_answer_and_is_applied_by_the_next_identify() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        identity.identify(Some("a@x.io"), Some("1")).await.unwrap(); // 1
        identity.identify(Some("b@x.io"), Some("1")).await.unwrap(); // 2 -> 1
        identity.identify(Some("c@x.io"), Some("1")).await.unwrap(); // 3 -> 1
        sql.run("UPDATE contact SET deleted_at = '2026-01-01T00:00:00Z' WHERE id = 2")
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
        assert_eq!(seen.secondary_contact_ids, ids(&[3]), "{backend}");
        assert_eq!(seen.emails.len(), 2, "{backend}: b@x.io is gone");
        assert!(!identity.verify().await.unwrap().is_clean(), "{backend}");
        // the deleted row's email is unknown now: a new customer
        let b = identity.identify(Some("b@x.io"), None).await.unwrap();
        assert_eq!(b.primary_contact_id, ContactId::new(4), "{backend}");
        common::assert_verified(&identity).await;
        let a = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
        assert_eq!(a.secondary_contact_ids, ids(&[3]), "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_fixed_in_sql_moves_the_value() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        identity.identify(Some("a@x.io"), Some("1")).await.unwrap(); // 1
        identity
            .identify(Some("jonh@x.io"), Some("1"))
            .await
            .unwrap(); // 2 -> 1
        sql.run("UPDATE contact SET email = 'john@x.io' WHERE id = 2")
            .await;
        let john = identity.identify(Some("john@x.io"), None).await.unwrap();
        assert_eq!(john.primary_contact_id, ContactId::new(1), "{backend}");
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
        identity.identify(Some("a@x.io"), Some("1")).await.unwrap(); // 1
        identity.identify(Some("b@x.io"), Some("1")).await.unwrap(); // 2 -> 1
        // 3 -> 2: a secondary linked to another secondary
        sql.insert(
            "('c@x.io', '3', 2, 'secondary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')",
        )
        .await;
        let report = identity.verify().await.unwrap();
        assert!(
            report.problems.contains(&Problem::BrokenLink {
                row: ContactId::new(3),
                to: ContactId::new(2)
            }),
            "{backend}: {report}"
        );
        // never a customer of its own: row 3 belongs to customer 1
        let c = identity
            .lookup(Some("c@x.io"), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.primary_contact_id, ContactId::new(1), "{backend}");
        let c = identity.identify(Some("c@x.io"), Some("3")).await.unwrap();
        assert_eq!(c.primary_contact_id, ContactId::new(1), "{backend}");
        assert_eq!(c.secondary_contact_ids, ids(&[2, 3]), "{backend}");
        let rows = identity.all_contacts().await.unwrap();
        assert_eq!(
            rows[2].linked_id(),
            Some(ContactId::new(1)),
            "{backend}: relinked"
        );
        common::assert_invariants(&rows);
        common::assert_verified(&identity).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_primaries_sharing_an_email_written_in_sql_become_one_customer() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        identity.identify(Some("a@x.io"), Some("1")).await.unwrap(); // 1
        sql.insert(
            "('a@x.io', '2', NULL, 'primary', '2001-01-01T00:00:00Z', '2001-01-01T00:00:00Z')",
        )
        .await; // 2, older than 1
        let answer = identity.identify(Some("a@x.io"), None).await.unwrap();
        assert_eq!(
            answer.primary_contact_id,
            ContactId::new(2),
            "{backend}: the older row leads"
        );
        assert_eq!(answer.secondary_contact_ids, ids(&[1]), "{backend}");
        assert_eq!(answer.phone_numbers.len(), 2, "{backend}");
        common::assert_verified(&identity).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_repairs_everything_and_reports_it() {
    for (identity, sql, _keep) in stores().await {
        let backend = identity.store().backend();
        identity.identify(Some("a@x.io"), Some("1")).await.unwrap(); // 1
        identity.identify(Some("b@x.io"), Some("1")).await.unwrap(); // 2 -> 1
        sql.insert(
            "('c@x.io', NULL, 2, 'secondary', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')",
        )
        .await;
        let report = identity.rebuild().await.unwrap();
        assert_eq!((report.rows, report.customers), (3, 1), "{backend}");
        assert_eq!(report.relinked, ids(&[3]), "{backend}");
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
