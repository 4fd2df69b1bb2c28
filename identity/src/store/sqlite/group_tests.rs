//! Tests of a SQLite batch's transaction (`group.rs`, `writer.rs`): begun by the script that
//! reads its first write and committed by its last write's script, neither of which the driver
//! counts, so a batch that fails leaves it to the next writer to roll back.

use std::time::Duration;

use sqlx::Connection;

use super::SqliteStore;
use crate::error::Error;
use crate::request::IdentifyRequest;
use crate::store::ContactStore;
use crate::tenant::TenantId;

/// A migrated store on a new file, and a connection of another writer to that file.
async fn store_and_other_writer(dir: &tempfile::TempDir) -> (SqliteStore, sqlx::SqliteConnection) {
    let path = dir.path().join("identity.db");
    let store = SqliteStore::open_path(&path).await.unwrap();
    store.migrate().await.unwrap();
    let url = format!("sqlite://{}", path.display());
    let other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    (store, other)
}

/// Runs `sql` on `conn`.
async fn run(conn: &mut sqlx::SqliteConnection, sql: &'static str) {
    sqlx::raw_sql(sql).execute(conn).await.unwrap();
}

/// A batch that fails on one write (a rule of the shop's own refuses its email) is rolled back
/// whole, its writes go alone and only the culprit fails; the writer then writes on, and
/// nothing of the batch was written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_batch_is_rolled_back_and_the_writer_writes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut blocker) = store_and_other_writer(&dir).await;
    let tenant = TenantId::default();
    run(
        &mut blocker,
        "CREATE TRIGGER refuse_culprit BEFORE INSERT ON contact
         WHEN NEW.email = 'culprit@x.io'
         BEGIN SELECT RAISE(ABORT, 'refused by the shop'); END;",
    )
    .await;
    // another writer holds the database: the first write's batch waits for it, the rest queue
    // behind it into the next batch, the culprit in its middle
    run(&mut blocker, "BEGIN IMMEDIATE").await;
    let mut emails: Vec<String> = (0..6).map(|i| format!("fine{i}@x.io")).collect();
    emails.insert(3, "culprit@x.io".into());
    let send = |email: String, phone: String| {
        let (store, tenant) = (store.clone(), tenant.clone());
        tokio::spawn(async move {
            let request = IdentifyRequest::parse(Some(&email), Some(&phone)).unwrap();
            store.identify(&tenant, &request).await
        })
    };
    let first = send("first@x.io".into(), "7000".into());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let calls: Vec<_> = (emails.iter().enumerate())
        .map(|(i, email)| send(email.clone(), format!("740{i}")))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    run(&mut blocker, "COMMIT").await;
    first.await.unwrap().unwrap();
    for (email, call) in emails.iter().zip(calls) {
        let answer = call.await.unwrap();
        if email == "culprit@x.io" {
            let e = answer.unwrap_err();
            assert!(matches!(e, Error::Store { .. }), "the culprit fails: {e:?}");
        } else {
            let answer = answer.unwrap();
            assert_eq!(answer.emails[0].as_str(), email);
        }
    }
    // the writer's connection is out of the failed batch's transaction: it writes on
    let after = IdentifyRequest::parse(Some("after@x.io"), Some("7500")).unwrap();
    store.identify(&tenant, &after).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT email, count(*) FROM contact GROUP BY email ORDER BY email")
            .fetch_all(&mut blocker)
            .await
            .unwrap();
    let mut want: Vec<(String, i64)> = ["after@x.io", "first@x.io"]
        .into_iter()
        .map(String::from)
        .chain((0..6).map(|i| format!("fine{i}@x.io")))
        .map(|email| (email, 1))
        .collect();
    want.sort();
    assert_eq!(rows, want, "each write once, the culprit's none");
    blocker.close().await.unwrap();
    let report = store.verify(&tenant).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    store.close().await;
}

/// The last write of a batch of several commits it in its own script, so an addition there
/// that makes its customer's tail long enough to fold leaves the fold to the customer's next
/// addition (nothing may follow the commit); that next addition, alone, folds it. Every answer
/// holds every row, and `verify` finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fold_due_at_the_end_of_a_batch_waits_for_the_next_addition() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut blocker) = store_and_other_writer(&dir).await;
    let tenant = TenantId::default();
    let identify = |email: String, phone: &'static str| {
        let (store, tenant) = (store.clone(), tenant.clone());
        tokio::spawn(async move {
            let request = IdentifyRequest::parse(Some(&email), Some(phone)).unwrap();
            store.identify(&tenant, &request).await.unwrap()
        })
    };
    // 32 rows: 31 tail entries, one short of a fold (32 below 128 rows)
    for k in 0..32 {
        identify(format!("x{k}@fold.io"), "7400").await.unwrap();
    }
    let tail = async |conn: &mut sqlx::SqliteConnection| -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM identity_customer_tail")
            .fetch_one(conn)
            .await
            .unwrap()
    };
    assert_eq!(tail(&mut blocker).await, 31);
    run(&mut blocker, "BEGIN IMMEDIATE").await;
    // the first write's batch waits for the blocker; a new customer, then the 33rd row, queue
    // behind it into the next batch, in that order
    let first = identify("first@fold.io".into(), "7000");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other = identify("other@fold.io".into(), "7100");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last = identify("x32@fold.io".into(), "7400");
    tokio::time::sleep(Duration::from_millis(200)).await;
    run(&mut blocker, "COMMIT").await;
    first.await.unwrap();
    assert_eq!(other.await.unwrap().emails.len(), 1);
    assert_eq!(last.await.unwrap().emails.len(), 33);
    assert_eq!(tail(&mut blocker).await, 32, "the fold waits");
    let next = identify("x33@fold.io".into(), "7400").await.unwrap();
    assert_eq!(next.emails.len(), 34);
    assert_eq!(tail(&mut blocker).await, 0, "the next addition folds");
    blocker.close().await.unwrap();
    let report = store.verify(&tenant).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    store.close().await;
}
