//! Importing the tables of the Node services people replace (Prisma, TypeORM, Sequelize
//! layouts) from a real PostgreSQL database: every row keeps its id, every id still names its
//! person (or the report says what it names now), their race damage (duplicate primaries,
//! chains, one phone in two customers) is repaired and told apart from merges that
//! normalization makes, rows they link stay one customer, deleted rows stay out with their ids
//! reserved; and a store notices such a table beside it while it is empty.

use std::collections::BTreeMap;

use identity_testkit as common;

use common::legacy::{Layout, MESSY, MESSY_PEOPLE, RACE_DAMAGED_RESULT, messy_table, race_damaged};
use identity::import::{
    Checkout, CustomerChange, ImportOptions, OnError, Preset, RowFate, TableOutcome, TableSource,
    read_table,
};
use identity::{ContactId, ContactStore, Error, Field, IdentifyRequest};

fn preset(layout: Layout) -> Preset {
    Preset::parse(layout.preset()).unwrap()
}

#[tokio::test]
async fn every_preset_table_imports_repaired_on_every_backend() {
    for layout in Layout::ALL {
        let source = race_damaged(layout).await;
        let read = read_table(source.url(), &preset(layout).source())
            .await
            .unwrap();
        assert_eq!(
            (read.rows.len(), read.visible),
            (14, 13),
            "{layout:?}: the deleted row is read, marked"
        );
        assert!(read.has_links && read.has_deleted_at);
        for store in common::every_backend().await {
            let backend = store.identity.store().backend();
            let report = store
                .identity
                .import_table(read.rows.clone(), ImportOptions::default())
                .await
                .unwrap();
            let table = report.table.as_ref().unwrap();
            assert_eq!(
                (
                    report.rows,
                    report.customers,
                    table.changed(CustomerChange::Duplicate),
                    table.repaired_chains
                ),
                RACE_DAMAGED_RESULT,
                "{layout:?} on {backend}"
            );
            assert_eq!(table.changed(CustomerChange::Normalized), 0);
            let rows = store.identity.all_contacts().await.unwrap();
            assert!(
                rows.iter()
                    .all(|c| !c.email.as_ref().unwrap().as_str().starts_with("gone@"))
            );
            // the merge the old service made without a row is kept, its chain flattened
            let doc = store
                .identity
                .lookup(Some("marty@hillvalley.edu"), None)
                .await
                .unwrap()
                .unwrap();
            let emails: Vec<&str> = doc.emails.iter().map(|e| e.as_str()).collect();
            assert_eq!(
                emails,
                [
                    "doc@hillvalley.edu",
                    "emmett@hillvalley.edu",
                    "marty@hillvalley.edu"
                ]
            );
            // five primaries of george are one customer led by the oldest, biff with them
            let george = store
                .identity
                .lookup(Some("biff@hillvalley.edu"), None)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(george.emails.len(), 2);
            assert_eq!(george.secondary_contact_ids.len(), 1);
            // one phone in two customers is one customer now
            let alice = store
                .identity
                .lookup(None, Some("42"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(alice.emails.len(), 2);
            // every row keeps the table's id; the oldest of each customer leads
            assert_eq!(doc.primary_contact_id, ContactId::new(9));
            assert_eq!(george.primary_contact_id, ContactId::new(3));
            assert_eq!(alice.primary_contact_id, ContactId::new(13));
            common::assert_sound_after_storm(&store).await;
        }
    }
}

/// What an old id names now, by the report: its listed primary, else the customer its own row
/// is in (which must be the customer of its table primary: unlisted ids keep their meaning).
fn resolve(
    table: &TableOutcome,
    rows: &BTreeMap<i64, identity::Contact>,
    id: i32,
) -> Option<ContactId> {
    match table.moved_rows.iter().find(|m| m.id == id as u64) {
        Some(moved) => {
            if let Some(row) = moved.contact_id {
                assert_eq!(Some(rows[&row.get()].root()), moved.primary_contact_id);
            }
            moved.primary_contact_id
        }
        None => {
            let row = rows
                .get(&i64::from(id))
                .unwrap_or_else(|| panic!("unlisted id {id} is a row"));
            Some(row.root())
        }
    }
}

#[tokio::test]
async fn every_id_of_a_messy_table_still_names_its_person_on_every_backend() {
    for layout in [Layout::Prisma, Layout::TypeOrm] {
        let source = messy_table(layout).await;
        let read = read_table(source.url(), &preset(layout).source())
            .await
            .unwrap();
        assert_eq!((read.rows.len(), read.visible), (18, 16));
        for store in common::every_backend().await {
            let backend = store.identity.store().backend();
            let at = format!("{layout:?} on {backend}");
            // two malformed rows abort the import by id, writing nothing
            let err = store
                .identity
                .import_table(read.rows.clone(), ImportOptions::default())
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { field: Field::Table, reason }
                    if reason.starts_with("2 rows refused, nothing imported: row 41: invalid email")
                        && reason.contains("row 55: invalid email")),
                "{at}: {err}"
            );
            assert!(store.identity.all_contacts().await.unwrap().is_empty());

            let skip = ImportOptions::default().on_error(OnError::Skip);
            let report = store
                .identity
                .import_table(read.rows.clone(), skip)
                .await
                .unwrap();
            let table = report.table.clone().unwrap();
            assert_eq!((report.rows, report.customers), (11, 6), "{at}");
            assert_eq!(
                (report.rejected, report.folded, table.deleted_rows),
                (2, 3, 2)
            );
            let changed = |c| table.changed(c);
            assert_eq!(
                changed(CustomerChange::Duplicate),
                1,
                "{at}: 8 is 7's race duplicate"
            );
            assert_eq!(changed(CustomerChange::Normalized), 2, "{at}: 4 and 31");
            assert_eq!(changed(CustomerChange::PrimaryDeleted), 1, "{at}: 15");
            assert_eq!(changed(CustomerChange::PrimaryNotOldest), 1, "{at}: 21");
            assert_eq!(changed(CustomerChange::LeftOut), 1, "{at}: 55");
            assert_eq!(table.repaired_chains, 3, "{at}: 11, 16 and 20");

            let rows: BTreeMap<i64, identity::Contact> = store
                .identity
                .all_contacts()
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.id.get(), c))
                .collect();
            let ids: Vec<i64> = rows.keys().copied().collect();
            assert_eq!(ids, [3, 7, 10, 11, 16, 20, 21, 22, 30, 31, 40], "{at}");
            let people: BTreeMap<&str, Option<ContactId>> = MESSY_PEOPLE
                .iter()
                .map(|(who, primary, _)| (*who, primary.map(ContactId::new)))
                .collect();
            for row in MESSY {
                assert_eq!(
                    resolve(&table, &rows, row.id),
                    people[row.person],
                    "{at}: old id {} is {}",
                    row.id,
                    row.person
                );
            }
            for (who, primary, email) in MESSY_PEOPLE {
                let found = store.identity.lookup(Some(email), None).await.unwrap();
                assert_eq!(
                    found.map(|c| c.primary_contact_id.get()),
                    primary,
                    "{at}: {who}"
                );
            }
            let deleted = table.moved_rows.iter().find(|m| m.id == 15).unwrap();
            assert_eq!(
                (deleted.row, deleted.primary_contact_id),
                (RowFate::Deleted, Some(ContactId::new(16)))
            );
            // history answers by the table's ids; new rows continue above its highest (60):
            // the next id on one server; on Citus, in the worker's own range
            let biff = store.identity.history(ContactId::new(20)).await.unwrap();
            assert_eq!(biff.rows(), [16, 20].map(ContactId::new).into());
            let next = store
                .identity
                .identify(Some("einstein@hv.edu"), None)
                .await
                .unwrap()
                .primary_contact_id
                .get();
            let on_citus = common::citus_workers().is_some();
            if on_citus && store.identity.store().backend() == "postgres" {
                assert!(next >= 1 << 48, "{at}: {next}");
            } else {
                assert_eq!(next, 61, "{at}");
            }
            common::assert_sound_after_storm(&store).await;
        }
    }
}

