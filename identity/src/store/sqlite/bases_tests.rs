//! Tests of the decoded bases a SQLite store holds (`bases.rs`): what a write holds is what the
//! database gives back, and a held record takes only the tail entries it lacks (`read.rs`).

use super::tails::FOLD_AT;
use super::{SqliteStore, records};
use crate::customer::CustomerRecord;
use crate::request::IdentifyRequest;
use crate::store::ContactStore;

use crate::tenant::TenantId;

/// Identifies `email` and `phone` in the default tenant.
async fn identify(store: &SqliteStore, email: &str, phone: &str) {
    let request = IdentifyRequest::parse(Some(email), Some(phone)).unwrap();
    store
        .identify(&TenantId::default(), &request)
        .await
        .unwrap();
}

/// The record of the customer whose primary is `primary`, as decoded from the database,
/// and its base number.
async fn stored(store: &SqliteStore, primary: i64) -> (i64, CustomerRecord) {
    let mut conn = store.pool.acquire().await.unwrap();
    let tenant = TenantId::default();
    let (_, records, _, _) = records::everything(&mut conn, &tenant).await.unwrap();
    let record = records
        .into_iter()
        .find(|r| r.primary.get() == primary)
        .unwrap();
    let seq: i64 = sqlx::query_scalar(
        "SELECT base_seq FROM identity_customer WHERE tenant_id = ?1 AND primary_id = ?2",
    )
    .bind(tenant.as_str())
    .bind(primary)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    (seq, record)
}

/// The record held under the customer's current base right after the write that wrote it
/// (a new customer, a row added to its tail, a fold, a merge) is exactly the one the database
/// gives back: no read between them could have fetched it, so it is the writer's own,
/// published at commit.
#[tokio::test]
async fn a_written_base_is_held_as_the_database_decodes_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_path(dir.path().join("held.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let check = |what: &'static str, primary: i64| {
        let store = store.clone();
        async move {
            let (seq, decoded) = stored(&store, primary).await;
            let held = store.bases.get(decoded.primary, seq);
            assert_eq!(held.as_deref(), Some(&decoded), "{what}");
        }
    };
    identify(&store, "first@held.test", "5550100").await;
    check("a new customer", 1).await;
    // rows 2..=FOLD_AT+1 go to the tail; the last of them folds it into a new base
    for k in 0..FOLD_AT {
        identify(&store, &format!("row{k}@held.test"), "5550100").await;
        if k < 2 {
            check("a row added to the tail", 1).await;
        }
    }
    check("a fold", 1).await;
    identify(&store, "second@held.test", "5550200").await;
    identify(&store, "first@held.test", "5550200").await;
    check("a merge", 1).await;
    let (_, merged) = stored(&store, 1).await;
    assert_eq!(merged.phone_numbers.len(), 2);
    assert_eq!(
        merged.secondary_ids.len(),
        usize::try_from(FOLD_AT).unwrap() + 1
    );
}

/// A large customer's tail grows past 32 entries (a quarter of its rows), another handle
/// (another process, in effect) adds to it while this one holds the record, and this one's
/// next read fetches only what it lacks: its answer and the record it then holds are the
/// database's.
#[tokio::test]
async fn a_held_record_takes_the_long_tail_entries_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tail.db");
    let (this, other) = (
        SqliteStore::open_path(&path).await.unwrap(),
        SqliteStore::open_path(&path).await.unwrap(),
    );
    this.migrate().await.unwrap();
    // 230 rows: the tail was folded at the 227th, so 3 entries long
    for k in 0..230 {
        identify(&this, &format!("row{k}@tail.test"), "5550300").await;
    }
    let known = IdentifyRequest::parse(Some("row0@tail.test"), None).unwrap();
    let tenant = TenantId::default();
    this.lookup(&tenant, &known).await.unwrap().unwrap();
    // 70 more by the other handle: no fold before the 302nd row
    for k in 230..300 {
        identify(&other, &format!("row{k}@tail.test"), "5550300").await;
    }
    let tail: i64 = sqlx::query_scalar("SELECT count(*) FROM identity_customer_tail")
        .fetch_one(&this.pool)
        .await
        .unwrap();
    assert_eq!(tail, 73, "the tail's entries");
    let answer = this.lookup(&tenant, &known).await.unwrap().unwrap();
    let (seq, decoded) = stored(&this, 1).await;
    assert_eq!(answer, decoded.answer());
    assert_eq!(answer.emails.len(), 300);
    assert_eq!(
        this.bases.get(decoded.primary, seq).as_deref(),
        Some(&decoded)
    );
}

