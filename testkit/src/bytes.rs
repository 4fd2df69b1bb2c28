//! Reading a database's files as bytes: where an erased value may survive after its rows are
//! gone (free pages, old log frames).

use std::path::{Path, PathBuf};

/// How many times `needle` occurs in the file at `path` (0 when there is no such file).
pub fn occurrences(path: &Path, needle: &str) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    bytes
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

/// A SQLite database's files: the main file, its write-ahead log and the log's index.
pub fn sqlite_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// Every occurrence of one of `values` in the files of the SQLite database `db`, as
/// `value in file: count`.
pub fn traces(db: &Path, values: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for file in sqlite_files(db) {
        for value in values {
            let n = occurrences(&file, value);
            if n > 0 {
                found.push(format!("{value} in {}: {n}", file.display()));
            }
        }
    }
    found
}

/// How many times `value` occurs in all the files of the SQLite database `db`.
pub fn count_in_sqlite(db: &Path, value: &str) -> usize {
    sqlite_files(db).iter().map(|f| occurrences(f, value)).sum()
}
