//! The `identity` command as a user runs it: import files (CSV, JSON Lines, gzip, standard
//! input) into SQLite and PostgreSQL and compare the export with replaying the same checkouts
//! through `identify`; malformed records, non-empty tenants and dry runs write nothing; `serve`
//! answers POST /identify.

use identity_testkit as common;

use std::io::Write;
use std::process::{Output, Stdio};

use identity::import::Checkout;

mod support;
use support::BIN;

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("IDENTITY_TENANT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A workload as CSV lines `id,email,phoneNumber,createdAt` (times in PostgreSQL's text form,
/// listed out of order) and as the checkouts they mean.
fn workload(count: u64) -> (String, Vec<Checkout>) {
    let requests = common::Workload::requests(5, 30, count, count);
    let checkouts = common::replay::checkouts_of(&requests, 4);
    let mut csv = String::from("id,email,phoneNumber,createdAt\n");
    for c in &checkouts {
        let at = c.at;
        csv.push_str(&format!(
            "{},{},{},{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00\n",
            c.origin,
            c.request.email().map_or("", |e| e.as_str()),
            c.request.phone_number().map_or("", |p| p.as_str()),
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        ));
    }
    (csv, checkouts)
}

/// The customers a replay of `checkouts` through identify ends with, as export lines.
async fn replayed_export(checkouts: &[Checkout]) -> Vec<serde_json::Value> {
    let replayed = identity::connect("memory:").await.unwrap();
    common::replay::replay(&replayed, checkouts).await;
    let customers = replayed.customers().await.unwrap();
    customers
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

fn export_lines(url: &str) -> Vec<serde_json::Value> {
    let out = run(&["export", "--database-url", url], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_csv_import_exports_what_replaying_it_gives_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, checkouts) = workload(400);
    let file = dir.path().join("orders.csv");
    std::fs::write(&file, &csv).unwrap();
    let expected = replayed_export(&checkouts).await;
    let db = common::TestDb::create().await;
    let sqlite = format!("sqlite:{}", dir.path().join("shop.db").display());
    for url in [sqlite.as_str(), db.url()] {
        let out = run(
            &["import", file.to_str().unwrap(), "--database-url", url],
            None,
        );
        assert!(out.status.success(), "{url}: {}", text(&out.stderr));
        let summary = text(&out.stdout);
        assert!(summary.contains("checkouts:        400"), "{summary}");
        assert!(
            summary.contains(&format!("customers:        {}", expected.len())),
            "{summary}"
        );
        assert_eq!(export_lines(url), expected, "{url}");
        let verify = run(&["verify", "--database-url", url], None);
        assert!(verify.status.success(), "{}", text(&verify.stdout));
        assert!(text(&verify.stdout).contains("0 problem(s)"));
    }
    common::assert_sql_invariants(&db.pool().await).await;
}

#[tokio::test]
async fn gzip_json_lines_from_standard_input_into_a_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (_, checkouts) = workload(120);
    let mut jsonl = String::new();
    for c in &checkouts {
        let line = serde_json::json!({
            "mail": c.request.email().map(|e| e.as_str()),
            "phone": c.request.phone_number().map(|p| p.as_str()),
            "ts": c.at.unix_timestamp(),
        });
        jsonl.push_str(&format!("{line}\n"));
    }
    let mut gz = gzip(jsonl.as_bytes());
    gz.flush().unwrap();
    let url = format!("sqlite:{}", dir.path().join("shop.db").display());
    let args = [
        "import",
        "-",
        "--format",
        "jsonl",
        "--database-url",
        &url,
        "--tenant",
        "shop-7",
        "--email-column",
        "mail",
        "--phone-column",
        "phone",
        "--time-column",
        "ts",
    ];
    let out = run(&args, Some(gz.get_ref()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        lines_row(&out),
        "lines:            120 = 0 headers + 120 checkouts + 0 skipped (malformed) + 0 blank"
    );
    let export = run(
        &["export", "--database-url", &url, "--tenant", "shop-7"],
        None,
    );
    let lines: Vec<serde_json::Value> = text(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, replayed_export(&checkouts).await);
    // the default tenant saw nothing
    assert!(export_lines(&url).is_empty());
}

/// Gzip of `data` (through the system's gzip, as a user's file would be made).
fn gzip(data: &[u8]) -> std::io::Cursor<Vec<u8>> {
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip runs");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    std::io::Cursor::new(out.stdout)
}

#[test]
fn malformed_records_are_listed_and_abort_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    let mut csv = String::from("email,phoneNumber,createdAt\n");
    csv.push_str("doc@hillvalley.edu,5550101,2023-01-01T10:00:00Z\n");
    csv.push_str("no-at-sign,,2023-01-02T10:00:00Z\n");
    csv.push_str("marty@hillvalley.edu,,\n");
    csv.push_str("biff@hillvalley.edu,555-0102,next tuesday\n");
    for i in 0..12 {
        csv.push_str(&format!("bad{i},,2023-01-03\n"));
    }
    std::fs::write(&file, &csv).unwrap();
    let url = format!("sqlite:{}", dir.path().join("shop.db").display());
    let path = file.to_str().unwrap();
    let out = run(&["import", path, "--database-url", &url], None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("15 malformed record(s):"), "{err}");
    assert!(err.contains("orders.csv line 3: invalid email"), "{err}");
    assert!(err.contains("orders.csv line 4: missing time"), "{err}");
    assert!(
        err.contains("orders.csv line 5: unreadable time \"next tuesday\""),
        "{err}"
    );
    assert!(err.contains("... and 5 more"), "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    assert!(
        export_lines(&url).is_empty(),
        "an aborted import writes nothing"
    );

    let dry = run(
        &[
            "import",
            path,
            "--database-url",
            &url,
            "--on-error",
            "skip",
            "--dry-run",
        ],
        None,
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(text(&dry.stdout).contains("dry run: nothing written"));
    assert!(text(&dry.stdout).contains("rows:             1"));
    assert!(export_lines(&url).is_empty(), "a dry run writes nothing");

    let skip = run(
        &["import", path, "--database-url", &url, "--on-error", "skip"],
        None,
    );
    assert!(skip.status.success(), "{}", text(&skip.stderr));
    assert_eq!(export_lines(&url).len(), 1);

    // now the tenant has rows: a second import is refused before reading, naming the tenant
    let again = run(
        &["import", path, "--database-url", &url, "--on-error", "skip"],
        None,
    );
    assert!(!again.status.success());
    let err = text(&again.stderr);
    assert!(
        err.contains("tenant default already has 1 contact row"),
        "{err}"
    );
    assert_eq!(export_lines(&url).len(), 1);
}

#[test]
fn usage_errors_are_clear() {
    let out = run(&["import", "orders.txt", "--database-url", "memory:"], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot tell the format of orders.txt: name it with --format")
    );
    let out = run(
        &["import", "missing.csv", "--database-url", "memory:"],
        None,
    );
    assert!(text(&out.stderr).contains("cannot open missing.csv"));
    let out = run(&["import", "--help"], None);
    let help = text(&out.stdout);
    for flag in [
        "--on-error",
        "--dry-run",
        "--email-column",
        "--time-column",
        "--tenant",
        "--format",
        "--delimiter",
        "--encoding",
    ] {
        assert!(help.contains(flag), "{flag} missing from import --help");
    }
    let out = run(&["serve", "--help"], None);
    assert!(text(&out.stdout).contains("--concurrency-limit"));
}

#[tokio::test]
async fn serve_answers_identify_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("shop.db").display());
    let (_child, host) = support::serve(&url, &[]).await;
    let base = format!("http://{host}");
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/identify"))
        .json(&serde_json::json!({"email": "doc@hillvalley.edu", "phoneNumber": "5550101"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["contact"]["primaryContactId"], 1);
}

/// `identity import --from-table from --preset prisma --database-url into`, with `more`
/// flags, writing its two reports into `reports` (answered: the ids file, the changes file).
fn import_prisma(
    from: &str,
    into: &str,
    reports: &std::path::Path,
    more: &[&str],
) -> (Output, std::path::PathBuf, std::path::PathBuf) {
    let (ids, changes) = (reports.join("ids.csv"), reports.join("changes.csv"));
    let (ids_flag, changes_flag) = (ids.display().to_string(), changes.display().to_string());
    let args = [
        "import",
        "--from-table",
        from,
        "--preset",
        "prisma",
        "--database-url",
        into,
        "--ids-out",
        &ids_flag,
        "--changes-out",
        &changes_flag,
    ];
    (run(&[&args[..], more].concat(), None), ids, changes)
}

#[tokio::test]
async fn a_prisma_table_imports_repaired_and_serve_refuses_to_take_it_over() {
    use common::legacy::{Layout, RACE_DAMAGED_RESULT, race_damaged};
    let db = race_damaged(Layout::Prisma).await;
    // the service notices the old table while its own store is empty, and says what to do
    let out = run(&["serve", "--port", "0", "--database-url", db.url()], None);
    assert!(!out.status.success());
    let log = text(&out.stderr);
    assert!(
        log.contains(r#"table \"Contact\""#) || log.contains(r#"table "Contact""#),
        "{log}"
    );
    assert!(log.contains("identity import --from-table"), "{log}");
    assert!(log.contains("--preset prisma"), "{log}");

    let dir = tempfile::tempdir().unwrap();
    let into = format!("sqlite:{}", dir.path().join("shop.db").display());
    let (out, ids, _) = import_prisma(db.url(), &into, dir.path(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    let (rows, customers, duplicates, chains) = RACE_DAMAGED_RESULT;
    assert!(
        summary.contains("read 14 rows of table Contact (13 visible, 1 soft-deleted)"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("rows:             {rows} (their own ids, 1-14)")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("customers:        {customers}\n")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{duplicates:>6} duplicates of an older customer")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("repaired:         {chains} chained links")),
        "{summary}"
    );
    assert!(
        std::fs::read_to_string(&ids)
            .unwrap()
            .contains("\n4,4,,3,folded,duplicate\n")
    );
    assert_eq!(export_lines(&into).len() as u64, customers);
    let verify = run(&["verify", "--database-url", &into], None);
    assert!(verify.status.success(), "{}", text(&verify.stdout));

    // the same database: once imported beside the old table, the service starts
    let again = tempfile::tempdir().unwrap();
    let (out, _, _) = import_prisma(db.url(), db.url(), again.path(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    support::serve(db.url(), &[]).await;
}

/// Every id of an old table still names its person through the service, and the two reports
/// say what changed: the repro of issue 29 (an old id answering for another person).
#[tokio::test]
async fn every_old_id_names_its_person_through_the_service_after_a_table_import() {
    use common::legacy::{Layout, MESSY_PEOPLE, messy_table};
    let db = messy_table(Layout::Prisma).await;
    let dir = tempfile::tempdir().unwrap();
    let into = format!("sqlite:{}", dir.path().join("shop.db").display());
    // a dry run writes the reports and no row; the reports are never overwritten
    let (out, ids, changes) = import_prisma(
        db.url(),
        &into,
        dir.path(),
        &["--dry-run", "--on-error", "skip"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("dry run: nothing written"));
    assert!(export_lines(&into).is_empty());
    let (out, _, _) = import_prisma(db.url(), &into, dir.path(), &["--on-error", "skip"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("never overwrites its reports"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(&ids).unwrap();
    std::fs::remove_file(&changes).unwrap();
    // abort names the malformed rows by id and writes nothing
    let (out, _, _) = import_prisma(db.url(), &into, dir.path(), &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("row 41: invalid email"),
        "{}",
        text(&out.stderr)
    );
    assert!(!ids.exists() && export_lines(&into).is_empty());

    let (out, ids, changes) = import_prisma(db.url(), &into, dir.path(), &["--on-error", "skip"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(
        summary.contains("     2 merged by normalization"),
        "{summary}"
    );
    assert!(summary.contains("next id:          above 60"), "{summary}");
    let changes = std::fs::read_to_string(changes).unwrap();
    assert_eq!(
        changes,
        "table_primary_id,primary_contact_id,change\n4,3,normalized\n8,7,duplicate\n\
         15,16,primaryDeleted\n21,22,primaryNotOldest\n31,30,normalized\n55,,leftOut\n"
    );
    let ids = std::fs::read_to_string(ids).unwrap();
    assert!(ids.starts_with("id,table_primary_id,contact_id,primary_contact_id,row,change\n"));
    assert!(ids.contains("\n41,40,,40,refused,\n"), "{ids}");
    assert!(ids.contains("\n60,40,,40,deleted,\n"), "{ids}");

    let (_child, address) = support::serve(&into, &[]).await;
    let client = reqwest::Client::new();
    for (who, primary, email) in MESSY_PEOPLE {
        let answer: serde_json::Value = client
            .post(format!("http://{address}/identify"))
            .json(&serde_json::json!({ "email": email }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let expected = primary.unwrap_or(61); // einstein is new: above every old id
        assert_eq!(
            answer["contact"]["primaryContactId"], expected,
            "{who}: {answer}"
        );
    }
}

#[test]
fn a_typeorm_table_cannot_be_imported_into_its_own_database() {
    let url = "postgres://postgres@127.0.0.1:1/x";
    let args = [
        "import",
        "--from-table",
        url,
        "--preset",
        "typeorm",
        "--database-url",
        url,
    ];
    let out = run(&args, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("import it into another database"),
        "{}",
        text(&out.stderr)
    );
}

/// `identity import path --database-url url` plus `extra`.
fn import(path: &std::path::Path, url: &str, extra: &[&str]) -> Output {
    let args = ["import", path.to_str().unwrap(), "--database-url", url];
    run(&[&args[..], extra].concat(), None)
}

/// `count` orders as CSV lines `id,email,phoneNumber,createdAt,note` (the header first, order
/// `i` on line `i + 1`), each its own customer; `note(i)` is order i's last field as written.
fn orders(count: u64, note: impl Fn(u64) -> String) -> Vec<String> {
    let mut lines = vec!["id,email,phoneNumber,createdAt,note".to_owned()];
    for i in 1..=count {
        let at = 1_672_531_200 + i * 60;
        lines.push(format!("{i},buyer{i}@shop.io,555{i:05},{at},{}", note(i)));
    }
    lines
}

/// The `lines:` row of an import's summary.
fn lines_row(out: &Output) -> String {
    let summary = text(&out.stdout);
    let row = summary.lines().find(|l| l.starts_with("lines:"));
    row.unwrap_or_else(|| panic!("no lines row in {summary}"))
        .to_owned()
}

#[test]
fn a_quote_left_open_mid_file_is_refused_at_its_line_and_skip_skips_only_that_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    // order 20 (line 21) opens a quote it never closes; the next quote is order 45's note
    let csv = orders(60, |i| match i {
        20 => "\"fragile".to_owned(),
        45 => "\"gift wrap\"".to_owned(),
        _ => String::new(),
    });
    std::fs::write(&file, csv.join("\n") + "\n").unwrap();
    let url = format!("sqlite:{}", dir.path().join("shop.db").display());

    let out = import(&file, &url, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("1 malformed record(s):"), "{err}");
    assert!(
        err.contains(
            "orders.csv line 21: a quote opened here is closed only on line 46, so it would \
             swallow lines 22-46 (25 lines)"
        ),
        "{err}"
    );
    assert!(
        export_lines(&url).is_empty(),
        "an aborted import writes nothing"
    );

    let out = import(&file, &url, &["--on-error", "skip"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("checkouts:        59\n"));
    assert_eq!(
        lines_row(&out),
        "lines:            61 = 1 header + 59 checkouts + 1 skipped (malformed) + 0 blank"
    );
    let exported = export_lines(&url);
    assert_eq!(exported.len(), 59, "every order but line 21's is imported");
    let emails: Vec<&str> = exported
        .iter()
        .map(|c| c["emails"][0].as_str().unwrap())
        .collect();
    assert!(emails.contains(&"buyer21@shop.io") && emails.contains(&"buyer45@shop.io"));
    assert!(!emails.contains(&"buyer20@shop.io"));
}

#[test]
fn a_quote_left_open_near_the_end_is_refused_instead_of_ending_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    let mut csv = orders(13, |_| String::new());
    csv[11] = csv[11].replace(",buyer11@", ",\"buyer11@");
    std::fs::write(&file, csv.join("\n") + "\n").unwrap();
    let url = format!("sqlite:{}", dir.path().join("shop.db").display());

    let out = import(&file, &url, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "orders.csv line 12: a quote opened here is never closed, so it would swallow \
             lines 13-14 (2 lines) to the end of the file"
        ),
        "{err}"
    );

    let out = import(&file, &url, &["--on-error", "skip"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("read 14 lines from 1 file(s)"));
    assert_eq!(
        lines_row(&out),
        "lines:            14 = 1 header + 12 checkouts + 1 skipped (malformed) + 0 blank"
    );
    assert_eq!(export_lines(&url).len(), 12);
}

#[test]
fn crlf_files_are_reported_by_their_own_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    let csv = [
        "email,phoneNumber,createdAt,note",
        "doc@hillvalley.edu,5550101,2023-01-01,",
        "marty@hillvalley.edu,5550102,next tuesday,",
        "biff@hillvalley.edu,5550103,2023-01-03,\"leave it at",
        "the door\"",
        "no-at-sign,5550104,2023-01-04,",
        "",
        "lorraine@hillvalley.edu,5550105,2023-01-05,",
    ];
    std::fs::write(&file, csv.join("\r\n") + "\r\n").unwrap();
    let url = format!("sqlite:{}", dir.path().join("shop.db").display());

    let out = import(&file, &url, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("orders.csv line 3: unreadable time"), "{err}");
    assert!(err.contains("orders.csv line 6: invalid email"), "{err}");

    let out = import(&file, &url, &["--on-error", "skip"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        lines_row(&out),
        "lines:            8 = 1 header + 4 lines of 3 checkouts + 2 skipped (malformed) + 1 blank"
    );
    assert_eq!(export_lines(&url).len(), 3);
}

#[test]
fn a_semicolon_latin_1_export_imports_with_its_accents() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    // as a French Excel writes it: ';' between fields, Windows-1252, CRLF
    let csv: &[u8] = b"Email;T\xe9l\xe9phone;Date de commande\r\n\
        JOS\xc9@exemple.fr;+33 1 23 45 67 89;2023-01-01\r\n\
        zo\xe9@exemple.fr;+33 1 23 45 67 89;2023-01-02\r\n";
    std::fs::write(&file, csv).unwrap();
    let url = format!("sqlite:{}", dir.path().join("shop.db").display());
    let columns = [
        "--phone-column",
        "Téléphone",
        "--time-column",
        "Date de commande",
    ];

    let out = import(&file, &url, &[&columns[..], &["--delimiter", ";"]].concat());
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("orders.csv line 1 is not UTF-8") && err.contains("--encoding latin-1"),
        "{err}"
    );

    let flags = ["--delimiter", ";", "--encoding", "latin-1"];
    let out = import(&file, &url, &[&columns[..], &flags].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = export_lines(&url);
    assert_eq!(exported.len(), 1);
    assert_eq!(
        exported[0]["emails"],
        serde_json::json!(["josé@exemple.fr", "zoé@exemple.fr"])
    );
    assert_eq!(
        exported[0]["phoneNumbers"],
        serde_json::json!(["+33123456789"])
    );
}

#[test]
fn a_utf_8_byte_order_mark_is_not_part_of_the_first_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.csv");
    let csv = "\u{feff}email,phoneNumber,createdAt\r\ndoc@hillvalley.edu,5550101,2023-01-01\r\n";
    std::fs::write(&file, csv).unwrap();
    let url = format!("sqlite:{}", dir.path().join("shop.db").display());
    let out = import(&file, &url, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(export_lines(&url).len(), 1);
}

#[test]
fn bad_delimiters_and_encodings_are_usage_errors() {
    for (flag, value, says) in [
        ("--delimiter", "ab", "one ASCII character"),
        ("--delimiter", "\"", "one ASCII character"),
        (
            "--encoding",
            "ebcdic",
            "[possible values: utf-8, latin-1, windows-1252]",
        ),
    ] {
        let out = run(&["import", "orders.csv", flag, value], None);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: a usage error");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("invalid value '{value}' for '{flag}")),
            "{err}"
        );
        assert!(err.contains(says), "{err}");
    }
}

#[tokio::test]
async fn migrate_prepares_a_database_ahead_and_names_what_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("sqlite:{}", dir.path().join("shop.db").display());
    let out = run(&["migrate", "--database-url", &file], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "the sqlite database is up to date\n");
    // the schema is there: a command that only reads finds an empty, valid store
    let out = run(&["verify", "--database-url", &file], None);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let db = common::TestDb::create().await;
    let out = run(&["migrate", "--database-url", db.url()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "the postgres database is up to date\n");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class
         WHERE relnamespace = 'public'::regnamespace AND relname IN ('contact', 'identity_event')",
    )
    .fetch_one(&db.pool().await)
    .await
    .unwrap();
    assert_eq!(tables, 2);
    // again: nothing to do, the same answer
    let out = run(&["migrate", "--database-url", db.url()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = run(&["migrate", "--database-url", "mysql://x@h/db"], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).starts_with("error: unsupported database url scheme `mysql`"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).is_empty());
}