/// An import draws a base number for the records it writes, as every whole write does: a
/// record imported under the number 0 twice (the tenant emptied and imported again) would let
/// a process go on answering what it held of the first.
#[tokio::test]
async fn imported_records_take_a_base_number_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_path(dir.path().join("import.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    identify(&store, "before@import.test", "5550400").await;
    let at = time::OffsetDateTime::now_utc();
    let checkouts = (0..3)
        .map(|k| {
            let email = format!("imported{k}@import.test");
            let request = IdentifyRequest::parse(Some(&email), None).unwrap();
            crate::import::Checkout::new(request, at, k)
        })
        .collect();
    let other = TenantId::parse("imported").unwrap();
    let batch = crate::import::ImportBatch::Checkouts(checkouts);
    store
        .import(&other, batch, crate::import::ImportOptions::default())
        .await
        .unwrap();
    let seqs: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT base_seq FROM identity_customer WHERE tenant_id = 'imported'",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    let before: i64 = sqlx::query_scalar(
        "SELECT base_seq FROM identity_customer WHERE tenant_id = ?1 AND primary_id = 1",
    )
    .bind(TenantId::default().as_str())
    .fetch_one(&store.pool)
    .await
    .unwrap();
    assert_eq!(seqs.len(), 1, "one number for the batch: {seqs:?}");
    assert!(seqs[0] > before, "{seqs:?} after {before}");
}

/// A join is written as a tail entry of the kept record carrying the absorbed customer's
/// lists (`tails.rs`), not as the merged record whole: the kept base stays, and another handle
/// (holding nothing) reads the entry back as the merge itself, rows of the two customers
/// interleaved by id in the answer's order; what this handle holds is what the database gives.
#[tokio::test]
async fn a_merge_is_a_tail_entry_read_back_as_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("merge.db");
    let (this, other) = (
        SqliteStore::open_path(&path).await.unwrap(),
        SqliteStore::open_path(&path).await.unwrap(),
    );
    this.migrate().await.unwrap();
    // rows 1 and 3 are the kept customer's, 2 and 4 the absorbed one's
    identify(&this, "a@merge.test", "5550500").await;
    identify(&this, "b@merge.test", "5550600").await;
    identify(&this, "a2@merge.test", "5550500").await;
    identify(&this, "b2@merge.test", "5550600").await;
    let (seq_before, _) = stored(&this, 1).await;
    let join = IdentifyRequest::parse(Some("a@merge.test"), Some("5550600")).unwrap();
    let tenant = TenantId::default();
    let answer = this.identify(&tenant, &join).await.unwrap();
    let emails: Vec<&str> = answer.emails.iter().map(|e| e.as_str()).collect();
    assert_eq!(
        emails,
        [
            "a@merge.test",
            "b@merge.test",
            "a2@merge.test",
            "b2@merge.test"
        ]
    );
    let entries: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT secondary_id, absorbed FROM identity_customer_tail ORDER BY seq")
            .fetch_all(&this.pool)
            .await
            .unwrap();
    let (absorbed_primary, lists) = entries.last().unwrap();
    assert_eq!(*absorbed_primary, 2, "the entry names the absorbed primary");
    assert!(lists.is_some(), "and carries its lists");
    let (seq, decoded) = stored(&this, 1).await;
    assert_eq!(seq, seq_before, "the kept base is not written again");
    assert_eq!(decoded.answer(), answer);
    assert_eq!(
        this.bases.get(decoded.primary, seq).as_deref(),
        Some(&decoded)
    );
    let by_phone = IdentifyRequest::parse(None, Some("5550500")).unwrap();
    let read = other.lookup(&tenant, &by_phone).await.unwrap().unwrap();
    assert_eq!(
        read, answer,
        "another handle applies the entry as the merge"
    );
    assert!(this.verify(&tenant).await.unwrap().is_clean());
}
