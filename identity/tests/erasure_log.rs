//! Backups and erasures after them. A SQLite backup taken under concurrent writes restores into
//! a clean store holding every customer; a backup restored after people were erased holds them
//! again, and applying the erasure log (written by every erase before it commits) erases them
//! once more: gone from lookups, from the files' bytes, suppressed again; rows split off them
//! after the backup stay, ids the restored store gave out meanwhile are left alone, and the id
//! sequence moves past every logged id. The same on PostgreSQL (restored from a copy of the
//! database). Records of another tenant or another secret, a log that cannot be written, and
//! bad lines are refused and change nothing.

use identity_testkit as common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::bytes::{count_in_sqlite, traces};
use identity::import::ImportOptions;
use identity::{
    ConnectOptions, ContactId, ErasureLog, ErasureRecord, Error, Field, Identity, IgnoredReason,
};

/// The people of the test, each an email and a phone number no one else has (the phone from
/// the name's FNV-1a hash).
fn person(name: &str) -> (String, String) {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (
        format!("{name}@restore.test"),
        format!("+3399{:09}", hash % 1_000_000_000),
    )
}

async fn meet(id: &Identity, name: &str) -> ContactId {
    let (email, phone) = person(name);
    id.identify(Some(&email), Some(&phone))
        .await
        .unwrap()
        .primary_contact_id
}

/// What the live store went through, to check the restored one against.
struct Story {
    /// Values of everyone erased after the backup (to be gone again after the reapply), Fay's
    /// last (the others are in the backup).
    erased_after: Vec<String>,
    /// Values of the customer erased before the backup (gone from the backup already).
    erased_before: Vec<String>,
    /// The row split off an erased customer after the backup: it stays.
    split_off: String,
    /// The email suppressed after the backup.
    suppressed: String,
    /// The id of the row created and erased after the backup.
    later_row: ContactId,
}

/// Fills `live` and erases around a backup that `backup` takes: 1,000 imported customers; Ada
/// erased (suppressed) before it; after it, Bob (suppressed), Cy and Di (two customers then,
/// merged after), Eve (her customer then; her other row split off after, and kept), and Fay
/// (created after) erased.
async fn story(live: &Identity, backup: impl AsyncFnOnce()) -> Story {
    let records: Vec<serde_json::Value> = (0..1_000u64)
        .map(|n| {
            serde_json::json!({"email": format!("k{n}@kept.test"), "phoneNumber": format!("44{n:06}"),
                "at": 1_600_000_000 + n})
        })
        .collect();
    live.import_records(&records, ImportOptions::default())
        .await
        .unwrap();
    let ada = meet(live, "ada").await;
    let bob = meet(live, "bob").await;
    let cy = meet(live, "cy").await;
    meet(live, "di").await;
    let (eve_email, eve_phone) = person("eve");
    let (ev2_email, ev2_phone) = person("eve-two");
    let eve = meet(live, "eve").await;
    meet(live, "eve-two").await;
    // one customer of two rows that share no value (the merge added no row)
    live.identify(Some(&eve_email), Some(&ev2_phone))
        .await
        .unwrap();
    live.erase(ada, true).await.unwrap();

    backup().await;

    live.erase(bob, true).await.unwrap();
    let (cy_email, _) = person("cy");
    let (_, di_phone) = person("di");
    let merged = live
        .identify(Some(&cy_email), Some(&di_phone))
        .await
        .unwrap();
    assert_eq!(merged.secondary_contact_ids.len(), 1);
    live.erase(cy, false).await.unwrap();
    let eve_rows = live.lookup(Some(&eve_email), None).await.unwrap().unwrap();
    let two = eve_rows.secondary_contact_ids[0];
    live.split(eve, &[two], false).await.unwrap();
    live.erase(eve, false).await.unwrap();
    // Fay, created after the backup, with a second row: a restored store gives out her ids
    let fay = meet(live, "fay").await;
    let (fay_b, _) = person("fay-b");
    let fay_phone = person("fay").1;
    live.identify(Some(&fay_b), Some(&fay_phone)).await.unwrap();
    live.erase(fay, false).await.unwrap();

    let values = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .flat_map(|n| {
                let (e, p) = person(n);
                [e, p]
            })
            .collect()
    };
    let _ = (ev2_email, eve_phone);
    Story {
        erased_after: [values(&["bob", "cy", "di", "eve", "fay"]), vec![fay_b]].concat(),
        erased_before: values(&["ada"]),
        split_off: person("eve-two").0,
        suppressed: person("bob").0,
        later_row: fay,
    }
}

