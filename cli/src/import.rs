//! `identity import`: historical checkouts from files, or an existing deployment's table, into
//! an empty tenant, in one batch that equals replaying them through `identify` in time order
//! ([`identity::Identity::import`]).

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use identity::IgnoredReason;
use identity::import::{Checkout, ImportOptions, ImportReport, OnError};

use crate::progress::{follow, spinner};
use crate::read::{Columns, Dialect, Encoding, Format};
use crate::source::{self, Read, TableArgs};
use crate::target::{Target, describe};

/// `identity import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Checkout files: CSV with a header row or JSON Lines (`.csv`, `.jsonl`, `.ndjson`), plain
    /// or gzip; `-` reads standard input (then --format is required). Read in the order given;
    /// checkouts are then taken in time order, ties in the order read.
    #[arg(value_name = "FILE", required_unless_present = "from_table")]
    files: Vec<String>,

    #[command(flatten)]
    target: Target,

    #[command(flatten)]
    table: TableArgs,

    /// The files' format, when their names do not say it.
    #[arg(long, value_enum, conflicts_with = "from_table")]
    format: Option<Format>,

    /// The column (CSV, table) or key (JSON Lines) of the email; files match it ignoring case
    /// and `_`, tables exactly.
    #[arg(long, default_value = "email")]
    email_column: String,

    /// The column or key of the phone number.
    #[arg(long, default_value = "phoneNumber")]
    phone_column: String,

    /// The column or key of the checkout's time (in files: RFC 3339, `2023-04-01
    /// 10:00:00+00`, a date, or Unix seconds or milliseconds; a time without offset is UTC).
    #[arg(long, default_value = "createdAt")]
    time_column: String,

    /// CSV: the ASCII character between fields (default `,`; `\t` or `tab` for a tab).
    ///
    /// `;` is what spreadsheets write where the decimal separator is a comma.
    #[arg(long, value_name = "CHAR", value_parser = delimiter, conflicts_with = "from_table")]
    delimiter: Option<char>,

    /// The files' encoding.
    ///
    /// A file that starts with a UTF-8 byte-order mark (as Excel's "CSV UTF-8" writes) is
    /// UTF-8 whatever this says; under utf-8, a line that is not UTF-8 stops the import,
    /// naming the line.
    #[arg(long, value_enum, default_value_t = Encoding::Utf8, conflicts_with = "from_table")]
    encoding: Encoding,

    /// What a malformed record (unreadable, a bad email or phone, a missing time, a CSV quote
    /// left open) or a phone number the tenant's region refuses does: abort writes nothing;
    /// skip imports the rest.
    ///
    /// A CSV quote left open: a quoted field runs past the end of its line and is never closed,
    /// or runs onto a line that starts a record of its own (as many fields as the header, or a
    /// quote opened in its second field or later). That line is malformed, and the lines
    /// after it are read as records; otherwise the record is one over its lines (a note with
    /// a line break). The summary's `lines:` row adds up: header + checkouts + skipped + blank
    /// (empty, or only spaces and delimiters).
    #[arg(long, value_enum, default_value_t = Policy::Abort)]
    on_error: Policy,

    /// Read, check and plan everything, print the summary, write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `--delimiter`: one ASCII character other than `"` and line breaks; `\t` and `tab` are a tab.
