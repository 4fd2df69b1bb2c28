//! Where `identity import` reads checkouts from: files (CSV, JSON Lines) or an existing
//! deployment's table over a PostgreSQL URL, with presets for the common schemas.

use clap::{Args, ValueEnum};
use identity::IdentifyRequest;
use identity::import::{Checkout, Column, Preset, TableSource};
use indicatif::{ProgressBar, ProgressStyle};

use crate::read::{Columns, Dialect, Format, Input, Raw, Tally, Values};
use crate::target::Target;
use identity::import::parse_time;

/// How many malformed records the summary lists (all are counted).
const SHOWN: usize = 10;

/// The flags of a table import.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// Import an existing deployment's contact table instead of files, from the PostgreSQL
    /// database this URL names: every row keeps its id, rows it links stay one customer, and
    /// two files say which ids and customers changed meaning (see --ids-out, --changes-out).
    #[arg(long, value_name = "URL", conflicts_with = "files")]
    pub from_table: Option<String>,

    /// The table's layout: prisma (table "Contact"), typeorm (contact), sequelize
    /// ("Contacts"); all with camelCase columns (id, email, phoneNumber, linkedId, createdAt,
    /// deletedAt).
    #[arg(long, value_enum, requires = "from_table")]
    pub preset: Option<PresetName>,

    /// The table's name, exactly (optionally schema.table), instead of or over the preset's.
    #[arg(long, requires = "from_table")]
    pub table: Option<String>,

    /// The table's id column.
    #[arg(long, default_value = "id", requires = "from_table")]
    pub id_column: String,

    /// The table's link column (a secondary's primary id); a table without it links nothing.
    #[arg(long, default_value = "linkedId", requires = "from_table")]
    pub linked_id_column: String,

    /// The table's soft-delete column (rows where it is set are left out, their ids
    /// reserved); a table without it has every row visible.
    #[arg(long, default_value = "deletedAt", requires = "from_table")]
    pub deleted_at_column: String,

    /// Number the table's rows anew (from the store's next id, in id order) instead of keeping
    /// their ids: for a store that has given out ids as high as the table's lowest. The ids
    /// file then maps every id.
    #[arg(long, requires = "from_table")]
    pub renumber: bool,

    /// Where to write every table id that no longer names the same row of the same customer
    /// (CSV: id, table_primary_id, contact_id, primary_contact_id, row, change); default
    /// identity-import-<time>-ids.csv. Never overwritten.
    #[arg(long, value_name = "FILE", requires = "from_table")]
    pub ids_out: Option<std::path::PathBuf>,

    /// Where to write every customer of the table led by another row now (CSV:
    /// table_primary_id, primary_contact_id, change); default
    /// identity-import-<time>-changes.csv. Never overwritten.
    #[arg(long, value_name = "FILE", requires = "from_table")]
    pub changes_out: Option<std::path::PathBuf>,
}

/// `--preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetName {
    /// Prisma's `model Contact`: table "Contact".
    Prisma,
    /// TypeORM's `@Entity() Contact`: table contact.
    Typeorm,
    /// Sequelize's `Contact` model: table "Contacts".
    Sequelize,
}

/// What reading files gave: the checkouts, the malformed records (where, why), and how to
/// name a checkout's origin in messages.
pub struct Read {
    pub checkouts: Vec<Checkout>,
    pub bad: Vec<(String, String)>,
    pub bad_count: u64,
    /// "read N lines from M file(s)".
    pub what: String,
    /// How the files' lines add up ("13 = 1 header + 11 checkouts + 1 skipped (malformed) +
    /// 0 blank").
    pub lines: Option<String>,
    pub place: Box<dyn Fn(u64) -> String>,
}

/// A file checkout's origin: its file (high bits) and line.
fn origin(file: usize, line: u64) -> u64 {
    ((file as u64) << 40) | (line & ((1 << 40) - 1))
}