/// Checks the restored store `restored` against the story after applying `log`.
async fn assert_restored(restored: &Identity, log: &[ErasureRecord], story: &Story) {
    let backend = restored.store().backend();
    // the backup holds the people erased after it
    let (bob, _) = person("bob");
    assert!(restored.lookup(Some(&bob), None).await.unwrap().is_some());
    // new customers meanwhile: the last takes the id Fay had in the lost time line
    let mut n = 0;
    let gus_email = loop {
        let name = format!("gus{n}");
        let id = meet(restored, &name).await;
        if id >= story.later_row {
            assert_eq!(id, story.later_row, "{backend}: ids go on from the backup");
            break person(&name).0;
        }
        n += 1;
    };

    let report = restored.reapply_erasures(log).await.unwrap();
    assert_eq!(report.records, 5, "{backend}: {report:?}");
    assert_eq!((report.applied, report.already_erased), (4, 1), "{backend}");
    assert_eq!(report.reused_ids, [story.later_row], "{backend}: Gus stays");
    assert_eq!(report.suppressed, 2, "{backend}: Bob's email and phone");
    // new rows never take an id the log names (Fay's second row's, past Gus's)
    let highest = log
        .iter()
        .flat_map(|r| r.rows.iter().map(|row| row.id))
        .max()
        .unwrap();
    let next = meet(restored, "hal").await;
    assert!(next > highest, "{backend}: {next} after {highest}");
    for value in &story.erased_after {
        let found = if value.contains('@') {
            restored.lookup(Some(value), None).await
        } else {
            restored.lookup(None, Some(value)).await
        };
        match found {
            Ok(None) | Err(Error::BlockedValue { .. }) => {}
            other => panic!("{backend}: {value} is back: {other:?}"),
        }
    }
    let c = restored
        .identify(Some(&story.suppressed), Some("123456"))
        .await
        .unwrap();
    let reasons: Vec<IgnoredReason> = c.ignored.iter().map(|i| i.reason).collect();
    assert_eq!(
        reasons,
        [IgnoredReason::Suppressed],
        "{backend}: suppressed again"
    );
    let kept = restored
        .lookup(Some(&story.split_off), None)
        .await
        .unwrap()
        .expect("the row split off Eve's customer after the backup stays");
    assert_eq!(kept.emails.len(), 1, "{backend}: {kept:?}");
    assert!(
        restored
            .lookup(Some(&gus_email), None)
            .await
            .unwrap()
            .is_some()
    );
    common::assert_verified(restored).await;
    common::assert_invariants_blocking(
        &restored.all_contacts().await.unwrap(),
        &restored.blocked_values().await.unwrap(),
    );

    // applying the log again changes nothing; the restored store's own records are the log's
    let again = restored.reapply_erasures(log).await.unwrap();
    assert_eq!((again.applied, again.already_erased), (0, 5), "{backend}");
    assert_eq!(again.reused_ids, Vec::<ContactId>::new(), "{backend}");
    let own: BTreeSet<String> = restored
        .erasures()
        .await
        .unwrap()
        .iter()
        .map(ErasureRecord::to_line)
        .collect();
    let logged: BTreeSet<String> = log.iter().map(ErasureRecord::to_line).collect();
    assert_eq!(own, logged, "{backend}");
    // erasing by a former id answers the original receipt
    let bob_record = log
        .iter()
        .find(|r| r.suppressed && r.contact_ids.len() == 1);
    let bob_record = bob_record.expect("Bob's record");
    let receipt = restored.erase(bob_record.customer_id, false).await.unwrap();
    assert_eq!(receipt, bob_record.receipt(), "{backend}");
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_backup_under_writes_restores_and_the_log_erases_everyone_erased_since() {
    let dir = tempfile::tempdir().unwrap();
    let (db, backup, log) = (
        dir.path().join("live.db"),
        dir.path().join("backup.db"),
        dir.path().join("erasures.jsonl"),
    );
    let options = ConnectOptions::default().erasure_log(&log);
    let live = Identity::connect_with(&sqlite_url(&db), &options)
        .await
        .unwrap();
    let mut before = Vec::new();
    let story = story(&live, async || {
        before = live.customers().await.unwrap();
        // writers go on while the backup is taken
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..3u64)
            .map(|w| {
                let (id, stop) = (live.clone(), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let email = format!("w{w}-{n}@during.test");
                        id.identify(Some(&email), None).await.unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        common::wait_until(
            "writers to write",
            std::time::Duration::from_secs(30),
            async || {
                live.lookup(Some("w2-3@during.test"), None)
                    .await
                    .unwrap()
                    .is_some()
            },
        )
        .await;
        live.backup_to(&backup, false).await.unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            assert!(w.await.unwrap() > 3);
        }
        // a backup is never overwritten unless asked
        let err = live.backup_to(&backup, false).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    })
    .await;

    // the backup alone (a copy, as a restore would take): clean, every customer there, and no
    // trace of Ada, erased before it
    let restored_path = dir.path().join("restored.db");
    std::fs::copy(&backup, &restored_path).unwrap();
    let found = traces(&restored_path, &story.erased_before);
    assert!(found.is_empty(), "{found:#?}");
    let restored = identity::connect(&sqlite_url(&restored_path))
        .await
        .unwrap();
    common::assert_verified(&restored).await;
    let after: Vec<_> = restored.customers().await.unwrap();
    for customer in &before {
        assert!(
            after.contains(customer),
            "missing from the backup: {customer:?}"
        );
    }
    for value in &story.erased_after[..8] {
        assert!(
            count_in_sqlite(&restored_path, value) > 0,
            "{value} is in the backup"
        );
    }

    let log = ErasureLog::read(&log).unwrap();
    assert_eq!(log.len(), 5, "one line per erase");
    assert_eq!(
        log,
        live.erasures().await.unwrap(),
        "the log is what the store records"
    );
    assert_restored(&restored, &log, &story).await;
    let found = traces(&restored_path, &story.erased_after);
    assert!(found.is_empty(), "after reapplying: {found:#?}");
    assert!(count_in_sqlite(&restored_path, &story.split_off) > 0);
    restored.close().await;
    live.close().await;
}

#[tokio::test]
async fn a_postgres_dump_taken_before_erasures_gets_them_again_from_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("live.dump");
    let live_db = common::TestDb::create().await;
    let live = identity::connect(live_db.url()).await.unwrap();
    let story = story(&live, async || {
        common::cluster::run_tool(
            "pg_dump",
            &[
                "--format=custom",
                "--file",
                dump.to_str().unwrap(),
                live_db.url(),
            ],
        );
    })
    .await;
    let restored_db = common::TestDb::create().await;
    common::cluster::run_tool(
        "pg_restore",
        &[
            "--no-owner",
            "--dbname",
            restored_db.url(),
            dump.to_str().unwrap(),
        ],
    );
    let restored = identity::connect(restored_db.url()).await.unwrap();
    let log = live.erasures().await.unwrap();
    assert_eq!(log.len(), 5);
    assert_restored(&restored, &log, &story).await;
    let pool = restored_db.pool().await;
    let found = common::tables_holding(&pool, &story.erased_after).await;
    assert!(found.is_empty(), "after reapplying: {found:#?}");
    let kept = common::tables_holding(&pool, std::slice::from_ref(&story.split_off)).await;
    assert!(!kept.is_empty(), "the scan reads the tables");
    restored.close().await;
    live.close().await;
}

#[tokio::test]
async fn records_of_another_tenant_or_secret_and_a_log_that_cannot_be_written_change_nothing() {
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let id = store.identity.tenant("shop-r").unwrap();
        let doc = meet(&id, "doc").await;
        meet(&id, "marty").await;
        let before = id.all_contacts().await.unwrap();
        // a record of another tenant
        let other = identity::connect("memory:").await.unwrap();
        let theirs = other.tenant("shop-r").unwrap();
        let their_doc = meet(&theirs, "doc").await;
        theirs.erase(their_doc, true).await.unwrap();
        let mut records = theirs.erasures().await.unwrap();
        let err = store.identity.reapply_erasures(&records).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field: Field::Erasures, reason } if reason.contains("tenant shop-r")),
            "{backend}: {err:?}"
        );
        // digests under another store's secret: refused whole, with a record that would apply
        let mut fine = records[0].clone();
        fine.digests.clear();
        fine.secret = None;
        records.insert(0, fine);
        let err = id.reapply_erasures(&records).await.unwrap_err();
        assert!(
            matches!(&err, Error::Conflict { reason } if reason.contains("identity_secret")),
            "{backend}: {err:?}"
        );
        assert_eq!(id.all_contacts().await.unwrap(), before, "{backend}");
        assert!(id.erasures().await.unwrap().is_empty(), "{backend}");
        // an erase that cannot append its record to the log does not happen
        let full = id
            .clone()
            .with_erasure_log(ErasureLog::open("/dev/full").unwrap());
        let err = full.erase(doc, true).await.unwrap_err();
        assert!(
            matches!(err, Error::ErasureLog { .. }),
            "{backend}: {err:?}"
        );
        assert_eq!(err.code(), "store");
        assert_eq!(id.all_contacts().await.unwrap(), before, "{backend}");
        assert!(id.erasures().await.unwrap().is_empty(), "{backend}");
        let (doc_email, _) = person("doc");
        let c = id.identify(Some(&doc_email), None).await.unwrap();
        assert!(c.ignored.is_empty(), "{backend}: not suppressed");
        // one that can: the line is the store's record
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let logged = id
            .clone()
            .with_erasure_log(ErasureLog::open(&path).unwrap());
        let receipt = logged.erase(doc, false).await.unwrap();
        let lines = ErasureLog::read(&path).unwrap();
        assert_eq!(lines, id.erasures().await.unwrap(), "{backend}");
        assert_eq!(lines[0].receipt(), receipt);
        // erasing again answers the receipt and logs nothing more
        logged.erase(doc, false).await.unwrap();
        assert_eq!(ErasureLog::read(&path).unwrap().len(), 1, "{backend}");
        common::assert_verified(&id).await;
    }
}

#[tokio::test]
async fn stores_without_a_file_to_copy_refuse_a_backup_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy.db");
    for url in ["sqlite::memory:", "memory:"] {
        let id = identity::connect(url).await.unwrap();
        id.identify(Some("doc@x.io"), None).await.unwrap();
        let err = id.backup_to(&to, false).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{url}: {err:?}");
        assert!(!to.exists(), "{url}: a refused backup left a file");
    }
}
