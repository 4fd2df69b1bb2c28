//! Reading checkout files: CSV (with a header row) or JSON Lines, plain or gzip, from a path or
//! standard input (`-`), each record reduced to its raw email, phone and time by the column
//! (or key) names the flags give.

mod lines;
mod records;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use indicatif::ProgressBar;

pub use lines::Encoding;
use lines::Lines;

/// The layout of a checkout file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row naming the columns.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Which column (CSV) or key (JSON Lines) holds each value. Names match ignoring case and
/// underscores, so `phoneNumber` also finds `phone_number` and `PhoneNumber`.
#[derive(Debug, Clone)]
pub struct Columns {
    /// The email's column.
    pub email: String,
    /// The phone number's column.
    pub phone: String,
    /// The checkout time's column.
    pub time: String,
}

/// One record's raw values, or why it could not be read.
pub struct Raw {
    /// Its line in the file (the line it starts on; a CSV header is line 1).
    pub line: u64,
    /// How many lines it covers: 1, or more for a CSV record whose quoted field holds a line
    /// break.
    pub lines: u64,
    /// The values, or the reason the record is malformed.
    pub values: Result<Values, String>,
}

/// A record's raw email, phone and time (blank or missing: `None`).
pub struct Values {
    /// The email as written.
    pub email: Option<String>,
    /// The phone number as written (a JSON number as its digits).
    pub phone: Option<String>,
    /// The time as written (a JSON number as its digits).
    pub time: Option<String>,
}

/// How a file's text is written beyond its format (`--delimiter`, `--encoding`).
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// The character between a CSV file's fields (`None`: `,`).
    pub delimiter: Option<char>,
    /// The file's encoding.
    pub encoding: Encoding,
}

/// How a file's lines were taken: each is its header, a blank line, or part of one record
/// (which [`Raw::lines`] counts).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// The file's lines.
    pub lines: u64,
    /// Header rows (a CSV file has one).
    pub headers: u64,
    /// Blank lines: empty, or (CSV) only spaces and delimiters, outside any record.
    pub blank: u64,
}

/// An open checkout file.
pub struct Input {
    /// The name messages use (`-` is "standard input").
    pub name: String,
    format: Format,
    reader: Box<dyn BufRead>,
}

/// The format a path's extension names (`.csv`, `.jsonl`, `.ndjson`, each maybe `.gz`).
pub fn format_of(path: &str) -> Option<Format> {
    let lower = path.to_ascii_lowercase();
    let base = lower.strip_suffix(".gz").unwrap_or(&lower);
    if base.ends_with(".csv") {
        Some(Format::Csv)
    } else if base.ends_with(".jsonl") || base.ends_with(".ndjson") {
        Some(Format::Jsonl)
    } else {
        None
    }
}

impl Input {
    /// Opens `path` (`-`: standard input) in `format` (from the extension when `None`),
    /// decompressing gzip when the data starts like gzip; `progress` counts the bytes read.
    pub fn open(
        path: &str,
        format: Option<Format>,
        progress: &ProgressBar,
    ) -> Result<Self, String> {
        let name = if path == "-" {
            "standard input".to_owned()
        } else {
            path.to_owned()
        };
        let format = format.or_else(|| format_of(path)).ok_or_else(|| {
            format!("cannot tell the format of {name}: name it with --format csv or --format jsonl")
        })?;
        let raw: Box<dyn Read> = if path == "-" {
            Box::new(progress.wrap_read(std::io::stdin()))
        } else {
            let file = File::open(path).map_err(|e| format!("cannot open {name}: {e}"))?;
            if let Ok(meta) = file.metadata() {
                progress.inc_length(meta.len());
            }
            Box::new(progress.wrap_read(file))
        };
        let mut buffered = BufReader::with_capacity(1 << 16, raw);
        let gzip = buffered
            .fill_buf()
            .map_err(|e| format!("cannot read {name}: {e}"))?
            .starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead> = if gzip {
            let decoder = flate2::bufread::MultiGzDecoder::new(buffered);
            Box::new(BufReader::with_capacity(1 << 16, decoder))
        } else {
            Box::new(buffered)
        };
        Ok(Input {
            name,
            format,
            reader,
        })
    }