/// Reads every file, turning records into checkouts (or malformed records).
pub fn read_files(
    files: &[String],
    format: Option<Format>,
    columns: &Columns,
    dialect: Dialect,
) -> Result<Read, String> {
    if files.iter().filter(|f| *f == "-").count() > 1 {
        return Err("standard input (-) can be read once".to_owned());
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| match f.as_str() {
            "-" => "standard input".to_owned(),
            name => name.to_owned(),
        })
        .collect();
    let progress = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "reading {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut checkouts, mut bad, mut bad_count) = (Vec::new(), Vec::new(), 0u64);
    let (mut checkout_lines, mut bad_lines) = (0u64, 0u64);
    let mut tally = Tally::default();
    for (file, path) in files.iter().enumerate() {
        let input = Input::open(path, format, &progress)?;
        let read = input.for_each(columns, dialect, |raw: Raw| {
            match checkout(raw.values, origin(file, raw.line)) {
                Ok(c) => {
                    checkouts.push(c);
                    checkout_lines += raw.lines;
                }
                Err(reason) => {
                    bad_count += 1;
                    bad_lines += raw.lines;
                    if bad.len() < SHOWN {
                        bad.push((format!("{} line {}", names[file], raw.line), reason));
                    }
                }
            }
        })?;
        tally.lines += read.lines;
        tally.headers += read.headers;
        tally.blank += read.blank;
    }
    progress.finish_and_clear();
    let counted = tally.headers + checkout_lines + bad_lines + tally.blank;
    if counted != tally.lines {
        return Err(format!(
            "internal error: {} lines read but {counted} accounted for",
            tally.lines
        ));
    }
    let lines = format!(
        "{} = {} + {} + {} + {} blank",
        tally.lines,
        plural(tally.headers, "header", "headers"),
        of_records(checkout_lines, checkouts.len() as u64, "checkouts"),
        match (bad_lines, bad_count) {
            (lines, records) if lines == records => format!("{lines} skipped (malformed)"),
            (lines, records) => format!("{lines} skipped ({records} malformed records)"),
        },
        tally.blank
    );
    Ok(Read {
        checkouts,
        bad,
        bad_count,
        what: format!("read {} lines from {} file(s)", tally.lines, files.len()),
        lines: Some(lines),
        place: Box::new(move |o| {
            let (file, line) = ((o >> 40) as usize, o & ((1 << 40) - 1));
            let name = names.get(file).map_or("?", String::as_str);
            format!("{name} line {line}")
        }),
    })
}

/// "1 header", "0 headers".
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "11 checkouts", or "12 lines of 11 checkouts" when some record covers several lines.
fn of_records(lines: u64, records: u64, what: &str) -> String {
    if lines == records {
        format!("{records} {what}")
    } else {
        format!("{lines} lines of {records} {what}")
    }
}

/// One record as a checkout: the email and phone as `identify` parses them, and its time.
fn checkout(values: Result<Values, String>, origin: u64) -> Result<Checkout, String> {
    let v = values?;
    let request = IdentifyRequest::parse(v.email.as_deref(), v.phone.as_deref())
        .map_err(|e| e.to_string())?;
    let at = parse_time(v.time.as_deref().unwrap_or(""))?;
    Ok(Checkout::new(request, at, origin))
}

/// The table the flags name.
pub fn table_source(args: &TableArgs, columns: &Columns) -> Result<TableSource, String> {
    let preset = args.preset.map(|p| match p {
        PresetName::Prisma => Preset::Prisma,
        PresetName::Typeorm => Preset::TypeOrm,
        PresetName::Sequelize => Preset::Sequelize,
    });
    let mut source = match (preset, &args.table) {
        (_, Some(table)) => TableSource::new(table.clone()),
        (Some(preset), None) => preset.source(),
        (None, None) => {
            return Err(
                "name the table with --preset prisma|typeorm|sequelize or --table".to_owned(),
            );
        }
    };
    for (column, name) in [
        (Column::Id, &args.id_column),
        (Column::Email, &columns.email),
        (Column::PhoneNumber, &columns.phone),
        (Column::LinkedId, &args.linked_id_column),
        (Column::CreatedAt, &columns.time),
        (Column::DeletedAt, &args.deleted_at_column),
    ] {
        source = source.column(column, name.clone());
    }
    Ok(source)
}

/// Refuses to import a table named `contact` into the same database: it is where this store
/// keeps its own rows (TypeORM's default name).
pub fn refuse_own_table(url: &str, source: &TableSource, target: &Target) -> Result<(), String> {
    let table = source.table.rsplit('.').next().unwrap_or_default();
    if table == "contact" && url.trim() == target.database.database_url.trim() {
        return Err(
            "the source table contact is where this store keeps its own rows: import it into \
             another database (--database-url)"
                .to_owned(),
        );
    }
    Ok(())
}
