//! One customer grown row by row past many folds of its record (SQLite and PostgreSQL append a
//! row to a tail and fold it into the record every 32nd; SQLite, past 128 rows, once the tail
//! is a quarter of the customer's rows), by two handles with their own
//! held records (two processes, in effect) and by concurrent writers: every answer lists every
//! value in order, and the store verifies clean.

use identity_testkit as common;

use identity::Identity;

/// Adds rows `range` to the customer of `phone`, each with a new email; checks each answer.
async fn grow(identity: &Identity, phone: &str, range: std::ops::Range<u32>) {
    for k in range {
        let email = format!("row{k}@big.test");
        let answer = identity.identify(Some(&email), Some(phone)).await.unwrap();
        assert_eq!(answer.emails.len(), k as usize + 1, "after row {k}");
        assert_eq!(
            answer.emails[k as usize].as_str(),
            email,
            "the newest email is last"
        );
        assert_eq!(answer.secondary_contact_ids.len(), k as usize);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_grown_past_many_folds_by_two_handles_stays_whole() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let second = store.second_handle().await;
        let phone = "5550001000";
        // in turns of 21 rows, so that folds fall to either handle, mid-turn
        for turn in 0..8u32 {
            let handle = if turn % 2 == 0 {
                &store.identity
            } else {
                &second
            };
            grow(handle, phone, turn * 21..(turn + 1) * 21).await;
        }
        // each handle reads the other's last writes
        for handle in [&store.identity, &second] {
            let answer = handle.lookup(None, Some(phone)).await.unwrap().unwrap();
            let emails: Vec<String> = answer.emails.iter().map(|e| e.to_string()).collect();
            let expected: Vec<String> = (0..168).map(|k| format!("row{k}@big.test")).collect();
            assert_eq!(emails, expected, "{backend}");
        }
        common::assert_sound_after_storm(&store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_one_large_customer_lose_no_row() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let second = store.second_handle().await;
        let phone = "5550002000";
        grow(&store.identity, phone, 0..40).await;
        let mut writers = tokio::task::JoinSet::new();
        for worker in 0..6u64 {
            let identity = store.handle_for(&second, worker);
            writers.spawn(async move {
                for k in 0..25 {
                    let email = format!("w{worker}.{k}@big.test");
                    // the customer's phone, or a new phone with a known email (both add rows)
                    identity.identify(Some(&email), Some(phone)).await.unwrap();
                    identity
                        .identify(Some(&email), Some(&format!("9{worker}{k:03}")))
                        .await
                        .unwrap();
                }
            });
        }
        while let Some(done) = writers.join_next().await {
            done.unwrap();
        }
        let answer = second.lookup(None, Some(phone)).await.unwrap().unwrap();
        assert_eq!(answer.emails.len(), 40 + 6 * 25, "{backend}");
        assert_eq!(answer.phone_numbers.len(), 1 + 6 * 25, "{backend}");
        assert_eq!(
            answer.secondary_contact_ids.len(),
            39 + 2 * 6 * 25,
            "{backend}"
        );
        let rows = common::assert_sound_after_storm(&store).await;
        assert_eq!(rows.len(), 40 + 2 * 6 * 25, "{backend}");
    }
}
