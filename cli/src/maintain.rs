//! `identity migrate`, `identity verify`, `identity rebuild` and `identity export`: preparing
//! the database, checking, recomputing and dumping a tenant's customers.

use std::io::Write;

use clap::Args;
use identity::ContactStore;

use crate::target::{Database, Target, describe};

/// `identity migrate`: brings the database's schema up to this build, as every other command
/// (and the service, and the bindings) does when it connects: ahead of a deployment, or to
/// distribute a PostgreSQL database that has the citus extension by tenant (docs/scaling.md).
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    database: Database,
}

/// Runs `migrate`: connects (which migrates, and distributes on Citus) and says so.
pub async fn migrate(args: MigrateArgs) -> Result<(), String> {
    let identity = identity::connect(&args.database.database_url)
        .await
        .map_err(|e| describe(&e))?;
    println!("the {} database is up to date", identity.store().backend());
    identity.close().await;
    Ok(())
}

/// `identity verify`: compares the rows with I1-I4 and the derived records with the rows.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    target: Target,
}

/// `identity rebuild`: recomputes every derived record of the tenant from its rows.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    target: Target,
}

/// `identity export`: every customer of the tenant as JSON Lines.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    target: Target,

    /// Where to write (`-`: standard output).
    #[arg(long, short, default_value = "-")]
    output: String,
}

/// Runs `verify`: every problem on standard output; fails when there is one.
pub async fn verify(args: VerifyArgs) -> Result<(), String> {
    let identity = args.target.open().await?;
    let report = identity.verify().await.map_err(|e| describe(&e))?;
    println!("{report}");
    if report.is_clean() {
        Ok(())
    } else {
        Err(format!(
            "verify found {} problem(s) in tenant {}: `identity rebuild` repairs them",
            report.problems.len(),
            identity.tenant_id()
        ))
    }
}

/// Runs `rebuild`: what it did on standard output.
pub async fn rebuild(args: RebuildArgs) -> Result<(), String> {
    let identity = args.target.open().await?;
    let report = identity.rebuild().await.map_err(|e| describe(&e))?;
    println!(
        "rebuilt tenant {}: {} rows, {} customers, {} rows relinked",
        identity.tenant_id(),
        report.rows,
        report.customers,
        report.relinked.len()
    );
    Ok(())
}

/// Runs `export`: one consolidated customer per line, by primary id, in the wire shape of
/// `POST /identify`'s `contact`.
pub async fn export(args: ExportArgs) -> Result<(), String> {
    let identity = args.target.open().await?;
    let customers = identity.customers().await.map_err(|e| describe(&e))?;
    let mut out: Box<dyn Write> = if args.output == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let file = std::fs::File::create(&args.output)
            .map_err(|e| format!("cannot create {}: {e}", args.output))?;
        Box::new(std::io::BufWriter::new(file))
    };
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", args.output);
    for c in &customers {
        serde_json::to_writer(&mut out, c).map_err(|e| fail(e.into()))?;
        out.write_all(b"\n").map_err(fail)?;
    }
    out.flush().map_err(fail)?;
    if args.output != "-" {
        eprintln!("exported {} customers to {}", customers.len(), args.output);
    }
    Ok(())
}