fn delimiter(value: &str) -> Result<char, String> {
    let mut chars = value.chars();
    match (value, chars.next(), chars.next()) {
        ("\\t" | "tab", _, _) => Ok('\t'),
        (_, Some(c), None) if c.is_ascii() && !matches!(c, '"' | '\r' | '\n') => Ok(c),
        _ => Err(
            "must be one ASCII character other than '\"' and line breaks, such as ';' \
                  or '|' (\\t or tab for a tab)"
                .to_owned(),
        ),
    }
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Policy {
    /// Write nothing when any record is malformed.
    Abort,
    /// Leave malformed records out and import the rest.
    Skip,
}

/// Runs `import`: reads, checks, loads, prints the summary.
pub async fn run(args: ImportArgs) -> Result<(), String> {
    let started = Instant::now();
    let columns = Columns {
        email: args.email_column.clone(),
        phone: args.phone_column.clone(),
        time: args.time_column.clone(),
    };
    let table = match &args.table.from_table {
        Some(url) => {
            let table = source::table_source(&args.table, &columns)?;
            source::refuse_own_table(url, &table, &args.target)?;
            Some((url, table))
        }
        None => None,
    };
    let on_error = match args.on_error {
        Policy::Abort => OnError::Abort,
        Policy::Skip => OnError::Skip,
    };
    // refuse a tenant with rows before reading years of orders
    let identity = args.target.open().await?;
    identity
        .import(Vec::new(), ImportOptions::default().dry_run(true))
        .await
        .map_err(|e| describe(&e))?;
    if let Some((url, source)) = &table {
        let files = crate::table::ReportFiles::choose(
            args.table.ids_out.clone(),
            args.table.changes_out.clone(),
        )?;
        let options = ImportOptions::default()
            .on_error(on_error)
            .dry_run(args.dry_run)
            .renumber(args.table.renumber);
        return crate::table::run(&identity, url, source, options, files).await;
    }
    let dialect = Dialect {
        delimiter: args.delimiter,
        encoding: args.encoding,
    };
    let mut read = source::read_files(&args.files, args.format, &columns, dialect)?;
    let read_line = format!("{} in {:.1} s", read.what, started.elapsed().as_secs_f64());
    if read.bad_count > 0 {
        eprintln!("{} malformed record(s):", read.bad_count);
        for (place, reason) in &read.bad {
            eprintln!("  {place}: {reason}");
        }
        if read.bad_count > read.bad.len() as u64 {
            eprintln!("  ... and {} more", read.bad_count - read.bad.len() as u64);
        }
        if args.on_error == Policy::Abort {
            return Err(format!(
                "{} malformed record(s): nothing imported (--on-error skip imports the rest)",
                read.bad_count
            ));
        }
    }
    let options = ImportOptions::default()
        .on_error(on_error)
        .dry_run(args.dry_run);
    let message = format!(
        "{} {} checkouts into tenant {}",
        if args.dry_run { "planning" } else { "loading" },
        read.checkouts.len(),
        identity.tenant_id()
    );
    let spinner = spinner(&message);
    let region = identity
        .settings()
        .await
        .map_err(|e| describe(&e))?
        .phone_region;
    if region.is_some() && on_error == OnError::Abort {
        // the region may refuse numbers: find them (and where they are) before writing
        let checked = identity
            .import(
                read.checkouts.clone(),
                options.on_error(OnError::Skip).dry_run(true),
            )
            .await
            .map_err(|e| describe(&e))?;
        if checked.rejected > 0 {
            spinner.finish_and_clear();
            print_refused(&checked, &read);
            return Err(format!(
                "{} checkout(s) refused by the tenant's phone region: nothing imported \
                 (--on-error skip imports the rest)",
                checked.rejected
            ));
        }
    }
    let checkouts: Vec<Checkout> = std::mem::take(&mut read.checkouts);
    let following = follow(&identity, &spinner, message);
    let report = identity
        .import(checkouts, options)
        .await
        .map_err(|e| describe(&e));
    following.abort();
    spinner.finish_and_clear();
    let report = report?;
    print_refused(&report, &read);
    print_summary(&report, &read, &read_line, started.elapsed());
    Ok(())
}

/// The checkouts the tenant's settings refused, with where they came from.
fn print_refused(report: &ImportReport, read: &Read) {
    if report.rejected == 0 {
        return;
    }
    eprintln!(
        "{} checkout(s) refused by the tenant's phone region:",
        report.rejected
    );
    for r in &report.first_rejected {
        eprintln!("  {}: {}", (read.place)(r.origin), r.reason);
    }
}

fn print_summary(report: &ImportReport, read: &Read, read_line: &str, took: Duration) {
    println!("{read_line}");
    if let Some(lines) = &read.lines {
        println!("lines:            {lines}");
    }
    println!("checkouts:        {}", report.checkouts);
    match report.ids {
        Some((first, last)) => println!("rows:             {} (ids {first}-{last})", report.rows),
        None => println!("rows:             {}", report.rows),
    }
    println!("customers:        {}", report.customers);
    println!("merges:           {}", report.merges);
    println!("largest customer: {} rows", report.largest_customer);
    println!(
        "values ignored:   {} blocked, {} suppressed; {} checkouts with nothing left",
        report.ignored_for(IgnoredReason::Blocked),
        report.ignored_for(IgnoredReason::Suppressed),
        report.ignored_checkouts
    );
    if report.rejected > 0 {
        println!("refused:          {} (phone region)", report.rejected);
    }
    println!("time:             {:.1} s", took.as_secs_f64());
    if !report.written {
        println!("dry run: nothing written");
    }
}
