//! A checkout file's physical lines, numbered from 1 and decoded to text: a line ends at `\n`,
//! `\r\n` (every Excel export) or a lone `\r` (old Mac files), so a line number is the one an
//! editor shows.

use std::io::{BufRead, Chain, Cursor, ErrorKind, Read};

/// How a file's bytes are text (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8.
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// Latin-1 (ISO-8859-1), read as Windows-1252 as browsers do (they differ in 0x80-0x9F only:
    /// control characters in Latin-1, `€ „ … “ ” – —` in Windows-1252).
    #[value(name = "latin-1", aliases = ["latin1", "iso-8859-1"])]
    Latin1,
    /// Windows-1252: Excel's "CSV" on a Western European Windows.
    #[value(name = "windows-1252", alias = "cp1252")]
    Windows1252,
}

/// One line: its number and its text, without the line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its number in the file, from 1.
    pub number: u64,
    /// Its text.
    pub text: String,
}

/// The lines of one file, in order; lines taken out can be given back to be read again.
pub struct Lines<R> {
    /// The first bytes (those a byte-order mark left), then the rest of the file.
    reader: Chain<Cursor<Vec<u8>>, R>,
    name: String,
    encoding: Encoding,
    /// Lines read from the file so far.
    read: u64,
    /// The last line ended in `\r`: a `\n` right after it belongs to that line break.
    after_cr: bool,
    /// Lines given back, the next one last.
    given_back: Vec<Line>,
    bytes: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    /// The lines of `reader`, a file messages call `name`. A UTF-8 byte-order mark at the start
    /// is skipped and makes the file UTF-8 whatever `encoding` says (as browsers read it).
    ///
    /// # Errors
    /// A message naming the file when it cannot be read, or starts with a UTF-16 byte-order
    /// mark (Excel's "Unicode text").
    pub fn new(mut reader: R, name: &str, encoding: Encoding) -> Result<Self, String> {
        // the first three bytes, however the reader hands them out
        let mut start = Vec::with_capacity(3);
        while start.len() < 3 {
            let mut byte = [0u8];
            match reader.read(&mut byte) {
                Ok(0) => break,
                Ok(_) => start.push(byte[0]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot read {name}: {e}")),
            }
        }
        let mut encoding = encoding;
        if start == b"\xef\xbb\xbf" {
            start.clear();
            encoding = Encoding::Utf8;
        } else if start.starts_with(b"\xff\xfe") || start.starts_with(b"\xfe\xff") {
            return Err(format!(
                "{name} is UTF-16 (it starts with a UTF-16 byte-order mark): save it as CSV \
                 UTF-8, or CSV in your system's encoding and name it with --encoding"
            ));
        }
        Ok(Lines {
            reader: Cursor::new(start).chain(reader),
            name: name.to_owned(),
            encoding,
            read: 0,
            after_cr: false,
            given_back: Vec::new(),
            bytes: Vec::new(),
        })
    }

    /// How many lines the file has had so far: at its end, how many it has.
    pub fn count(&self) -> u64 {
        self.read
    }

    /// Gives `lines` back, in order, to be the next ones read.
    pub fn give_back(&mut self, lines: Vec<Line>) {
        self.given_back.extend(lines.into_iter().rev());
    }

    /// The next line, or `None` at the end of the file.
    ///
    /// # Errors
    /// A message naming the file when it cannot be read, and naming the line when it is not
    /// UTF-8 under [`Encoding::Utf8`].
    pub fn next_line(&mut self) -> Result<Option<Line>, String> {
        if let Some(line) = self.given_back.pop() {
            return Ok(Some(line));
        }
        if !self.next_bytes()? {
            return Ok(None);
        }
        self.read += 1;
        let text = match self.encoding {
            Encoding::Utf8 => std::str::from_utf8(&self.bytes)
                .map_err(|e| {
                    let at = e.valid_up_to();
                    format!(
                        "{} line {} is not UTF-8 (byte {} is 0x{:02X}): if the file is Latin-1 \
                         or Windows-1252, name it with --encoding latin-1 or --encoding \
                         windows-1252",
                        self.name,
                        self.read,
                        at + 1,
                        self.bytes[at]
                    )
                })?
                .to_owned(),
            Encoding::Latin1 | Encoding::Windows1252 => encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(&self.bytes)
                .0
                .into_owned(),
        };
        Ok(Some(Line {
            number: self.read,
            text,
        }))
    }

    /// Reads the next line's bytes into `self.bytes`; false at the end of the file.
    fn next_bytes(&mut self) -> Result<bool, String> {
        self.bytes.clear();
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("cannot read {}: {e}", self.name)),
            };
            if available.is_empty() {
                // the last line may end without a line break
                return Ok(!self.bytes.is_empty());
            }
            if std::mem::take(&mut self.after_cr) && available[0] == b'\n' {
                self.reader.consume(1);
                continue;
            }
            match available.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.bytes.extend_from_slice(&available[..end]);
                    self.after_cr = available[end] == b'\r';
                    self.reader.consume(end + 1);
                    return Ok(true);
                }
                None => {
                    let all = available.len();
                    self.bytes.extend_from_slice(available);
                    self.reader.consume(all);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of `data` as (number, text), read through a buffer of `capacity` bytes.
    fn lines(
        data: &[u8],
        encoding: Encoding,
        capacity: usize,
    ) -> Result<Vec<(u64, String)>, String> {
        let reader = std::io::BufReader::with_capacity(capacity, data);
        let mut lines = Lines::new(reader, "test", encoding)?;
        let mut out = Vec::new();
        while let Some(line) = lines.next_line()? {
            out.push((line.number, line.text));
        }
        assert_eq!(lines.count(), out.len() as u64);
        Ok(out)
    }

    fn numbered(texts: &[&str]) -> Vec<(u64, String)> {
        (1..).zip(texts.iter().map(|t| (*t).to_owned())).collect()
    }

    #[test]
    fn lf_crlf_and_lone_cr_each_end_one_line_whatever_the_buffer_splits() {
        let data = b"a,b\r\n\r\nc\rd\n\ne";
        for capacity in [1, 2, 3, 64] {
            assert_eq!(
                lines(data, Encoding::Utf8, capacity).unwrap(),
                numbered(&["a,b", "", "c", "d", "", "e"]),
                "buffer of {capacity}"
            );
        }
        assert_eq!(
            lines(b"a\r\n", Encoding::Utf8, 1).unwrap(),
            numbered(&["a"])
        );
        assert_eq!(lines(b"", Encoding::Utf8, 8).unwrap(), numbered(&[]));
        assert_eq!(lines(b"ab", Encoding::Utf8, 1).unwrap(), numbered(&["ab"]));
    }

    #[test]
    fn lines_given_back_are_read_again_in_order_with_their_numbers() {
        let mut lines = Lines::new(&b"1\n2\n3\n4\n"[..], "test", Encoding::Utf8).unwrap();
        let first = lines.next_line().unwrap().unwrap();
        let second = lines.next_line().unwrap().unwrap();
        let third = lines.next_line().unwrap().unwrap();
        lines.give_back(vec![second, third]);
        let again: Vec<u64> = std::iter::from_fn(|| lines.next_line().unwrap())
            .map(|l| l.number)
            .collect();
        assert_eq!((first.number, again), (1, vec![2, 3, 4]));
        assert_eq!(lines.count(), 4);
    }

    #[test]
    fn latin_1_and_windows_1252_decode_accents_and_the_euro() {
        let data = b"Jos\xe9;\x80 12\n";
        for encoding in [Encoding::Latin1, Encoding::Windows1252] {
            assert_eq!(lines(data, encoding, 8).unwrap(), numbered(&["José;€ 12"]));
        }
    }

    #[test]
    fn a_line_that_is_not_utf_8_is_named_with_the_flag_that_reads_it() {
        let err = lines(b"email\nok\nJos\xe9\n", Encoding::Utf8, 64).unwrap_err();
        assert_eq!(
            err,
            "test line 3 is not UTF-8 (byte 4 is 0xE9): if the file is Latin-1 or \
             Windows-1252, name it with --encoding latin-1 or --encoding windows-1252"
        );
    }

    #[test]
    fn a_utf_8_byte_order_mark_is_skipped_and_makes_the_file_utf_8() {
        let data = "\u{feff}email\nJosé\n".as_bytes();
        for encoding in [Encoding::Utf8, Encoding::Latin1] {
            assert_eq!(
                lines(data, encoding, 2).unwrap(),
                numbered(&["email", "José"])
            );
        }
        let err = lines(b"\xff\xfee\x00", Encoding::Utf8, 64).unwrap_err();
        assert!(err.starts_with("test is UTF-16"), "{err}");
    }
}
