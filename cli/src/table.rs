//! `identity import --from-table`: an existing deployment's contact table, its rows under their
//! own ids ([`identity::Identity::import_table`]), and two files for the people whose systems
//! stored those ids: every id that no longer names the same row of the same customer, and every
//! customer of the table led by another row now, with why.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use identity::IgnoredReason;
use identity::import::{CustomerChange, ImportOptions, ImportReport, TableOutcome, TableSource};

use crate::progress::{follow, spinner};
use crate::target::describe;

/// Where the two files of a table import go.
pub struct ReportFiles {
    /// Every table id whose meaning changed (`--ids-out`).
    pub ids: PathBuf,
    /// Every customer of the table led by another row now (`--changes-out`).
    pub changes: PathBuf,
}

impl ReportFiles {
    /// The paths the flags name, else `identity-import-<time>-ids.csv` and
    /// `...-changes.csv` in the current directory; refuses paths that exist (a mapping is what
    /// clients re-key their records with: it is never overwritten).
    pub fn choose(ids: Option<PathBuf>, changes: Option<PathBuf>) -> Result<Self, String> {
        let now = time::OffsetDateTime::now_utc();
        let stamp = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let files = ReportFiles {
            ids: ids.unwrap_or_else(|| format!("identity-import-{stamp}-ids.csv").into()),
            changes: changes
                .unwrap_or_else(|| format!("identity-import-{stamp}-changes.csv").into()),
        };
        for (path, flag) in [(&files.ids, "--ids-out"), (&files.changes, "--changes-out")] {
            if path.exists() {
                return Err(format!(
                    "{} exists: a table import never overwrites its reports (name another \
                     file with {flag})",
                    path.display()
                ));
            }
        }
        Ok(files)
    }

    /// Writes both files from the import's outcome.
    pub fn write(&self, outcome: &TableOutcome) -> Result<(), String> {
        write_csv(
            &self.ids,
            "id,table_primary_id,contact_id,primary_contact_id,row,change",
            outcome.moved_rows.iter().map(|m| {
                format!(
                    "{},{},{},{},{},{}",
                    m.id,
                    m.table_primary_id,
                    id_or_blank(m.contact_id),
                    id_or_blank(m.primary_contact_id),
                    m.row.as_str(),
                    m.change.map_or("", CustomerChange::as_str)
                )
            }),
        )?;
        write_csv(
            &self.changes,
            "table_primary_id,primary_contact_id,change",
            outcome.changed_customers.iter().map(|c| {
                format!(
                    "{},{},{}",
                    c.table_primary_id,
                    id_or_blank(c.primary_contact_id),
                    c.change.as_str()
                )
            }),
        )
    }
}

fn id_or_blank(id: Option<identity::ContactId>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

fn write_csv(path: &Path, header: &str, lines: impl Iterator<Item = String>) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(fail)?;
    let mut out = BufWriter::new(file);
    writeln!(out, "{header}").map_err(fail)?;
    for line in lines {
        writeln!(out, "{line}").map_err(fail)?;
    }
    out.flush().map_err(fail)
}

/// Reads the table, imports it into `identity`'s tenant, writes the reports, prints the
/// summary.
pub async fn run(
    identity: &identity::Identity,
    url: &str,
    source: &TableSource,
    options: ImportOptions,
    files: ReportFiles,
) -> Result<(), String> {
    let started = Instant::now();
    let reading = spinner(&format!("reading table {}", source.table));
    let read = identity::import::read_table(url, source).await;
    reading.finish_and_clear();
    let read = read.map_err(|e| describe(&e))?;
    let mut notes = String::new();
    if !read.has_links {
        notes.push_str(&format!(
            "; no column {:?}: nothing linked",
            source.linked_id
        ));
    }
    if !read.has_deleted_at {
        notes.push_str(&format!(
            "; no column {:?}: every row visible",
            source.deleted_at
        ));
    }
    let read_line = format!(
        "read {} rows of table {} ({} visible, {} soft-deleted{notes}) in {:.1} s",
        read.rows.len(),
        source.table,
        read.visible,
        read.rows.len() as u64 - read.visible,
        started.elapsed().as_secs_f64()
    );
    let message = format!(
        "{} {} rows into tenant {}",
        if options.dry_run {
            "planning"
        } else {
            "loading"
        },
        read.rows.len(),
        identity.tenant_id()
    );
    let loading = spinner(&message);
    let following = follow(identity, &loading, message);
    let report = identity.import_table(read.rows, options).await;
    following.abort();
    loading.finish_and_clear();
    let report = report.map_err(|e| describe(&e))?;
    let outcome = report.table.clone().unwrap_or_default();
    files.write(&outcome)?;
    print_summary(&report, &outcome, &read_line, &files, started.elapsed());
    if options.dry_run {
        println!("dry run: nothing written (the files say what an import would change)");
    }
    Ok(())
}

fn print_summary(
    report: &ImportReport,
    outcome: &TableOutcome,
    read_line: &str,
    files: &ReportFiles,
    took: Duration,
) {
    println!("{read_line}");
    let ids = match (report.ids, outcome.ids_kept) {
        (Some((first, last)), true) => format!(" (their own ids, {first}-{last})"),
        (Some((first, last)), false) => format!(" (numbered anew, {first}-{last})"),
        (None, _) => String::new(),
    };
    println!("rows:             {}{ids}", report.rows);
    if outcome.ids_kept {
        println!(
            "next id:          above {} (the table's highest, deleted rows included)",
            outcome.highest_id
        );
    }
    println!("customers:        {}", report.customers);
    println!("largest customer: {} rows", report.largest_customer);
    println!(
        "values ignored:   {} blocked, {} suppressed; {} rows with nothing left",
        report.ignored_for(IgnoredReason::Blocked),
        report.ignored_for(IgnoredReason::Suppressed),
        report.ignored_checkouts
    );
    if report.rejected > 0 {
        println!("refused:          {} rows", report.rejected);
        for r in &report.first_rejected {
            println!("                  row {}: {}", r.origin, r.reason);
        }
    }
    println!(
        "folded:           {} rows repeating values of a row with a lower id (not copied; \
         their ids name their customer)",
        report.folded
    );
    println!(
        "repaired:         {} chained links (each row now links to its customer's primary)",
        outcome.repaired_chains
    );
    let changed = outcome.changed_customers.len();
    println!(
        "changed:          {changed} of the table's customers are led by another row now \
         ({}):",
        files.changes.display()
    );
    for (change, what) in [
        (
            CustomerChange::Duplicate,
            "duplicates of an older customer: the same value as written (the old service's races)",
        ),
        (
            CustomerChange::Normalized,
            "merged by normalization: values equal once normalized (an email's case, a phone's punctuation)",
        ),
        (
            CustomerChange::PrimaryDeleted,
            "led by another row: their primary is soft-deleted or missing",
        ),
        (
            CustomerChange::PrimaryLeftOut,
            "led by another row: their primary was not imported",
        ),
        (
            CustomerChange::PrimaryNotOldest,
            "led by another row: their primary is not their oldest row",
        ),
        (
            CustomerChange::LeftOut,
            "gone: none of their rows was imported",
        ),
    ] {
        println!("                  {:>6} {what}", outcome.changed(change));
    }
    println!(
        "moved ids:        {} ids no longer name the same row of the same customer ({}); every \
         other id does",
        outcome.moved_rows.len(),
        files.ids.display()
    );
    println!("time:             {:.1} s", took.as_secs_f64());
}
