//! Erase on every backend: what goes and what stays, the receipt (and erasing twice), history
//! without personal data, suppression, the errors that change nothing, that no erased value
//! remains in any table of a SQL store, and a storm mixing identifies, splits, erases and
//! blocks from two stores that ends with I1-I4 (I3: no unblocked value in two customers) in
//! SQL and a clean `verify`.

use identity_testkit as common;

use std::collections::BTreeSet;

use identity::{BlockedValue, ContactId, Error, Field, Identity, IgnoredReason};

/// Doc's customer: rows doc@/555, emmett@/555 and, through a merge, the customer of
/// marty@/777 (joined by doc@/777). Answers its ids, primary first.
async fn doc(id: &Identity) -> Vec<ContactId> {
    id.identify(Some("doc@x.io"), Some("555")).await.unwrap();
    id.identify(Some("emmett@x.io"), Some("555")).await.unwrap();
    id.identify(Some("marty@x.io"), Some("777")).await.unwrap();
    let c = id.identify(Some("doc@x.io"), Some("777")).await.unwrap();
    let mut ids = vec![c.primary_contact_id];
    ids.extend(c.secondary_contact_ids.iter().copied());
    ids
}

#[tokio::test]
async fn an_erase_deletes_the_customer_and_answers_a_receipt_twice() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-e").unwrap();
        let rows = doc(&id).await;
        let biff = id.identify(Some("biff@x.io"), Some("999")).await.unwrap();

        let receipt = id.erase(rows[2], false).await.unwrap();
        assert_eq!(receipt.customer_id, rows[0], "{backend}");
        let sorted: Vec<ContactId> = rows
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(receipt.contact_ids, sorted, "{backend}");
        assert!(!receipt.suppressed);
        let wire = serde_json::to_value(&receipt).unwrap();
        let keys: Vec<&str> = wire
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["contactIds", "customerId", "erasedAt", "suppressed"]);

        // only Biff is left; the erased values are new to the store
        let left = id.all_contacts().await.unwrap();
        assert_eq!(left.len(), 1, "{backend}");
        assert_eq!(left[0].id, biff.primary_contact_id);
        assert!(id.lookup(Some("doc@x.io"), None).await.unwrap().is_none());
        // erasing again, by any former row, answers the same receipt and changes nothing
        for again in &rows {
            assert_eq!(id.erase(*again, true).await.unwrap(), receipt, "{backend}");
        }
        // the erased customer's history keeps ids, kinds and times, and no value
        let h = id.history(rows[1]).await.unwrap();
        assert_eq!(h.customer, rows[0], "{backend}");
        let kinds: Vec<&str> = h.events.iter().map(|e| e.change.kind()).collect();
        assert_eq!(
            kinds,
            ["created", "created", "created", "merged", "erased"],
            "{backend}"
        );
        for e in &h.events {
            if let Some((email, phone)) = e.change.values() {
                assert!(email.is_none() && phone.is_none(), "{backend}: {e:?}");
            }
        }
        assert_eq!(h.events[4].change.erased(), Some(&sorted[..]));
        assert!(h.rows().is_empty(), "{backend}");
        let wire = serde_json::to_value(&h).unwrap();
        assert_eq!(
            wire["events"][4]["erasedIds"],
            serde_json::json!(sorted.iter().map(|i| i.get()).collect::<Vec<_>>())
        );
        // Biff is untouched; a returning Doc is a new customer
        let h = id.history(biff.primary_contact_id).await.unwrap();
        assert_eq!(h.events.len(), 1, "{backend}");
        let again = id.identify(Some("doc@x.io"), Some("555")).await.unwrap();
        assert!(!rows.contains(&again.primary_contact_id), "{backend}");
        assert!(again.ignored.is_empty());
        common::assert_invariants(&id.all_contacts().await.unwrap());
        common::assert_verified(&id).await;
        if let Some(db) = &store.db {
            common::assert_sql_invariants(&db.pool().await).await;
        }
    }
}