#[tokio::test]
async fn a_store_that_gave_out_the_tables_ids_refuses_them_and_renumbers_on_request() {
    let source = messy_table(Layout::Prisma).await;
    let read = read_table(source.url(), &Preset::Prisma.source())
        .await
        .unwrap();
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        // ids 1 to 5 given out, by an import (on Citus identifies draw in the workers' ranges,
        // an import's ids on the coordinator, from 1 as on one server)
        let shop = store.identity.tenant("shop-b").unwrap();
        let first: Vec<Checkout> = (0..5)
            .map(|n| {
                let email = format!("first{n}@shop-b.io");
                let request = IdentifyRequest::parse(Some(&email), None).unwrap();
                Checkout::new(request, time::OffsetDateTime::UNIX_EPOCH, n)
            })
            .collect();
        shop.import(first, ImportOptions::default()).await.unwrap();
        let skip = ImportOptions::default().on_error(OnError::Skip);
        let err = store
            .identity
            .import_table(read.rows.clone(), skip)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Conflict { reason }
                if reason.contains("ids start at 3, but this store has given out ids up to 5")),
            "{backend}: {err}"
        );
        assert!(store.identity.all_contacts().await.unwrap().is_empty());
        let report = store
            .identity
            .import_table(read.rows.clone(), skip.renumber(true))
            .await
            .unwrap();
        let table = report.table.clone().unwrap();
        assert!(!table.ids_kept);
        assert_eq!(
            table.moved_rows.len(),
            MESSY.len(),
            "{backend}: every id is listed"
        );
        assert_eq!(report.ids.map(|(a, _)| a.get()), Some(6), "{backend}");
        let rows: BTreeMap<i64, identity::Contact> = store
            .identity
            .all_contacts()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.id.get(), c))
            .collect();
        for (who, _, email) in MESSY_PEOPLE {
            let now = store.identity.lookup(Some(email), None).await.unwrap();
            for row in MESSY.iter().filter(|r| r.person == who) {
                assert_eq!(
                    resolve(&table, &rows, row.id),
                    now.as_ref().map(|c| c.primary_contact_id),
                    "{backend}: old id {} is {who}",
                    row.id
                );
            }
        }
        common::assert_sound_after_storm(&store).await;
    }
}

