//! Tests of a SQLite batch's transaction (`group.rs`, `writer.rs`): begun by the script that
//! reads its first write, which the driver does not count, so a batch that fails leaves it to
//! the next writer to roll back.

use std::time::Duration;

use sqlx::Connection;

use super::SqliteStore;
use crate::error::Error;
use crate::request::IdentifyRequest;
use crate::store::ContactStore;
use crate::tenant::TenantId;

/// A batch that fails on one write (a rule of the shop's own refuses its email) is rolled back
/// whole, its writes go alone and only the culprit fails; the writer then writes on, and
/// nothing of the batch was written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_batch_is_rolled_back_and_the_writer_writes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.db");
    let store = SqliteStore::open_path(&path).await.unwrap();
    store.migrate().await.unwrap();
    let tenant = TenantId::default();
    let url = format!("sqlite://{}", path.display());
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TRIGGER refuse_culprit BEFORE INSERT ON contact
         WHEN NEW.email = 'culprit@x.io'
         BEGIN SELECT RAISE(ABORT, 'refused by the shop'); END;",
    )
    .execute(&mut blocker)
    .await
    .unwrap();
    // another writer holds the database: the first write's batch waits for it, the rest queue
    // behind it into the next batch, the culprit in its middle
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
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
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
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