#[tokio::test]
async fn suppressed_values_are_ignored_as_blocked_ones_everywhere() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-x").unwrap();
        let second = store.second_handle().await.tenant("shop-x").unwrap();
        let rows = doc(&id).await;
        // the second handle has read the tenant's settings before the erase
        second.identify(Some("biff@x.io"), None).await.unwrap();
        let list = id.blocked_values().await.unwrap();

        let receipt = id.erase(rows[0], true).await.unwrap();
        assert!(receipt.suppressed, "{backend}");
        for handle in [&id, &second] {
            let c = handle
                .identify(Some("doc@x.io"), Some("123456"))
                .await
                .unwrap();
            assert_eq!(c.emails.len(), 0, "{backend}");
            assert_eq!(c.ignored.len(), 1, "{backend}");
            assert_eq!(c.ignored[0].field, Field::Email);
            assert_eq!(c.ignored[0].reason, IgnoredReason::Suppressed);
            let err = handle.identify(None, Some("777")).await.unwrap_err();
            assert!(
                matches!(&err, Error::BlockedValue { fields } if fields == &[Field::PhoneNumber]),
                "{backend}: {err:?}"
            );
            let c = handle
                .lookup(Some("marty@x.io"), Some("123456"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(c.ignored[0].reason, IgnoredReason::Suppressed, "{backend}");
        }
        // the other tenant's requests are their own
        let other = store.identity.tenant("shop-y").unwrap();
        assert!(
            other
                .identify(Some("doc@x.io"), None)
                .await
                .unwrap()
                .ignored
                .is_empty()
        );
        // the list shows entries, never the suppressed values; a change keeps them suppressed
        assert_eq!(id.blocked_values().await.unwrap(), list, "{backend}");
        id.block(&BlockedValue::phone("424242").unwrap())
            .await
            .unwrap();
        let c = id.identify(Some("emmett@x.io"), Some("99")).await.unwrap();
        assert_eq!(c.ignored[0].reason, IgnoredReason::Suppressed, "{backend}");
        common::assert_verified(&id).await;
        second.close().await;
    }
}

#[tokio::test]
async fn bad_erases_are_refused_and_change_nothing() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-b").unwrap();
        let rows = doc(&id).await;
        let other = store.identity.tenant("shop-c").unwrap();
        let stranger = other
            .identify(Some("z@x.io"), None)
            .await
            .unwrap()
            .primary_contact_id;
        let before = id.all_contacts().await.unwrap();
        for missing in [ContactId::new(999_999), stranger] {
            let err = id.erase(missing, true).await.unwrap_err();
            assert!(
                matches!(err, Error::NotFound { entity: "contact", id } if id == missing.get()),
                "{backend}: {err:?}"
            );
        }
        assert_eq!(id.all_contacts().await.unwrap(), before, "{backend}");
        assert_eq!(other.all_contacts().await.unwrap().len(), 1);
        assert!(id.lookup(Some("doc@x.io"), None).await.unwrap().is_some());
        assert_eq!(id.history(rows[0]).await.unwrap().events.len(), 4);
        // another tenant cannot erase this one's customer, nor read its receipt
        id.erase(rows[0], false).await.unwrap();
        assert!(matches!(
            other.erase(rows[0], false).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            other.history(rows[0]).await,
            Err(Error::NotFound { .. })
        ));
    }
}

/// Doc's values, spread over every place a SQL store keeps data: rows, records, identifiers,
/// events of his customer, of the customer a split took rows from (the merge that joined them
/// carried his phone), and a row soft-deleted outside the library.
const DOC_VALUES: [&str; 4] = ["doc@hill.test", "emmett@hill.test", "5550001", "5550002"];

#[tokio::test]
async fn no_erased_value_remains_in_any_table() {
    for store in common::every_backend().await {
        let Some(url) = store.url.clone() else {
            continue; // `memory:` cannot be opened twice to read its tables
        };
        let backend = store.identity.store().backend();
        let id = &store.identity;
        let marty = id.identify(Some("marty@x.io"), Some("777")).await.unwrap();
        let marty = marty.primary_contact_id;
        let doc = id
            .identify(Some("doc@hill.test"), Some("5550001"))
            .await
            .unwrap();
        // a wrong merge through Doc's phone (its event on Marty's customer carries it), two
        // more rows of Doc's, then a split that takes Doc's rows back out
        id.identify(Some("marty@x.io"), Some("5550001"))
            .await
            .unwrap();
        id.identify(Some("emmett@hill.test"), Some("5550001"))
            .await
            .unwrap();
        let c = id
            .identify(Some("emmett@hill.test"), Some("5550002"))
            .await
            .unwrap();
        assert_eq!(c.primary_contact_id, marty, "{backend}");
        let moved: Vec<ContactId> = c.secondary_contact_ids.iter().copied().collect();
        let split = id.split(marty, &moved, false).await.unwrap();
        let doc_customer = split.new_customer.primary_contact_id;
        assert_eq!(doc_customer, doc.primary_contact_id, "{backend}");
        // a row of Doc's soft-deleted outside the library
        let stray = id
            .identify(Some("doc@hill.test"), Some("5550003"))
            .await
            .unwrap();
        let stray_id = *stray.secondary_contact_ids.iter().max().unwrap();
        outside_soft_delete(&url, stray_id).await;

        let receipt = id.erase(doc_customer, true).await.unwrap();
        assert!(receipt.contact_ids.contains(&doc_customer), "{backend}");
        common::assert_verified(id).await;
        let marty_now = id.identify(Some("marty@x.io"), None).await.unwrap();
        assert_eq!(marty_now.primary_contact_id, marty);
        assert_eq!(marty_now.phone_numbers.len(), 1, "{backend}: {marty_now:?}");
        let dump = dump_every_table(&url).await;
        assert!(
            dump.contains("marty@x.io"),
            "{backend}: the dump reads the tables"
        );
        for value in DOC_VALUES.iter().chain(&["5550003"]) {
            let found: Vec<&String> = dump.iter().filter(|row| row.contains(value)).collect();
            assert!(found.is_empty(), "{backend}: {value} remains in {found:?}");
        }
    }
}

