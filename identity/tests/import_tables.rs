//! Importing the tables of the Node services people replace (Prisma, TypeORM, Sequelize
//! layouts) from a real PostgreSQL database: their race damage (duplicate primaries, chains,
//! one phone in two customers) is repaired and counted, rows they link stay one customer,
//! deleted rows stay out; and a store notices such a table beside it while it is empty.

use identity_testkit as common;

use common::legacy::{Layout, RACE_DAMAGED_RESULT, race_damaged};
use identity::import::{ImportOptions, Preset, TableSource, read_table};
use identity::{ContactStore, Error, Field};

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
            (read.rows, read.malformed),
            (13, 0),
            "{layout:?}: the deleted row stays out"
        );
        assert!(read.has_links && read.has_deleted_at);
        for store in common::every_backend().await {
            let backend = store.identity.store().backend();
            let report = store
                .identity
                .import(read.checkouts.clone(), ImportOptions::default())
                .await
                .unwrap();
            assert_eq!(
                (
                    report.rows,
                    report.customers,
                    report.repaired_primaries,
                    report.repaired_chains
                ),
                RACE_DAMAGED_RESULT,
                "{layout:?} on {backend}"
            );
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
            common::assert_sound_after_storm(&store).await;
        }
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
