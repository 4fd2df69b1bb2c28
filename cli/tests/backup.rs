//! `identity backup` and `identity erasures` as an operator runs them (docs/operations.md): a
//! backup of a SQLite database a handle is writing to, restored, and the erasures made since
//! applied again from the erasure log, each tenant's to its own tenant; refusals change
//! nothing.

use std::process::{Command, Output};

use identity::{ConnectOptions, ContactId, Identity};

mod support;
use support::BIN;

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("IDENTITY_TENANT")
        .output()
        .unwrap()
}

/// `identity backup --database-url url --to to`.
fn backup(url: &str, to: &str) -> Output {
    run(&["backup", "--database-url", url, "--to", to])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn url(path: &std::path::Path) -> String {
    format!("sqlite:{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_and_the_log_erases_again_everyone_erased_since() {
    let dir = tempfile::tempdir().unwrap();
    let (live_db, nightly, log) = (
        dir.path().join("live.db"),
        dir.path().join("nightly.db"),
        dir.path().join("erasures.jsonl"),
    );
    let options = ConnectOptions::default().erasure_log(&log);
    let live = Identity::connect_with(&url(&live_db), &options)
        .await
        .unwrap();
    let shop = live.tenant("shop-b").unwrap();
    live.identify(Some("doc@x.io"), Some("555")).await.unwrap();
    live.identify(Some("emmett@x.io"), Some("555"))
        .await
        .unwrap();
    live.identify(Some("biff@x.io"), None).await.unwrap();
    shop.identify(Some("lorraine@x.io"), None).await.unwrap();

    // a backup while the handle stays open (the service serving)
    let out = backup(&url(&live_db), nightly.to_str().unwrap());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with(&format!("backed up to {}", nightly.display())));
    let before = std::fs::read(&nightly).unwrap();
    let again = backup(&url(&live_db), nightly.to_str().unwrap());
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read(&nightly).unwrap(),
        before,
        "a refused backup changed the file"
    );

    // erased after the backup: one customer of each tenant
    live.erase(ContactId::new(2), true).await.unwrap();
    shop.erase(ContactId::new(4), false).await.unwrap();
    live.close().await;

    // the disk is lost: the backup holds them again
    let restored = identity::connect(&url(&nightly)).await.unwrap();
    assert!(
        restored
            .lookup(Some("doc@x.io"), None)
            .await
            .unwrap()
            .is_some()
    );
    restored.close().await;
    let out = run(&[
        "erasures",
        "reapply",
        "--database-url",
        &url(&nightly),
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    let default_line = "tenant default: 1 records, 1 applied, 0 already erased, 2 rows erased, \
                        0 ids reused by other rows (left alone), 3 values suppressed";
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        [
            default_line,
            "tenant shop-b: 1 records, 1 applied, 0 already erased, 1 rows erased, 0 ids reused \
             by other rows (left alone), 0 values suppressed"
        ]
    );
    assert!(
        include_str!("../../docs/operations.md").contains(&format!("# {default_line}\n")),
        "docs/operations.md shows another line"
    );
    let restored = identity::connect(&url(&nightly)).await.unwrap();
    let rows = restored.all_contacts().await.unwrap();
    let emails: Vec<_> = rows
        .iter()
        .filter_map(|c| c.email.as_ref().map(|e| e.as_str()))
        .collect();
    assert_eq!(
        emails,
        ["biff@x.io"],
        "the erased rows are gone, the others stay"
    );
    let shop = restored.tenant("shop-b").unwrap();
    assert!(
        shop.lookup(Some("lorraine@x.io"), None)
            .await
            .unwrap()
            .is_none()
    );
    let suppressed = restored
        .identify(Some("emmett@x.io"), Some("999"))
        .await
        .unwrap();
    assert!(suppressed.emails.is_empty(), "{suppressed:?}");
    assert!(
        suppressed.primary_contact_id.get() > 4,
        "an erased id was given out again"
    );
    assert!(restored.verify().await.unwrap().is_clean());
    restored.close().await;

    // applying the log again changes nothing
    let out = run(&[
        "erasures",
        "reapply",
        "--database-url",
        &url(&nightly),
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("tenant default: 1 records, 0 applied, 1 already erased")
    );

    // the records out again, never over a file
    let export = dir.path().join("export.jsonl");
    let args = [
        "erasures",
        "export",
        "--database-url",
        &url(&nightly),
        "-o",
        export.to_str().unwrap(),
    ];
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = identity::ErasureLog::read(&export).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].contact_ids,
        [ContactId::new(1), ContactId::new(2)]
    );
    let out = run(&args);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("never overwritten"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn backup_refuses_what_it_cannot_copy() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy.db");
    let missing = dir.path().join("missing.db");
    let out = backup(&url(&missing), to.to_str().unwrap());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no database at"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !missing.exists() && !to.exists(),
        "a refused backup made a file"
    );

    let pg = "postgres://postgres@127.0.0.1:5432/postgres";
    let out = backup(pg, to.to_str().unwrap());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("pg_dump --format=custom"),
        "{}",
        text(&out.stderr)
    );
    assert!(!to.exists());

    let out = run(&["erasures", "reapply", "--database-url", "memory:"]);
    assert!(!out.status.success(), "reapply without a file");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"tenantId\":\"default\",\"customerId\":4}\n").unwrap();
    let out = run(&[
        "erasures",
        "reapply",
        "--database-url",
        "memory:",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 1"),
        "{}",
        text(&out.stderr)
    );
}
