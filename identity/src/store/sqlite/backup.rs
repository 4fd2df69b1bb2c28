//! Backing up a SQLite database while it serves: `VACUUM INTO` a new file beside the target
//! (one read transaction: a consistent snapshot that writers do not wait for), then moved to
//! the target, so that the target is either absent or a complete copy.

use std::path::{Path, PathBuf};

use sqlx::SqlitePool;

use crate::error::{Error, Result};

const OPERATION: &str = "backing up the database";

/// Copies the database to `path` (refused when it exists, unless `overwrite`).
pub(super) async fn backup_to(pool: &SqlitePool, path: &Path, overwrite: bool) -> Result<()> {
    let exists = || Error::Conflict {
        reason: format!(
            "{} exists: a backup never replaces a file unless asked to (overwrite)",
            path.display()
        ),
    };
    if path.exists() && !overwrite {
        return Err(exists());
    }
    let partial = partial_path(path)?;
    let target = partial.to_str().ok_or_else(|| Error::Conflict {
        reason: format!("{} is not a UTF-8 path", path.display()),
    })?;
    let written = sqlx::query("VACUUM INTO ?1")
        .bind(target)
        .execute(pool)
        .await
        .map_err(|e| Error::store(OPERATION, e));
    let moved = written.and_then(|_| {
        let io = |source: std::io::Error| Error::Store {
            operation: OPERATION,
            source: Box::new(source),
        };
        if overwrite {
            return std::fs::rename(&partial, path).map_err(io);
        }
        // a link fails when the target appeared meanwhile: nothing is replaced
        match std::fs::hard_link(&partial, path) {
            Ok(()) => std::fs::remove_file(&partial).map_err(io),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
            Err(_) if !path.exists() => std::fs::rename(&partial, path).map_err(io),
            Err(e) => Err(io(e)),
        }
    });
    if moved.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    moved
}

/// A name for the copy in progress, beside `path` (so that moving it is a rename).
fn partial_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Conflict {
            reason: format!("{} does not name a file", path.display()),
        })?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    Ok(path.with_file_name(format!(".{name}.partial-{}-{stamp}", std::process::id())))
}
