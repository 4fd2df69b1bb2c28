//! What an erase leaves in the database's own files. SQLite: once `erase` returns, no byte of
//! the main file, the write-ahead log or its index holds an erased email or phone number (free
//! pages, freed cells and old log frames included), on a database large enough that the values
//! share pages with other rows and their history, under concurrent identifies and reads; and
//! after a clean close too. PostgreSQL: no table of the database (rows, identifiers, records,
//! history, receipts) holds an erased value once `erase` returns (its dead tuples are not
//! promised away: see docs/operations.md).

use identity_testkit as common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::bytes::{count_in_sqlite, counts_in_sqlite, occurrences, traces};
use identity::import::ImportOptions;
use identity::{ContactId, Identity};

/// Customers imported before the test's own rows: enough that every table spans many pages.
const IMPORTED: u64 = 3_000;

/// The customers erased, each with a few rows, a merge and history events carrying its values.
const TARGETS: u64 = 5;

/// Target `k`'s values: three emails and three phone numbers no other row shares (and none is
/// a substring of another value of the test).
fn target_values(k: u64) -> [String; 6] {
    [
        format!("gone-{k}-a@erased.test"),
        format!("gone-{k}-b@erased.test"),
        format!("gone-{k}-c@erased.test"),
        format!("+4470099{k}001"),
        format!("+4470099{k}002"),
        format!("+4470099{k}003"),
    ]
}

/// Another customer's values: `keep-{n}@kept.test`, `31{n:08}`.
fn other(n: u64) -> (String, String) {
    (format!("keep-{n}@kept.test"), format!("31{n:08}"))
}

/// Fills the default tenant: [`IMPORTED`] customers by import (one `existing` event each), then
/// the targets' rows interleaved with other customers' identifies so that they share pages:
/// each target gets rows a/1, b/1, a/2 and, through a merge, c/3. Answers each target's
/// primary.
async fn fill(id: &Identity) -> Vec<ContactId> {
    let records: Vec<serde_json::Value> = (0..IMPORTED)
        .map(|n| {
            let (email, phone) = other(n);
            serde_json::json!({"email": email, "phoneNumber": phone, "at": 1_600_000_000 + n})
        })
        .collect();
    id.import_records(&records, ImportOptions::default())
        .await
        .unwrap();
    let mut next = IMPORTED;
    let mut filler = async |count: u64| {
        for _ in 0..count {
            let (email, phone) = other(next);
            id.identify(Some(&email), Some(&phone)).await.unwrap();
            next += 1;
        }
    };
    let mut primaries = Vec::new();
    for k in 0..TARGETS {
        let [a, b, c, one, two, three] = target_values(k);
        let first = id.identify(Some(&a), Some(&one)).await.unwrap();
        primaries.push(first.primary_contact_id);
        filler(40).await;
        id.identify(Some(&b), Some(&one)).await.unwrap();
        filler(40).await;
        id.identify(Some(&a), Some(&two)).await.unwrap();
        id.identify(Some(&c), Some(&three)).await.unwrap();
        filler(40).await;
        let merged = id.identify(Some(&a), Some(&three)).await.unwrap();
        assert_eq!(merged.emails.len(), 3);
    }
    filler(200).await;
    primaries
}

