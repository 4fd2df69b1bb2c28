//! Reading a database's files as bytes: where an erased value may survive after its rows are
//! gone (free pages, old log frames).

use std::path::{Path, PathBuf};

/// How many times `needle` occurs in the file at `path` (0 when there is no such file).
pub fn occurrences(path: &Path, needle: &str) -> usize {
    occurrences_of_each(path, &[needle])[0]
}

/// How many times each of `needles` occurs in the file at `path` (0 when there is no such
/// file), in one pass over it. Test binaries are built without optimizations: a comparison of
/// every window with every needle took most of a minute over a few megabytes and thirty
/// values; here a position is compared only with the needles that start with its byte.
pub fn occurrences_of_each(path: &Path, needles: &[&str]) -> Vec<usize> {
    let mut counts = vec![0; needles.len()];
    let Ok(bytes) = std::fs::read(path) else {
        return counts;
    };
    let mut starting_with: Vec<Vec<usize>> = vec![Vec::new(); 256];
    for (k, needle) in needles.iter().enumerate() {
        if let Some(&first) = needle.as_bytes().first() {
            starting_with[usize::from(first)].push(k);
        }
    }
    for (at, &byte) in bytes.iter().enumerate() {
        for &k in &starting_with[usize::from(byte)] {
            if bytes[at..].starts_with(needles[k].as_bytes()) {
                counts[k] += 1;
            }
        }
    }
    counts
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
    let needles: Vec<&str> = values.iter().map(String::as_str).collect();
    let mut found = Vec::new();
    for file in sqlite_files(db) {
        for (value, n) in values.iter().zip(occurrences_of_each(&file, &needles)) {
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

/// How many times each of `values` occurs in all the files of the SQLite database `db`.
pub fn counts_in_sqlite(db: &Path, values: &[&str]) -> Vec<usize> {
    let mut counts = vec![0; values.len()];
    for file in sqlite_files(db) {
        for (count, n) in counts.iter_mut().zip(occurrences_of_each(&file, values)) {
            *count += n;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_needle_is_counted_where_it_occurs_overlapping_ones_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bytes");
        std::fs::write(&path, b"aaa\0a@x.io\xff+44a@x.ioaa").unwrap();
        assert_eq!(
            occurrences_of_each(&path, &["a@x.io", "aa", "+44", "b", ""]),
            [2, 3, 1, 0, 0]
        );
        assert_eq!(occurrences(&dir.path().join("none"), "a"), 0);
    }
}