#[tokio::test]
async fn a_missing_table_or_column_is_named_with_what_is_there() {
    let source = race_damaged(Layout::Prisma).await;
    let err = read_table(source.url(), &Preset::TypeOrm.source())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field: Field::Table, reason } if reason.contains("no table contact")),
        "{err}"
    );
    let wrong = TableSource::new("Contact").column(identity::import::Column::PhoneNumber, "phone");
    let err = read_table(source.url(), &wrong).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("has no phone number column \"phone\"; its columns are"),
        "{err}"
    );
    assert!(err.to_string().contains("phoneNumber"), "{err}");
    let err = read_table("sqlite:x.db", &Preset::Prisma.source())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedScheme { .. }), "{err}");
}

#[tokio::test]
async fn a_store_notices_another_implementations_table_while_it_is_empty() {
    let db = race_damaged(Layout::Prisma).await;
    let unmigrated = identity::ConnectOptions::default().migrate(false);
    let identity = identity::Identity::connect_with(db.url(), &unmigrated)
        .await
        .unwrap();
    assert_eq!(
        identity.store().foreign_tables().await.unwrap(),
        ["Contact"]
    );
    identity.store().migrate().await.unwrap();
    assert_eq!(
        identity.store().foreign_tables().await.unwrap(),
        ["Contact"],
        "still empty"
    );
    identity
        .identify(Some("doc@hillvalley.edu"), None)
        .await
        .unwrap();
    assert!(
        identity.store().foreign_tables().await.unwrap().is_empty(),
        "its own rows now"
    );

    // a TypeORM table named like the store's own, and an empty Sequelize one
    let db = race_damaged(Layout::TypeOrm).await;
    let pool = db.pool().await;
    sqlx::raw_sql(r#"CREATE TABLE "Contacts" (id serial, email text, "phoneNumber" text)"#)
        .execute(&pool)
        .await
        .unwrap();
    let identity = identity::Identity::connect_with(db.url(), &unmigrated)
        .await
        .unwrap();
    assert_eq!(
        identity.store().foreign_tables().await.unwrap(),
        ["contact"]
    );

    // Prisma on SQLite: "Contact" is the same name as the store's contact there
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("prisma.db").display());
    let store = identity::SqliteStore::connect(&url).await.unwrap();
    sqlx::raw_sql(
        r#"CREATE TABLE "Contact" (id INTEGER PRIMARY KEY, "phoneNumber" TEXT, email TEXT);
           INSERT INTO "Contact" ("phoneNumber", email) VALUES ('123456', 'doc@hillvalley.edu');"#,
    )
    .execute(store.pool())
    .await
    .unwrap();
    assert_eq!(store.foreign_tables().await.unwrap(), ["Contact"]);
    let fresh = identity::connect("sqlite::memory:").await.unwrap();
    assert!(fresh.store().foreign_tables().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_tables_ids_and_another_tenants_new_rows_never_meet() {
    // a table far above anything the other tenant draws meanwhile, with its highest id deleted
    let lowest = 1_000_000u64;
    let at = |k: u64| {
        time::OffsetDateTime::from_unix_timestamp(1_680_343_200 + k as i64).expect("a time")
    };
    let mut rows: Vec<identity::import::TableRow> = (0..3_000u64)
        .map(|k| {
            let row = identity::import::TableRow::new(lowest + 2 * k)
                .email(format!("p{}@table.io", k / 3))
                .phone_number(format!("555{k}"))
                .created_at(at(k));
            if k % 3 == 0 {
                row
            } else {
                row.linked_to(lowest + 2 * (k - k % 3))
            }
        })
        .collect();
    rows.push(identity::import::TableRow::new(lowest + 10_000).deleted(true));
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let second = store.second_handle().await;
        let shop = second.tenant("shop-b").unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 50 {
                    let c = shop
                        .identify(Some(&format!("w{n}@shop-b.io")), None)
                        .await
                        .unwrap();
                    ids.push(c.primary_contact_id.get());
                    n += 1;
                }
                ids
            })
        };
        let report = store
            .identity
            .import_table(rows.clone(), ImportOptions::default())
            .await
            .unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let drawn = writer.await.unwrap();
        assert_eq!(report.rows, 3_000, "{backend}");
        let highest = i64::try_from(lowest).unwrap() + 10_000;
        assert!(
            drawn
                .iter()
                .all(|id| *id < i64::try_from(lowest).unwrap() || *id > highest),
            "{backend}: the other tenant drew an id in the table's range"
        );
        let after = second
            .tenant("shop-b")
            .unwrap()
            .identify(Some("after@shop-b.io"), None)
            .await
            .unwrap();
        assert!(after.primary_contact_id.get() > highest, "{backend}");
        if let Some(db) = &store.db {
            let pool = db.pool().await;
            let shared: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT id FROM contact GROUP BY id HAVING count(*) > 1) s",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(shared, 0, "no id in two tenants");
        }
        common::assert_sound_after_storm(&store).await;
        common::assert_verified(&second.tenant("shop-b").unwrap()).await;
    }
}
