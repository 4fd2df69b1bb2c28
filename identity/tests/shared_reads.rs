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