    /// Calls `each` with every record in file order; how the file's lines were taken.
    ///
    /// # Errors
    /// A message naming the file when it cannot be read at all (an I/O error, a line that is
    /// not in its encoding, a CSV header without the named columns, a delimiter for JSON
    /// Lines); malformed records are given to `each` instead.
    pub fn for_each(
        self,
        columns: &Columns,
        dialect: Dialect,
        each: impl FnMut(Raw),
    ) -> Result<Tally, String> {
        let lines = Lines::new(self.reader, &self.name, dialect.encoding)?;
        match (self.format, dialect.delimiter) {
            (Format::Csv, delimiter) => read_csv(lines, &self.name, columns, delimiter, each),
            (Format::Jsonl, None) => read_jsonl(lines, columns, each),
            (Format::Jsonl, Some(_)) => Err(format!(
                "--delimiter is for CSV files, and {} is JSON Lines",
                self.name
            )),
        }
    }
}

/// A column name reduced for matching: lowercase, without underscores, dashes and spaces.
fn reduced(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn read_csv(
    mut lines: Lines<Box<dyn BufRead>>,
    name: &str,
    columns: &Columns,
    delimiter: Option<char>,
    mut each: impl FnMut(Raw),
) -> Result<Tally, String> {
    let delimiter = delimiter.unwrap_or(',');
    let Some(byte) = u8::try_from(delimiter)
        .ok()
        .filter(|b| b.is_ascii() && *b != b'"')
    else {
        return Err(format!(
            "the delimiter {delimiter:?} is not one ASCII character other than '\"'"
        ));
    };
    let mut tally = Tally::default();
    let header = loop {
        match lines.next_line()? {
            None => return Err(format!("{name} is empty: it has no header row")),
            Some(line) if records::is_blank(&line.text, byte) => tally.blank += 1,
            Some(line) => break line,
        }
    };
    tally.headers = 1;
    let headers = records::split_line(&header.text, byte).ok_or_else(|| {
        format!(
            "{name} line {}: the header row opens a quote it does not close",
            header.number
        )
    })?;
    let find = |wanted: &str, flag: &str| {
        let exact = headers.iter().position(|h| h.trim() == wanted);
        exact
            .or_else(|| headers.iter().position(|h| reduced(h) == reduced(wanted)))
            .ok_or_else(|| {
                format!(
                    "{name} has no column {wanted:?} (name it with {flag}); its columns are {}{}",
                    headers.join(", "),
                    delimiter_hint(&headers, delimiter)
                )
            })
    };
    let email = find(&columns.email, "--email-column")?;
    let phone = find(&columns.phone, "--phone-column")?;
    let time = find(&columns.time, "--time-column")?;
    let width = headers.len();
    while let Some(item) = records::next_item(&mut lines, byte, width)? {
        let record = match item {
            records::Item::Blank => {
                tally.blank += 1;
                continue;
            }
            records::Item::Record(record) => record,
        };
        let values = record.fields.and_then(|mut fields| {
            if fields.len() != width {
                let span = match record.lines {
                    1 => String::new(),
                    n => format!(
                        " (a record over lines {}-{})",
                        record.line,
                        record.line + n - 1
                    ),
                };
                return Err(format!(
                    "{} fields where the header has {width}{span}",
                    fields.len()
                ));
            }
            let mut take = |i: usize| Some(std::mem::take(&mut fields[i]));
            Ok(Values {
                email: take(email),
                phone: take(phone),
                time: take(time),
            })
        });
        each(Raw {
            line: record.line,
            lines: record.lines,
            values,
        });
    }
    tally.lines = lines.count();
    Ok(tally)
}

/// When a header came out as one column holding a common delimiter, the flag that splits it.
fn delimiter_hint(headers: &[String], delimiter: char) -> String {
    let [only] = headers else {
        return String::new();
    };
    [';', '\t', '|', ',']
        .into_iter()
        .find(|&d| d != delimiter && only.contains(d))
        .map_or_else(String::new, |d| {
            let flag = if d == '\t' {
                "'\\t'".to_owned()
            } else {
                format!("'{d}'")
            };
            format!(" (fields separated by {flag}? name it with --delimiter {flag})")
        })
}

fn read_jsonl(
    mut lines: Lines<Box<dyn BufRead>>,
    columns: &Columns,
    mut each: impl FnMut(Raw),
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    while let Some(line) = lines.next_line()? {
        let text = line.text.trim();
        if text.is_empty() {
            tally.blank += 1;
            continue;
        }
        each(Raw {
            line: line.number,
            lines: 1,
            values: json_values(text, columns),
        });
    }
    tally.lines = lines.count();
    Ok(tally)
}

/// The values of one JSON Lines record.
fn json_values(text: &str, columns: &Columns) -> Result<Values, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("not a JSON object".to_owned());
    };
    let get = |wanted: &str| -> Result<Option<String>, String> {
        let found = map.get(wanted).or_else(|| {
            map.iter()
                .find(|(k, _)| reduced(k) == reduced(wanted))
                .map(|(_, v)| v)
        });
        match found {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(format!("{wanted} must be a string, a number or null")),
        }
    };
    Ok(Values {
        email: get(&columns.email)?,
        phone: get(&columns.phone)?,
        time: get(&columns.time)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Columns {
        Columns {
            email: "email".into(),
            phone: "phoneNumber".into(),
            time: "createdAt".into(),
        }
    }

    /// Each record's line and its values (or reason), as text.
    type Rows = Vec<(u64, Result<String, String>)>;

    const PLAIN: Dialect = Dialect {
        delimiter: None,
        encoding: Encoding::Utf8,
    };

    fn read(format: Format, data: &'static [u8]) -> Result<Rows, String> {
        read_in(format, PLAIN, data).map(|(rows, _)| rows)
    }

    /// The records of `data` read in `dialect`, and the file's tally, checked to add up.
    fn read_in(
        format: Format,
        dialect: Dialect,
        data: &'static [u8],
    ) -> Result<(Rows, Tally), String> {
        let input = Input {
            name: "test".into(),
            format,
            reader: Box::new(data),
        };
        let mut out = Vec::new();
        let mut record_lines = 0;
        let tally = input.for_each(&columns(), dialect, |raw| {
            let v = raw
                .values
                .map(|v| format!("{:?}|{:?}|{:?}", v.email, v.phone, v.time));
            record_lines += raw.lines;
            out.push((raw.line, v));
        })?;
        assert_eq!(tally.lines, tally.headers + tally.blank + record_lines);
        Ok((out, tally))
    }

    #[test]
    fn csv_columns_are_found_by_name_in_any_spelling() {
        let rows = read(
            Format::Csv,
            b"id,Email,phone_number,created_at\n1,a@x.io,,2023-01-01\n2,\"b,c\"@x.io,555,2023-01-02\n3,only,two\n",
        )
        .unwrap();
        assert_eq!(
            rows[0],
            (
                2,
                Ok(r#"Some("a@x.io")|Some("")|Some("2023-01-01")"#.into())
            )
        );
        assert_eq!(rows[1].0, 3);
        assert!(rows[1].1.as_ref().unwrap().contains(r#""b,c"#));
        assert_eq!(rows[2], (4, Err("3 fields where the header has 4".into())));
    }

    #[test]
    fn a_csv_without_a_named_column_says_which_it_has() {
        let err = read(Format::Csv, b"mail,phone,at\n").unwrap_err();
        assert_eq!(
            err,
            r#"test has no column "email" (name it with --email-column); its columns are mail, phone, at"#
        );
    }

    #[test]
    fn json_lines_take_strings_numbers_and_nulls() {
        let rows = read(
            Format::Jsonl,
            b"{\"email\":\"a@x.io\",\"phoneNumber\":5551,\"createdAt\":1680343200}\n\n{\"email\":null}\n[1]\n{\"email\":true}\n",
        )
        .unwrap();
        assert_eq!(
            rows[0],
            (
                1,
                Ok(r#"Some("a@x.io")|Some("5551")|Some("1680343200")"#.into())
            )
        );
        assert_eq!(rows[1], (3, Ok("None|None|None".into())));
        assert_eq!(rows[2], (4, Err("not a JSON object".into())));
        assert_eq!(
            rows[3].1,
            Err("email must be a string, a number or null".into())
        );
    }

    #[test]
    fn crlf_lines_are_numbered_as_the_file_has_them() {
        let (rows, tally) = read_in(
            Format::Csv,
            PLAIN,
            b"email,phoneNumber,createdAt,note\r\na@x.io,,2023-01-01,\r\nb@x.io,,bad,\r\n\
              c@x.io,,2023-01-03,\"two\r\nlines\"\r\n\r\nd@x.io,,,\r\n",
        )
        .unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [2, 3, 4, 7]);
        assert_eq!(
            rows[1].1,
            Ok(r#"Some("b@x.io")|Some("")|Some("bad")"#.into())
        );
        assert_eq!((tally.lines, tally.headers, tally.blank), (7, 1, 1));
    }

    #[test]
    fn a_quote_left_open_is_one_malformed_line_and_the_orders_after_it_are_read() {
        let (rows, tally) = read_in(
            Format::Csv,
            PLAIN,
            b"email,phoneNumber,createdAt\n\"a@x.io,1,2023-01-01\nb@x.io,2,2023-01-02\n\
              c@x.io,3,2023-01-03\n",
        )
        .unwrap();
        assert_eq!(
            rows[0],
            (
                2,
                Err(
                    "a quote opened here is never closed, so it would swallow lines 3-4 (2 \
                     lines) to the end of the file"
                        .into()
                )
            )
        );
        assert_eq!(rows[1].0, 3);
        assert_eq!(rows[2].0, 4);
        assert_eq!(rows.len(), 3);
        assert_eq!(tally.lines, 4);
    }

    #[test]
    fn a_record_over_several_lines_of_the_wrong_width_names_them() {
        let rows = read(
            Format::Csv,
            b"email,phoneNumber,createdAt\na@x.io,\"1\n2\"\n",
        )
        .unwrap();
        assert_eq!(
            rows,
            [(
                2,
                Err("2 fields where the header has 3 (a record over lines 2-3)".into())
            )]
        );
    }

    #[test]
    fn a_semicolon_windows_1252_file_reads_with_its_dialect() {
        let data = b"Email;phoneNumber;createdAt\r\nZo\xe9@x.fr;\"+33 1\";2023-01-01\r\n";
        let dialect = Dialect {
            delimiter: Some(';'),
            encoding: Encoding::Latin1,
        };
        let (rows, _) = read_in(Format::Csv, dialect, data).unwrap();
        assert_eq!(
            rows,
            [(
                2,
                Ok(r#"Some("Zoé@x.fr")|Some("+33 1")|Some("2023-01-01")"#.into())
            )]
        );
        let tab = Dialect {
            delimiter: Some('\t'),
            ..PLAIN
        };
        let (rows, _) = read_in(
            Format::Csv,
            tab,
            b"email\tphoneNumber\tcreatedAt\na,b\t\t1\n",
        )
        .unwrap();
        assert_eq!(rows, [(2, Ok(r#"Some("a,b")|Some("")|Some("1")"#.into()))]);
    }

    #[test]
    fn a_header_in_one_column_suggests_the_delimiter_it_holds() {
        let err = read(Format::Csv, b"email;phoneNumber;createdAt\n").unwrap_err();
        assert!(
            err.ends_with(
                "its columns are email;phoneNumber;createdAt (fields separated by ';'? name it \
                 with --delimiter ';')"
            ),
            "{err}"
        );
        let err = read(Format::Csv, b"\n\n").unwrap_err();
        assert_eq!(err, "test is empty: it has no header row");
    }

    #[test]
    fn json_lines_count_blank_lines_and_refuse_a_delimiter() {
        let (rows, tally) = read_in(Format::Jsonl, PLAIN, b"{}\r\n  \r\n{}").unwrap();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 3]);
        assert_eq!((tally.lines, tally.headers, tally.blank), (3, 0, 1));
        let comma = Dialect {
            delimiter: Some(','),
            ..PLAIN
        };
        let err = read_in(Format::Jsonl, comma, b"{}\n").unwrap_err();
        assert_eq!(err, "--delimiter is for CSV files, and test is JSON Lines");
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(format_of("orders.CSV.gz"), Some(Format::Csv));
        assert_eq!(format_of("a/b.ndjson"), Some(Format::Jsonl));
        assert_eq!(format_of("-"), None);
    }
}
