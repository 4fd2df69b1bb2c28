//! Checkout times as export files spell them: RFC 3339 (`2023-04-01T10:00:00Z`), PostgreSQL's
//! text form (`2023-04-01 10:00:00.123+00`), a date and time without offset (read as UTC), a
//! bare date (midnight UTC), or Unix time in seconds (maybe with a fraction) or milliseconds.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// Parses one time; the error says what was expected.
pub fn parse_time(raw: &str) -> Result<OffsetDateTime, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("missing time".to_owned());
    }
    if let Ok(n) = text.parse::<i64>() {
        return unix(n).ok_or_else(|| format!("unix time {n} is out of range"));
    }
    if let Some(at) = fractional_seconds(text) {
        return at.ok_or_else(|| format!("unix time {text} is out of range"));
    }
    let fail = || {
        format!(
            "unreadable time {text:?} (expected RFC 3339 such as 2023-04-01T10:00:00Z, \
             2023-04-01 10:00:00+00, a date, or Unix seconds)"
        )
    };
    if text.len() == 10 {
        let date = Date::parse(text, &time::format_description::well_known::Iso8601::DATE)
            .map_err(|_| fail())?;
        return Ok(date.midnight().assume_utc());
    }
    let canonical = canonical(text).ok_or_else(fail)?;
    OffsetDateTime::parse(&canonical, &Rfc3339).map_err(|_| fail())
}

/// Unix seconds with a fraction (`1680343200.25`, as `time.time()` gives), when `text` is
/// spelled so: `Some(None)` when out of range.
fn fractional_seconds(text: &str) -> Option<Option<OffsetDateTime>> {
    let (whole, fraction) = text.split_once('.')?;
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(digits) || !all_digits(fraction) {
        return None;
    }
    let seconds: i128 = whole.parse().ok()?;
    // exact: the digits as nanoseconds (beyond nine, dropped), not through a float
    let nanos: i128 = format!("{fraction:0<9}")[..9].parse().ok()?;
    let signed = if whole.starts_with('-') {
        -nanos
    } else {
        nanos
    };
    Some(OffsetDateTime::from_unix_timestamp_nanos(seconds * 1_000_000_000 + signed).ok())
}

/// Seconds, or milliseconds when the number is too large to be seconds of this era.
fn unix(n: i64) -> Option<OffsetDateTime> {
    if n.unsigned_abs() >= 100_000_000_000 {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(n) * 1_000_000).ok()
    } else {
        OffsetDateTime::from_unix_timestamp(n).ok()
    }
}

/// The RFC 3339 spelling of a date-time written with a space, a short offset or none.
fn canonical(text: &str) -> Option<String> {
    let (date, clock) = (text.get(..10)?, text.get(11..)?);
    if !matches!(text.as_bytes().get(10), Some(b' ' | b'T' | b't')) {
        return None;
    }
    let (clock, offset) = match clock.find(['+', '-', 'Z', 'z']) {
        Some(at) => clock.split_at(at),
        None => (clock, "Z"),
    };
    let offset = match offset.len() {
        // +05, -0530: PostgreSQL and ISO 8601 short forms
        3 => format!("{offset}:00"),
        5 if !offset.contains(':') => format!("{}:{}", &offset[..3], &offset[3..]),
        _ => offset.to_owned(),
    };
    Some(format!("{date}T{}{offset}", clock.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_spellings_read_as_the_same_instant() {
        let expected = OffsetDateTime::parse("2023-04-01T10:00:00Z", &Rfc3339).unwrap();
        for raw in [
            "2023-04-01T10:00:00Z",
            "2023-04-01 10:00:00+00",
            "2023-04-01 12:00:00+02:00",
            "2023-04-01 15:30:00+0530",
            "2023-04-01 10:00:00",
            " 2023-04-01T10:00:00.000Z ",
            "1680343200",
            "1680343200000",
            "1680343200.0",
        ] {
            assert_eq!(parse_time(raw).unwrap(), expected, "{raw}");
        }
        let fraction = parse_time("1680343200.25").unwrap() - expected;
        assert_eq!(fraction, time::Duration::milliseconds(250));
        assert_eq!(
            parse_time("2023-04-01").unwrap(),
            expected - time::Duration::hours(10)
        );
    }

    #[test]
    fn bad_times_name_what_was_expected() {
        assert_eq!(parse_time("  ").unwrap_err(), "missing time");
        for raw in [
            "yesterday",
            "2023-13-01",
            "2023-04-01 25:00:00",
            "2023-04-01X10:00",
        ] {
            assert!(
                parse_time(raw).unwrap_err().starts_with("unreadable time"),
                "{raw}"
            );
        }
    }
}