/// Identifies (new customers and returning ones) and lookups, until `stop`: the traffic an
/// erase runs under. Answers how many calls it made.
fn traffic(id: &Identity, worker: u64, stop: &Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let (id, stop) = (id.clone(), Arc::clone(stop));
    tokio::spawn(async move {
        let mut calls = 0;
        while !stop.load(Ordering::Relaxed) {
            let (email, phone) = other(100_000 + worker * 100_000 + calls);
            id.identify(Some(&email), Some(&phone)).await.unwrap();
            let (known, _) = other(calls * 7 % IMPORTED);
            id.lookup(Some(&known), None).await.unwrap().unwrap();
            calls += 1;
        }
        calls
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_erased_value_remains_in_sqlite_files_once_erase_returns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("traces.db");
    let id = identity::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let primaries = fill(&id).await;
    let erased: Vec<String> = (0..TARGETS).flat_map(target_values).collect();
    let kept = [other(17).0, other(IMPORTED + 5).0, other(IMPORTED + 5).1];
    // the scan finds what is there: every value is in the files before the erase
    let values: Vec<&str> = erased.iter().chain(&kept).map(String::as_str).collect();
    for (value, n) in values.iter().zip(counts_in_sqlite(&db, &values)) {
        assert!(n > 0, "{value} is not in the files before the erase");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3).map(|w| traffic(&id, w, &stop)).collect();
    for (k, primary) in primaries.iter().enumerate() {
        let receipt = id.erase(*primary, k % 2 == 0).await.unwrap();
        assert_eq!(receipt.contact_ids.len(), 4);
    }
    let found = traces(&db, &erased);
    assert!(found.is_empty(), "after erase returned: {found:#?}");
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        assert!(
            worker.await.unwrap() > 0,
            "the traffic ran during the erases"
        );
    }
    let found = traces(&db, &erased);
    assert!(found.is_empty(), "after the traffic stopped: {found:#?}");
    for value in &kept {
        assert!(
            count_in_sqlite(&db, value) > 0,
            "{value} was kept, and the scan must find it"
        );
    }
    common::assert_verified(&id).await;
    id.close().await;

    let found = traces(&db, &erased);
    assert!(found.is_empty(), "after a clean close: {found:#?}");
    assert!(
        occurrences(&db, &kept[0]) > 0,
        "the main file keeps the rest"
    );
}

#[tokio::test]
async fn an_erase_a_reader_keeps_from_the_files_fails_and_erasing_again_clears_them() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("held.db");
    let url = format!("sqlite://{}", db.display());
    let id = identity::connect(&url).await.unwrap();
    let [a, .., one, _, _] = target_values(9);
    let doc = id.identify(Some(&a), Some(&one)).await.unwrap();
    id.identify(Some("kept@kept.test"), None).await.unwrap();
    // another program's read transaction, open across the erase, uses the write-ahead log
    let mut reader = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM contact")
        .fetch_one(&mut reader)
        .await
        .unwrap();
    assert_eq!(rows, 2);

    let err = id.erase(doc.primary_contact_id, false).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        err.chain().contains("erasing again clears"),
        "{}",
        err.chain()
    );
    // the erase committed: the tables no longer hold the customer
    assert!(id.lookup(Some(&a), None).await.unwrap().is_none());
    assert!(
        !traces(&db, &[a.clone(), one.clone()]).is_empty(),
        "the log still holds them"
    );

    sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
    let receipt = id.erase(doc.primary_contact_id, false).await.unwrap();
    assert_eq!(receipt.customer_id, doc.primary_contact_id);
    let found = traces(&db, &[a, one]);
    assert!(found.is_empty(), "after erasing again: {found:#?}");
    reader.close().await.unwrap();
    id.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_erased_value_remains_in_any_postgres_table_once_erase_returns() {
    let db = common::TestDb::create().await;
    let id = identity::connect(db.url()).await.unwrap();
    let primaries = fill(&id).await;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3).map(|w| traffic(&id, w, &stop)).collect();
    let pool = db.pool().await;
    let mut erased = Vec::new();
    for (k, primary) in (0..TARGETS).zip(&primaries) {
        id.erase(*primary, k % 2 == 0).await.unwrap();
        erased.extend(target_values(k));
        // at commit, before the traffic stops: no table of any schema holds the values
        let found = common::tables_holding(&pool, &erased).await;
        assert!(found.is_empty(), "after erase {k} returned: {found:#?}");
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        assert!(
            worker.await.unwrap() > 0,
            "the traffic ran during the erases"
        );
    }
    let kept = [other(17).0, other(IMPORTED + 5).1];
    let found = common::tables_holding(&pool, &kept).await;
    for value in &kept {
        let contact = format!("{value} in public.contact");
        assert!(
            found.contains(&contact),
            "the scan finds kept {value}: {found:#?}"
        );
    }
    common::assert_verified(&id).await;
    id.close().await;
}
