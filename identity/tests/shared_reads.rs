//! Shared reads on PostgreSQL (`store/postgres/reads.rs`): the concurrent reads of one tenant
//! share round trips (one call of `identity_read_batch` per batch), and each answer is the one
//! its request gets alone, whatever the store holds for the others in its batch.

use identity_testkit as common;

use identity::{ConnectOptions, ConsolidatedContact, Identity};
use identity_testkit::TestDb;
use identity_testkit::wire::RoundTripCounter;

const CUSTOMERS: usize = 48;

fn email(k: usize) -> String {
    format!("c{k}@shared.io")
}

fn phone(k: usize) -> String {
    format!("{}", 7_000 + k)
}

/// Every customer's known checkout at once, each its own task; the answers in order.
async fn all_at_once(identity: &Identity) -> Vec<ConsolidatedContact> {
    let calls: Vec<_> = (0..CUSTOMERS)
        .map(|k| {
            let identity = identity.clone();
            tokio::spawn(async move {
                identity
                    .identify(Some(&email(k)), Some(&phone(k)))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_known_checkouts_share_round_trips_and_answer_as_alone() {
    let db = TestDb::create().await;
    let seeder = identity::connect(db.url()).await.unwrap(); // migrates; another process
    let mut alone = Vec::new();
    for k in 0..CUSTOMERS {
        // a few rows each, some customers sharing nothing with the others
        for row in 0..=(k % 3) {
            let extra = format!("c{k}-{row}@shared.io");
            seeder
                .identify(Some(&extra), Some(&phone(k)))
                .await
                .unwrap();
        }
        alone.push(
            seeder
                .identify(Some(&email(k)), Some(&phone(k)))
                .await
                .unwrap(),
        );
    }

    let counter = RoundTripCounter::start(db.url()).await;
    // two connections: at most two batches in flight, so 48 reads at once must share
    let two = ConnectOptions::default().max_connections(2);
    let identity = Identity::connect_with(&counter.url(db.url()), &two)
        .await
        .unwrap();
    // the tenant's settings learned first (else each request asks for them)
    identity
        .identify(Some(&email(0)), Some(&phone(0)))
        .await
        .unwrap();
    // the first pass reads the records in full, the second holds them all
    for pass in ["nothing held", "every record held"] {
        counter.take();
        let answers = all_at_once(&identity).await;
        let trips = counter.take();
        assert_eq!(answers, alone, "{pass}: each answer as alone");
        assert!(
            trips <= CUSTOMERS as u64 / 2,
            "{pass}: {CUSTOMERS} known checkouts at once took {trips} round trips"
        );
    }
    common::assert_verified(&identity).await;
    identity.close().await;
    seeder.close().await;
    common::assert_sql_invariants(&db.pool().await).await;
}

/// Half the customers changed by another process since this store read them: a batch holding
/// some records and not others sends each request what it lacks, and the changed ones in full
/// or as their tails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_mixing_held_and_changed_records_answers_each_as_it_is_now() {
    let db = TestDb::create().await;
    let other = identity::connect(db.url()).await.unwrap();
    for k in 0..CUSTOMERS {
        other
            .identify(Some(&email(k)), Some(&phone(k)))
            .await
            .unwrap();
    }
    let two = ConnectOptions::default().max_connections(2);
    let identity = Identity::connect_with(db.url(), &two).await.unwrap();
    all_at_once(&identity).await; // holds every record now
    for k in (0..CUSTOMERS).step_by(2) {
        // one row for the even customers, 40 for every sixth (past a new base)
        let rows = if k % 6 == 0 { 40 } else { 1 };
        for row in 0..rows {
            let added = format!("c{k}-later{row}@shared.io");
            other.identify(Some(&added), Some(&phone(k))).await.unwrap();
        }
    }
    // two merges, elsewhere too: 1 absorbs 3, 5 absorbs 7 (by the older primary)
    other
        .identify(Some(&email(1)), Some(&phone(3)))
        .await
        .unwrap();
    other
        .identify(Some(&email(5)), Some(&phone(7)))
        .await
        .unwrap();
    let mut now = Vec::new();
    for k in 0..CUSTOMERS {
        now.push(
            other
                .lookup(Some(&email(k)), Some(&phone(k)))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let answers = all_at_once(&identity).await;
    for (k, (answer, expected)) in answers.iter().zip(&now).enumerate() {
        assert_eq!(answer, expected, "customer {k}");
    }
    assert_eq!(answers[6].emails.len(), 41);
    assert_eq!(answers[3].primary_contact_id, answers[1].primary_contact_id);
    common::assert_verified(&identity).await;
    identity.close().await;
    other.close().await;
    let admin = db.pool().await;
    common::assert_sql_invariants(&admin).await;
}

/// Callers that stop waiting (a request timeout drops the call) may be the ones reading a batch
/// for others: the others then read again, and every one of them gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_cancelled_mid_batch_fail_no_other_read() {
    let db = TestDb::create().await;
    let two = ConnectOptions::default().max_connections(2);
    let identity = Identity::connect_with(db.url(), &two).await.unwrap();
    let mut alone = Vec::new();
    for k in 0..CUSTOMERS {
        alone.push(
            identity
                .identify(Some(&email(k)), Some(&phone(k)))
                .await
                .unwrap(),
        );
    }
    let mut cancelled = 0;
    for round in 0..20u64 {
        let calls: Vec<_> = (0..CUSTOMERS)
            .map(|k| {
                let identity = identity.clone();
                tokio::spawn(async move {
                    let (email, phone) = (email(k), phone(k));
                    let call = identity.identify(Some(&email), Some(&phone));
                    if k % 3 == 0 {
                        // cut off within the first round trips, at a different point each round
                        let after = std::time::Duration::from_micros(50 * (round + k as u64 % 7));
                        tokio::time::timeout(after, call).await.ok()
                    } else {
                        Some(call.await)
                    }
                })
            })
            .collect();
        for (k, call) in calls.into_iter().enumerate() {
            match call.await.unwrap() {
                Some(answer) => assert_eq!(answer.unwrap(), alone[k], "customer {k}"),
                None => cancelled += 1,
            }
        }
    }
    assert!(
        cancelled > 0,
        "no call was cut off: the test proves nothing"
    );
    common::assert_verified(&identity).await;
    identity.close().await;
    common::assert_sql_invariants(&db.pool().await).await;
}

/// One row of `identity_read_batch`: each block's version and its lists (base and tail).
type BatchRow = (
    Option<i64>,
    Option<Vec<String>>,
    Option<i64>,
    Option<Vec<String>>,
);

/// A batch whose requests meet the same customer sends that customer's lists once: the first
/// row that meets it carries them, every later row names its version (the caller decodes the
/// rows in order and holds it by then). Before, a large customer's regulars read together
/// after it changed each got its lists in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_sends_each_record_once() {
    const ROWS: usize = 40;
    let db = TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    for row in 0..ROWS {
        identity
            .identify(Some(&format!("r{row}@once.io")), Some("5550100"))
            .await
            .unwrap();
    }
    identity
        .identify(Some("other@once.io"), Some("5550199"))
        .await
        .unwrap();
    // requests 0-3 meet the large customer (by its email, its phone, or both), 4 the other
    // customer, 5 nobody, 6 the large one again and the other one (two records in one row)
    let emails = [
        Some("r0@once.io"),
        Some("r7@once.io"),
        None,
        Some("r39@once.io"),
        Some("other@once.io"),
        Some("nobody@once.io"),
        Some("r3@once.io"),
    ];
    let phones = [
        Some("5550100"),
        None,
        Some("5550100"),
        Some("5550100"),
        None,
        None,
        Some("5550199"),
    ];
    let pool = db.pool().await;
    let rows: Vec<BatchRow> = sqlx::query_as(
        "SELECT e_version, e_emails || e_tail_emails, p_version, p_emails || p_tail_emails \
             FROM identity_read_batch('default', $1, $2, '{}', '{}')",
    )
    .bind(emails.map(|e| e.map(str::to_owned)).to_vec())
    .bind(phones.map(|p| p.map(str::to_owned)).to_vec())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), emails.len(), "one row per request");
    let large = rows[0].0.expect("the large customer's version");
    assert_eq!(
        rows[0].1.as_ref().map(Vec::len),
        Some(ROWS),
        "the first row meeting the large customer carries its lists"
    );
    for (i, row) in rows.iter().enumerate().skip(1).take(3) {
        // by its email (first block), or by its phone alone (second block)
        let version = row.0.or(row.2);
        assert_eq!(version, Some(large), "request {i} meets the large customer");
        assert_eq!(
            (&row.1, &row.3),
            (&None, &None),
            "request {i}: lists sent already"
        );
    }
    let other = rows[4].0.expect("the other customer's version");
    assert_eq!(
        rows[4].1.as_ref().map(Vec::len),
        Some(1),
        "first meeting: sent"
    );
    assert_eq!(rows[5].0, None, "nobody");
    assert_eq!((rows[6].0, rows[6].2), (Some(large), Some(other)));
    assert_eq!(
        (&rows[6].1, &rows[6].3),
        (&None, &None),
        "both sent earlier"
    );
    // through the store, from a handle that holds nothing: the same requests at once answer as
    // alone (whether they share a batch depends on timing; the rows above are the contract)
    let fresh = identity::connect(db.url()).await.unwrap();
    let answers: Vec<_> = lookups_at_once(&fresh, &emails, &phones).await;
    for (i, answer) in answers.iter().enumerate() {
        let expected = identity.lookup(emails[i], phones[i]).await.unwrap();
        assert_eq!(answer, &expected, "request {i}");
    }
    common::assert_verified(&fresh).await;
    fresh.close().await;
    identity.close().await;
    common::assert_sql_invariants(&pool).await;
}

/// Lookups of every request at once, each its own task; the answers in order.
async fn lookups_at_once(
    identity: &Identity,
    emails: &[Option<&str>],
    phones: &[Option<&str>],
) -> Vec<Option<ConsolidatedContact>> {
    let calls: Vec<_> = emails
        .iter()
        .zip(phones)
        .map(|(e, p)| {
            let (identity, e, p) = (identity.clone(), e.map(str::to_owned), p.map(str::to_owned));
            tokio::spawn(async move { identity.lookup(e.as_deref(), p.as_deref()).await.unwrap() })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}
