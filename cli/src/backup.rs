//! `identity backup` and `identity erasures`: what a restore needs. A backup of the whole
//! database while the service runs (SQLite; PostgreSQL has pg_dump), and the erasure records
//! to apply again to a backup older than them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::target::{Target, describe};

/// `identity backup`: a consistent copy of a SQLite database, taken while it serves.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where contacts live (sqlite:path; PostgreSQL is backed up with pg_dump).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:identity.db",
        hide_env_values = true
    )]
    database_url: String,

    /// The file to write: a SQLite database holding every tenant and the suppression secret.
    /// It must not exist unless --overwrite; nothing is left there when the copy fails.
    #[arg(long)]
    to: PathBuf,

    /// Replace the file at --to if there is one.
    #[arg(long)]
    overwrite: bool,
}

/// `identity erasures`: the tenant's erasure records, out and in again.
#[derive(Debug, Args)]
pub struct ErasuresArgs {
    #[command(subcommand)]
    action: ErasuresAction,
}

#[derive(Debug, Subcommand)]
enum ErasuresAction {
    /// Write every erase of the tenant as an erasure record, one JSON object per line (ids,
    /// times and keyed hashes; no email or phone number).
    Export {
        #[command(flatten)]
        target: Target,

        /// Where to write (`-`: standard output).
        #[arg(long, short, default_value = "-")]
        output: String,
    },
    /// Apply erasure records again (an --erasure-log file, or `erasures export` of the store
    /// before it was lost) to a database restored from an older backup: each record to its own
    /// tenant, one transaction per tenant.
    Reapply {
        /// Where contacts live: postgres://user:pass@host/db or sqlite:path.
        #[arg(
            long,
            env = "DATABASE_URL",
            default_value = "sqlite:identity.db",
            hide_env_values = true
        )]
        database_url: String,

        /// The files of records (JSON Lines), read whole before anything is applied.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs `backup`.
pub async fn backup(args: BackupArgs) -> Result<(), String> {
    if args.database_url.starts_with("postgres") {
        return Err(
            "identity backup copies SQLite databases; back PostgreSQL up with pg_dump, \
             e.g. `pg_dump --format=custom --file=identity.dump \"$DATABASE_URL\"` \
             (see docs/operations.md)"
                .to_owned(),
        );
    }
    if let Some(file) = database_file(&args.database_url)
        && !file.exists()
    {
        return Err(format!(
            "no database at {}: nothing to back up (check --database-url)",
            file.display()
        ));
    }
    let options = identity::ConnectOptions::default().migrate(false);
    let identity = identity::Identity::connect_with(&args.database_url, &options)
        .await
        .map_err(|e| describe(&e))?;
    identity
        .backup_to(&args.to, args.overwrite)
        .await
        .map_err(|e| describe(&e))?;
    let bytes = std::fs::metadata(&args.to).map(|m| m.len()).unwrap_or(0);
    eprintln!("backed up to {} ({bytes} bytes)", args.to.display());
    Ok(())
}

/// The file a `sqlite:` URL names (`sqlite:shop.db`, `sqlite:///var/lib/shop.db`), if it names
/// one: opening a missing one would create it, and back up an empty database.
fn database_file(url: &str) -> Option<PathBuf> {
    let rest = url.trim().strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Runs `erasures export` or `erasures reapply`.
pub async fn erasures(args: ErasuresArgs) -> Result<(), String> {
    match args.action {
        ErasuresAction::Export { target, output } => export(&target, &output).await,
        ErasuresAction::Reapply {
            database_url,
            files,
        } => reapply(&database_url, &files).await,
    }
}

async fn export(target: &Target, output: &str) -> Result<(), String> {
    let identity = target.open().await?;
    let records = identity.erasures().await.map_err(|e| describe(&e))?;
    let mut out: Box<dyn Write> = if output == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let file = std::fs::File::create_new(output)
            .map_err(|e| format!("cannot create {output} (it is never overwritten): {e}"))?;
        Box::new(std::io::BufWriter::new(file))
    };
    let fail = |e: std::io::Error| format!("cannot write {output}: {e}");
    for record in &records {
        writeln!(out, "{}", record.to_line()).map_err(fail)?;
    }
    out.flush().map_err(fail)?;
    if output != "-" {
        eprintln!("exported {} erasure records to {output}", records.len());
    }
    Ok(())
}

async fn reapply(database_url: &str, files: &[PathBuf]) -> Result<(), String> {
    // every tenant's records, in the order the files give them
    let mut by_tenant: BTreeMap<String, Vec<identity::ErasureRecord>> = BTreeMap::new();
    for file in files {
        let read = identity::ErasureLog::read(file)
            .map_err(|e| format!("{}: {}", file.display(), describe(&e)))?;
        for record in read {
            let tenant = record.tenant_id.as_str().to_owned();
            by_tenant.entry(tenant).or_default().push(record);
        }
    }
    if by_tenant.is_empty() {
        println!("no erasure records in the files: nothing to apply");
        return Ok(());
    }
    let store = identity::connect(database_url)
        .await
        .map_err(|e| describe(&e))?;
    for (tenant, records) in &by_tenant {
        let identity = store.tenant(tenant).map_err(|e| describe(&e))?;
        let report = identity
            .reapply_erasures(records)
            .await
            .map_err(|e| format!("tenant {tenant}: {}", describe(&e)))?;
        println!(
            "tenant {tenant}: {} records, {} applied, {} already erased, {} rows erased, {} ids \
             reused by other rows (left alone), {} values suppressed",
            report.records,
            report.applied,
            report.already_erased,
            report.erased_ids.len(),
            report.reused_ids.len(),
            report.suppressed
        );
    }
    Ok(())
}
