//! The erasure log: each erase as a record without personal data ([`ErasureRecord`]: ids,
//! times and the keyed hashes of the values it suppressed), kept in the database beside its
//! receipt and, with [`crate::ConnectOptions::erasure_log`], appended to a file outside it
//! ([`ErasureLog`]) before the erase commits. A backup restored after a disaster holds the
//! people erased since it was taken; [`crate::Identity::reapply_erasures`] erases them again
//! from these records.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

pub use crate::erasure::{ErasedRow, ErasureRecord, SuppressedDigest, parse_lines};

/// An append-only file of [`ErasureRecord`]s, one JSON object per line, outside the database:
/// an erase appends its record and flushes it to disk before it commits, so that every erase
/// that succeeded is in the file even when the database is lost. Several processes of one host
/// may append to the same file; an erase that cannot append fails and changes nothing.
#[derive(Debug)]
pub struct ErasureLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl ErasureLog {
    /// Opens (creating if missing) the log at `path` for appending.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("erasures.jsonl");
    /// identity::ErasureLog::open(&path)?;
    /// assert!(identity::ErasureLog::read(&path)?.is_empty());
    /// # Ok::<(), identity::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ErasureLog`] when it cannot be opened or written.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let failed = |action, source| Error::ErasureLog {
            path: path.display().to_string(),
            action,
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(|e| failed("cannot be opened for appending", e))?;
        // a line a crash cut short ends here, so the next record starts a line of its own
        let len = file
            .metadata()
            .map_err(|e| failed("cannot be read", e))?
            .len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(|e| failed("cannot be read", e))?;
            if last[0] != b'\n' {
                file.write_all(b"\n")
                    .map_err(|e| failed("cannot be appended to", e))?;
            }
        }
        Ok(ErasureLog {
            path,
            file: Mutex::new(file),
        })
    }

    /// Where the log is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` as one line and flushes it to disk.
    pub(crate) fn append(&self, record: &ErasureRecord) -> Result<()> {
        let mut line = record.to_line().into_bytes();
        line.push(b'\n');
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let mut writer: &File = &file;
        writer
            .write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|source| Error::ErasureLog {
                path: self.path.display().to_string(),
                action: "cannot be appended to",
                source,
            })
    }

    /// Every record of the log at `path`, oldest first. A line cut short is left out: a
    /// process stopped while writing it, before its erase committed (the next append starts a
    /// new line after it).
    ///
    /// # Errors
    /// [`Error::ErasureLog`] when the file cannot be read; [`Error::InvalidInput`] naming
    /// [`Field::Erasures`](crate::Field::Erasures) and the line for a line that is not a record.
    pub fn read(path: impl AsRef<Path>) -> Result<Vec<ErasureRecord>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ErasureLog {
            path: path.display().to_string(),
            action: "cannot be read",
            source,
        })?;
        parse_lines(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erasure::test_record as record;

    #[test]
    fn a_log_appends_whole_lines_after_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        std::fs::write(&path, "{\"tenantId\":\"def").unwrap();
        let log = ErasureLog::open(&path).unwrap();
        log.append(&record()).unwrap();
        log.append(&record()).unwrap();
        assert_eq!(ErasureLog::read(&path).unwrap(), [record(), record()]);
        let missing = ErasureLog::read(dir.path().join("none")).unwrap_err();
        assert!(matches!(missing, Error::ErasureLog { .. }), "{missing:?}");
    }
}