/// Marks row `id` deleted with SQL of the store's own, as another program would.
async fn outside_soft_delete(url: &str, id: ContactId) {
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query("UPDATE contact SET deleted_at = CURRENT_TIMESTAMP WHERE id = ?1")
            .bind(id.get())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query("UPDATE contact SET deleted_at = now() WHERE id = $1")
            .bind(id.get())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

/// Every row of every table of the database, each as one line of text.
async fn dump_every_table(url: &str) -> Dump {
    let mut rows = Vec::new();
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&pool)
                .await
                .unwrap();
        for table in tables {
            let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
                .bind(&table)
                .fetch_all(&pool)
                .await
                .unwrap();
            let row = columns
                .iter()
                .map(|c| format!("coalesce(quote(\"{c}\"), '')"))
                .collect::<Vec<_>>()
                .join(" || ',' || ");
            let sql = format!("SELECT '{table}: ' || {row} FROM \"{table}\"");
            let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .unwrap();
            rows.extend(lines);
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for table in tables {
            let sql = format!("SELECT '{table}: ' || t::text FROM \"{table}\" AS t");
            let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .unwrap();
            rows.extend(lines);
        }
        pool.close().await;
    }
    Dump(rows)
}

struct Dump(Vec<String>);

impl Dump {
    fn contains(&self, value: &str) -> bool {
        self.0.iter().any(|row| row.contains(value))
    }

    fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter()
    }
}

#[tokio::test]
async fn a_storm_of_identifies_splits_erases_and_blocks_keeps_every_invariant() {
    for store in common::every_backend().await {
        storm(store).await;
    }
}

#[tokio::test]
async fn the_storm_through_pgbouncer_in_transaction_mode_keeps_every_invariant() {
    storm(common::FreshStore::through_pgbouncer().await).await;
}

/// Six workers (two handles: two processes, in effect) identify over overlapping values while
/// three of them split, two erase and one blocks; then every invariant, in SQL too.
async fn storm(store: common::FreshStore) {
    {
        let backend = store.identity.store().backend();
        let second = store.second_handle().await;
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..6u64 {
            let id = store.handle_for(&second, worker);
            tasks.spawn(async move {
                let (mut splits, mut erasures) = (0, Vec::new());
                for (n, request) in common::Workload::requests(worker + 1, 10, 80, 30)
                    .into_iter()
                    .enumerate()
                {
                    let answer = match id.identify_request(&request).await {
                        Ok(answer) => answer,
                        // every value of the request was blocked or suppressed
                        Err(Error::BlockedValue { .. }) => continue,
                        Err(e) => panic!("identify: {}", e.chain()),
                    };
                    if worker < 3 && n % 7 == 6 && !answer.secondary_contact_ids.is_empty() {
                        let moved: Vec<ContactId> = answer
                            .secondary_contact_ids
                            .iter()
                            .copied()
                            .step_by(2)
                            .collect();
                        match id.split(answer.primary_contact_id, &moved, true).await {
                            Ok(_) => splits += 1,
                            Err(Error::InvalidInput { .. } | Error::NotFound { .. }) => {}
                            Err(e) => panic!("split: {e}"),
                        }
                    }
                    if (3..5).contains(&worker) && n % 9 == 8 {
                        // erase the customer just answered (maybe changed or erased meanwhile)
                        let suppress = n % 2 == 0;
                        match id.erase(answer.primary_contact_id, suppress).await {
                            Ok(receipt) => erasures.push(receipt),
                            Err(Error::NotFound { .. }) => {}
                            Err(e) => panic!("erase: {e}"),
                        }
                    }
                    if worker == 5 && n % 20 == 19 {
                        let value = format!("{}555{:03}", n / 30, n % 10);
                        id.block(&BlockedValue::phone(&value).unwrap())
                            .await
                            .unwrap();
                    }
                }
                (splits, erasures)
            });
        }
        let results = tasks.join_all().await;
        let splits: usize = results.iter().map(|(s, _)| s).sum();
        let erasures: Vec<&identity::Erasure> = results.iter().flat_map(|(_, e)| e).collect();
        assert!(
            splits > 0 && !erasures.is_empty(),
            "{backend}: {splits} splits, {} erasures",
            erasures.len()
        );
        let rows = common::assert_sound_after_storm(&store).await;
        let visible: BTreeSet<ContactId> = rows.iter().map(|c| c.id).collect();
        for receipt in &erasures {
            assert!(
                receipt.contact_ids.iter().all(|id| !visible.contains(id)),
                "{backend}: an erased row is visible: {receipt:?}"
            );
        }
        second.close().await;
    }
}
