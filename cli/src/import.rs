//! `identity import`: historical checkouts from files into an empty tenant, in one batch that
//! equals replaying them through `identify` in time order ([`identity::Identity::import`]).

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use identity::import::{Checkout, ImportOptions, ImportReport, OnError};
use identity::{IdentifyRequest, IgnoredReason};
use indicatif::{ProgressBar, ProgressStyle};

use crate::read::{Columns, Format, Input, Raw};
use crate::target::{Target, describe};
use crate::when::parse_time;

/// How many malformed records the summary lists (all are counted).
const SHOWN: usize = 10;

/// `identity import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Checkout files: CSV with a header row or JSON Lines (`.csv`, `.jsonl`, `.ndjson`), plain
    /// or gzip; `-` reads standard input (then --format is required). Read in the order given;
    /// checkouts are then taken in time order, ties in the order read.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,

    #[command(flatten)]
    target: Target,

    /// The files' format, when their names do not say it.
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// The column (CSV) or key (JSON Lines) of the email; matched ignoring case and `_`.
    #[arg(long, default_value = "email")]
    email_column: String,

    /// The column or key of the phone number.
    #[arg(long, default_value = "phoneNumber")]
    phone_column: String,

    /// The column or key of the checkout's time: RFC 3339, `2023-04-01 10:00:00+00`, a date,
    /// or Unix seconds or milliseconds (a time without offset is UTC).
    #[arg(long, default_value = "createdAt")]
    time_column: String,

    /// What a malformed record (unreadable, a bad email or phone, a missing time) or a phone
    /// number the tenant's region refuses does: abort writes nothing; skip imports the rest.
    #[arg(long, value_enum, default_value_t = Policy::Abort)]
    on_error: Policy,

    /// Read, check and plan everything, print the summary, write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Policy {
    /// Write nothing when any record is malformed.
    Abort,
    /// Leave malformed records out and import the rest.
    Skip,
}

/// A record left out, with where it was.
struct Bad {
    file: usize,
    line: u64,
    reason: String,
}

/// What reading the files gave.
#[derive(Default)]
struct Read {
    checkouts: Vec<Checkout>,
    bad: Vec<Bad>,
    bad_count: u64,
    records: u64,
}

impl Read {
    fn reject(&mut self, file: usize, line: u64, reason: String) {
        self.bad_count += 1;
        if self.bad.len() < SHOWN {
            self.bad.push(Bad { file, line, reason });
        }
    }
}

/// A checkout's origin: its file (high bits) and line.
fn origin(file: usize, line: u64) -> u64 {
    ((file as u64) << 40) | (line & ((1 << 40) - 1))
}

/// Runs `import`: reads, checks, loads, prints the summary.
pub async fn run(args: ImportArgs) -> Result<(), String> {
    let started = Instant::now();
    let columns = Columns {
        email: args.email_column.clone(),
        phone: args.phone_column.clone(),
        time: args.time_column.clone(),
    };
    if args.files.iter().filter(|f| *f == "-").count() > 1 {
        return Err("standard input (-) can be read once".to_owned());
    }
    // refuse a tenant with rows before reading years of orders
    let identity = args.target.open().await?;
    identity
        .import(Vec::new(), ImportOptions::default().dry_run(true))
        .await
        .map_err(|e| describe(&e))?;
    let read = read_all(&args.files, args.format, &columns)?;
    let read_time = started.elapsed();
    let names = |file: usize| match args.files[file].as_str() {
        "-" => "standard input".to_owned(),
        name => name.to_owned(),
    };
    let read_line = read_summary(&read, &args.files, read_time);
    if read.bad_count > 0 {
        eprintln!("{} malformed record(s):", read.bad_count);
        for b in &read.bad {
            eprintln!("  {} line {}: {}", names(b.file), b.line, b.reason);
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
    let on_error = match args.on_error {
        Policy::Abort => OnError::Abort,
        Policy::Skip => OnError::Skip,
    };
    let options = ImportOptions::default()
        .on_error(on_error)
        .dry_run(args.dry_run);
    let spinner = spinner(&format!(
        "{} {} checkouts into tenant {}",
        if args.dry_run { "planning" } else { "loading" },
        read.checkouts.len(),
        identity.tenant_id()
    ));
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
            print_refused(&checked, &names);
            return Err(format!(
                "{} checkout(s) refused by the tenant's phone region: nothing imported \
                 (--on-error skip imports the rest)",
                checked.rejected
            ));
        }
    }
    let report = identity
        .import(read.checkouts, options)
        .await
        .map_err(|e| describe(&e));
    spinner.finish_and_clear();
    let report = report?;
    print_refused(&report, &names);
    print_summary(&report, &read_line, started.elapsed());
    Ok(())
}

/// Reads every file, turning records into checkouts (or malformed records).
fn read_all(files: &[String], format: Option<Format>, columns: &Columns) -> Result<Read, String> {
    let progress = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "reading {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut read = Read::default();
    for (file, path) in files.iter().enumerate() {
        let input = Input::open(path, format, &progress)?;
        input.for_each(columns, |raw: Raw| {
            read.records += 1;
            match checkout(raw.values, origin(file, raw.line)) {
                Ok(c) => read.checkouts.push(c),
                Err(reason) => read.reject(file, raw.line, reason),
            }
        })?;
    }
    progress.finish_and_clear();
    Ok(read)
}

/// One record as a checkout: the email and phone as `identify` parses them, and its time.
fn checkout(values: Result<crate::read::Values, String>, origin: u64) -> Result<Checkout, String> {
    let v = values?;
    let request = IdentifyRequest::parse(v.email.as_deref(), v.phone.as_deref())
        .map_err(|e| e.to_string())?;
    let at = parse_time(v.time.as_deref().unwrap_or(""))?;
    Ok(Checkout::new(request, at, origin))
}

fn spinner(message: &str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// The checkouts the tenant's settings refused, with their files and lines.
fn print_refused(report: &ImportReport, names: &dyn Fn(usize) -> String) {
    if report.rejected == 0 {
        return;
    }
    eprintln!(
        "{} checkout(s) refused by the tenant's phone region:",
        report.rejected
    );
    for r in &report.first_rejected {
        let (file, line) = ((r.origin >> 40) as usize, r.origin & ((1 << 40) - 1));
        eprintln!("  {} line {line}: {}", names(file), r.reason);
    }
}

/// The reading half of the summary.
fn read_summary(read: &Read, files: &[String], took: Duration) -> String {
    let skipped = if read.bad_count > 0 {
        format!(", {} malformed and skipped", read.bad_count)
    } else {
        String::new()
    };
    format!(
        "read {} records from {} file(s) in {:.1} s{skipped}",
        read.records,
        files.len(),
        took.as_secs_f64()
    )
}

fn print_summary(report: &ImportReport, read: &str, took: Duration) {
    println!("{read}");
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
