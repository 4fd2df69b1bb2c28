//! CSV records over a file's physical lines, and the rule that keeps a quote left open from
//! swallowing the orders after it.
//!
//! Fields are split as RFC 4180 and the csv crate do (a field that starts with `"` is quoted,
//! `""` inside it is one `"`, anything after its closing quote is kept as written; a `"` inside
//! an unquoted field is just a character). A quoted field may hold line breaks, so a record may
//! run over several lines; but a quote that is opened and never meant to be closed reaches, the
//! same way, up to the next `"` in the file, taking every order in between as one field.
//!
//! **The rule.** A record whose quoted field runs past the end of its first line is a quote left
//! open when the quote is never closed before the end of the file, or when any line it runs
//! onto starts a record when read on its own: it has the header's number of fields, or it opens
//! a quote of its own in its second field or later, no later than the header's last (it is an
//! order, not the rest of a note). Such a record's first line is reported, naming the line the
//! quote would reach, and the lines after it are read again as records of their own:
//! `--on-error skip` skips only that line. A record that passes the rule is one record over all
//! its lines (a note with a line break), numbered by its first line. The rule's one false alarm
//! is a note whose continuation line itself looks like an order (as many fields as the header):
//! it is reported, never imported wrong.

use std::io::BufRead;

use super::lines::{Line, Lines};

/// One record: where it is and its fields, or why it is malformed.
pub struct Record {
    /// The line it starts on.
    pub line: u64,
    /// How many lines it covers (1 unless a quoted field holds a line break).
    pub lines: u64,
    /// Its fields, or the reason it is not a record.
    pub fields: Result<Vec<String>, String>,
}

/// What the next line or lines of a file are.
pub enum Item {
    /// An empty line, or one of only spaces and delimiters (the `,,,` a spreadsheet writes for
    /// a row it emptied), outside any record: it holds no checkout.
    Blank,
    /// A record (or a quote left open, as a malformed record of one line).
    Record(Record),
}

/// The fields of a record as they are split, line by line.
struct Splitter {
    /// An ASCII character, so the text can be cut wherever it is.
    delimiter: u8,
    state: State,
    fields: Vec<String>,
    field: String,
}

/// Where the splitter is within a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a `"` opens a quoted field.
    Start,
    /// In an unquoted field, or after a quoted field's closing quote.
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// On a `"` in a quoted field: `""` is one `"`, anything else closes the field.
    QuoteInQuoted,
}

impl Splitter {
    fn new(delimiter: u8) -> Self {
        debug_assert!(delimiter.is_ascii() && delimiter != b'"');
        Splitter {
            delimiter,
            state: State::Start,
            fields: Vec::new(),
            field: String::new(),
        }
    }

    /// Splits one more line of the record; true when the record ends with it, false when a
    /// quoted field runs on (its line break then belongs to the field). Text is taken in runs
    /// up to the next `"` (quoted) or delimiter (unquoted), both ASCII.
    fn feed(&mut self, text: &str) -> bool {
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            match (self.state, rest[0]) {
                (State::Quoted, _) => match rest.iter().position(|&b| b == b'"') {
                    Some(quote) => {
                        self.field.push_str(&text[at..at + quote]);
                        self.state = State::QuoteInQuoted;
                        at += quote + 1;
                    }
                    None => {
                        self.field.push_str(&text[at..]);
                        at = bytes.len();
                    }
                },
                (State::QuoteInQuoted, b'"') => {
                    self.field.push('"');
                    self.state = State::Quoted;
                    at += 1;
                }
                (State::Start, b'"') => {
                    self.state = State::Quoted;
                    at += 1;
                }
                // unquoted, or after a closing quote: up to the next delimiter, `"` included
                _ => match rest.iter().position(|&b| b == self.delimiter) {
                    Some(end) => {
                        self.field.push_str(&text[at..at + end]);
                        self.fields.push(std::mem::take(&mut self.field));
                        self.state = State::Start;
                        at += end + 1;
                    }
                    None => {
                        self.field.push_str(&text[at..]);
                        self.state = State::Unquoted;
                        at = bytes.len();
                    }
                },
            }
        }
        if self.state == State::Quoted {
            self.field.push('\n');
            false
        } else {
            true
        }
    }

    fn finish(mut self) -> Vec<String> {
        self.fields.push(self.field);
        self.fields
    }
}

/// The fields of a line read on its own, or `None` when it leaves a quote open. `delimiter` is
/// ASCII and not `"`.
pub fn split_line(text: &str, delimiter: u8) -> Option<Vec<String>> {
    let mut splitter = Splitter::new(delimiter);
    splitter.feed(text).then(|| splitter.finish())
}

/// Whether a line outside a record is blank: nothing but spaces and delimiters.
pub fn is_blank(text: &str, delimiter: u8) -> bool {
    text.chars()
        .all(|c| c == char::from(delimiter) || c.is_whitespace())
}

/// Whether a line, read on its own, starts a record of `width` fields: it has `width` fields,
/// or it opens a quote it leaves open in its second to `width`th field, as the first line of a
/// record with a line break in a quoted field does. (A quote left open in the first field is
/// how the last line of a field ending in a line break reads: `",2023-01-01`.)
fn starts_record(text: &str, delimiter: u8, width: usize) -> bool {
    let mut splitter = Splitter::new(delimiter);
    let ends = splitter.feed(text);
    let fields = splitter.fields.len() + 1;
    if ends {
        fields == width
    } else {
        (2..=width).contains(&fields)
    }
}

/// "line 7", "lines 7-9 (3 lines)".
fn span(from: u64, to: u64) -> String {
    if from == to {
        format!("line {from}")
    } else {
        format!("lines {from}-{to} ({} lines)", to - from + 1)
    }
}

/// The next item of `lines`, a CSV file whose header has `width` fields; `None` at its end.
///
/// # Errors
/// As [`Lines::next_line`].
pub fn next_item<R: BufRead>(
    lines: &mut Lines<R>,
    delimiter: u8,
    width: usize,
) -> Result<Option<Item>, String> {
    let Some(first) = lines.next_line()? else {
        return Ok(None);
    };
    if is_blank(&first.text, delimiter) {
        return Ok(Some(Item::Blank));
    }
    let mut splitter = Splitter::new(delimiter);
    if splitter.feed(&first.text) {
        return Ok(Some(Item::Record(Record {
            line: first.number,
            lines: 1,
            fields: Ok(splitter.finish()),
        })));
    }
    // a quoted field runs past the end of the line: follow it to its closing quote
    let mut after: Vec<Line> = Vec::new();
    let mut swallows_records = false;
    let closed_on = loop {
        let Some(line) = lines.next_line()? else {
            break None;
        };
        swallows_records = swallows_records || starts_record(&line.text, delimiter, width);
        let closes = splitter.feed(&line.text);
        let number = line.number;
        after.push(line);
        if closes {
            break Some(number);
        }
    };
    let reason = match (closed_on, after.last()) {
        (Some(_), _) if !swallows_records => {
            return Ok(Some(Item::Record(Record {
                line: first.number,
                lines: 1 + after.len() as u64,
                fields: Ok(splitter.finish()),
            })));
        }
        (Some(last), _) => format!(
            "a quote opened here is closed only on line {last}, so it would swallow {}",
            span(first.number + 1, last)
        ),
        (None, Some(last)) => format!(
            "a quote opened here is never closed, so it would swallow {} to the end of the file",
            span(first.number + 1, last.number)
        ),
        (None, None) => "a quote opened here is never closed (the file ends with this line)".into(),
    };
    lines.give_back(after);
    Ok(Some(Item::Record(Record {
        line: first.number,
        lines: 1,
        fields: Err(reason),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::lines::Encoding;

    /// Every item of `data` (a CSV file without its header, whose header has `width` fields)
    /// as (line, lines, fields joined by `|` or the reason); blank lines as (0, 0, "").
    fn items(data: &str, width: usize) -> Vec<(u64, u64, Result<String, String>)> {
        let mut lines = Lines::new(data.as_bytes(), "test", Encoding::Utf8).unwrap();
        let mut out = Vec::new();
        while let Some(item) = next_item(&mut lines, b',', width).unwrap() {
            match item {
                Item::Blank => out.push((0, 0, Ok(String::new()))),
                Item::Record(r) => out.push((r.line, r.lines, r.fields.map(|f| f.join("|")))),
            }
        }
        out
    }

    #[test]
    fn fields_split_as_rfc_4180_says() {
        let split = |text| split_line(text, b',').map(|f| f.join("|"));
        assert_eq!(
            split("a,,\"b,c\",\"say \"\"hi\"\"\""),
            Some("a||b,c|say \"hi\"".into())
        );
        assert_eq!(
            split("a\"b\",\"c\"d, \"e\""),
            Some("a\"b\"|cd| \"e\"".into())
        );
        assert_eq!(split(""), Some(String::new()));
        assert_eq!(split("a,\"b"), None);
        assert_eq!(split_line("a;\"b;c\";d", b';').unwrap(), ["a", "b;c", "d"]);
    }

    #[test]
    fn a_quoted_line_break_in_a_note_is_one_record_over_its_lines() {
        let data = "1,a@x.io,\"leave it\nat the door, please\"\n2,b@x.io,\n";
        assert_eq!(
            items(data, 3),
            vec![
                (1, 2, Ok("1|a@x.io|leave it\nat the door, please".into())),
                (3, 1, Ok("2|b@x.io|".into())),
            ]
        );
    }

    #[test]
    fn a_quote_that_would_swallow_orders_is_reported_and_they_are_read_on_their_own() {
        let data = "1,a@x.io,\"fragile\n2,b@x.io,\n3,c@x.io,\"gift\"\n4,d@x.io,\n";
        assert_eq!(
            items(data, 3),
            vec![
                (
                    1,
                    1,
                    Err(
                        "a quote opened here is closed only on line 3, so it would swallow \
                         lines 2-3 (2 lines)"
                            .into()
                    )
                ),
                (2, 1, Ok("2|b@x.io|".into())),
                (3, 1, Ok("3|c@x.io|gift".into())),
                (4, 1, Ok("4|d@x.io|".into())),
            ]
        );
    }

    #[test]
    fn a_quote_never_closed_is_reported_even_when_it_swallows_no_order() {
        let data = "1,a@x.io,\"fragile\nhandle with care\n\n";
        assert_eq!(
            items(data, 3),
            vec![
                (
                    1,
                    1,
                    Err(
                        "a quote opened here is never closed, so it would swallow lines 2-3 \
                         (2 lines) to the end of the file"
                            .into()
                    )
                ),
                (2, 1, Ok("handle with care".into())),
                (0, 0, Ok(String::new())),
            ]
        );
        assert_eq!(
            items("1,\"a@x.io,\r\n", 3),
            vec![(
                1,
                1,
                Err("a quote opened here is never closed (the file ends with this line)".into())
            )]
        );
    }

    #[test]
    fn an_order_that_opens_a_note_of_its_own_is_not_swallowed() {
        // line 1's quote would close on line 2, an order whose note runs onto line 3
        let data = "1,a@x.io,\"oops\n2,b@x.io,\"two\nlines\"\n3,c@x.io,\n";
        let got = items(data, 3);
        assert_eq!(
            got[0],
            (
                1,
                1,
                Err(
                    "a quote opened here is closed only on line 2, so it would swallow line 2"
                        .into()
                )
            )
        );
        assert_eq!(got[1], (2, 2, Ok("2|b@x.io|two\nlines".into())));
        assert_eq!(got[2], (4, 1, Ok("3|c@x.io|".into())));
    }

    #[test]
    fn a_note_ending_in_a_line_break_is_one_record() {
        let data = "1,\"leave it\n\",x@y.io\n2,,b@x.io\n";
        assert_eq!(
            items(data, 3),
            vec![
                (1, 2, Ok("1|leave it\n|x@y.io".into())),
                (3, 1, Ok("2||b@x.io".into())),
            ]
        );
    }

    #[test]
    fn blank_lines_are_empty_or_only_spaces_and_delimiters() {
        let got = items("\n , ,\n1,a@x.io,\n,,\n", 3);
        assert_eq!(
            got,
            vec![
                (0, 0, Ok(String::new())),
                (0, 0, Ok(String::new())),
                (3, 1, Ok("1|a@x.io|".into())),
                (0, 0, Ok(String::new())),
            ]
        );
    }

    /// The splitter against the csv crate on random text made of the characters that matter,
    /// with the rule switched off (no line starts a record of width 0): the same records, line
    /// breaks inside quotes read as `\n`, wherever every quote is closed.
    #[test]
    fn records_are_the_csv_crates_when_no_order_is_swallowed() {
        let alphabet = ['a', ',', '"', ' ', '\n', '\r'];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut compared = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let ours: Vec<Result<String, String>> = items(&text, 0)
                .into_iter()
                .filter(|(_, lines, _)| *lines > 0)
                .map(|(_, _, fields)| fields)
                .collect();
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let theirs: Vec<Result<String, String>> = reader
                .records()
                .map(|r| {
                    let fields: Vec<String> = r
                        .unwrap()
                        .iter()
                        .map(|f| f.replace("\r\n", "\n").replace('\r', "\n"))
                        .collect();
                    Ok(fields.join("|"))
                })
                .collect();
            // where a quote is never closed, we report it and read on; the csv crate ends
            // the record at the end of the file: compare only files whose quotes close
            if ours.iter().all(Result::is_ok) {
                let blank_free: Vec<_> = theirs
                    .into_iter()
                    .filter(|r| {
                        !r.as_ref()
                            .unwrap()
                            .chars()
                            .all(|c| c == '|' || c.is_whitespace())
                    })
                    .collect();
                let ours: Vec<_> = ours
                    .into_iter()
                    .filter(|r| {
                        !r.as_ref()
                            .unwrap()
                            .chars()
                            .all(|c| c == '|' || c.is_whitespace())
                    })
                    .collect();
                assert_eq!(ours, blank_free, "{text:?}");
                compared += 1;
            }
        }
        assert!(
            compared > 1000,
            "only {compared} files had every quote closed"
        );
    }
}
