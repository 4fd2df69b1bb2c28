//! The text form of a record's lists, shared by the SQL stores: values joined by newlines (no
//! email or phone can contain one), row ids by commas. SQLite stores records in this form;
//! PostgreSQL receives bulk writes in it (`string_to_array`).

use crate::contact::{ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::error::{Error, Result};

/// A record's lists as text: emails, their rows, phones, their rows, secondary ids.
pub(crate) struct RecordText {
    pub emails: String,
    pub email_rows: String,
    pub phones: String,
    pub phone_rows: String,
    pub secondary_ids: String,
}

impl RecordText {
    pub fn of(record: &CustomerRecord) -> Self {
        let emails: Vec<&str> = record.emails.iter().map(Email::as_str).collect();
        let phones: Vec<&str> = record.phone_numbers.iter().map(Phone::as_str).collect();
        RecordText {
            emails: emails.join("\n"),
            email_rows: join_ids(record.email_rows.iter().copied()),
            phones: phones.join("\n"),
            phone_rows: join_ids(record.phone_rows.iter().copied()),
            secondary_ids: join_ids(record.secondary_ids.iter().copied()),
        }
    }

    /// The five lists in order: emails, email rows, phones, phone rows, secondary ids (as a
    /// SQLite merge entry carries them, `store/sqlite/tails.rs`).
    pub fn into_lists(self) -> [String; 5] {
        [
            self.emails,
            self.email_rows,
            self.phones,
            self.phone_rows,
            self.secondary_ids,
        ]
    }

    /// The lists of [`RecordText::into_lists`] back.
    pub fn from_lists(lists: [String; 5]) -> Self {
        let [emails, email_rows, phones, phone_rows, secondary_ids] = lists;
        RecordText {
            emails,
            email_rows,
            phones,
            phone_rows,
            secondary_ids,
        }
    }

    /// Sets `record`'s lists to these, checked to be readable.
    pub fn parse_into(&self, record: &mut CustomerRecord) -> Result<()> {
        let corrupt = |what: &str| Error::CorruptGraph {
            reason: format!(
                "the record of customer {} has unreadable {what}",
                record.primary
            ),
        };
        let emails = split_values(&self.emails);
        let email_rows = split_ids(&self.email_rows).ok_or_else(|| corrupt("email rows"))?;
        let phones = split_values(&self.phones);
        let phone_rows = split_ids(&self.phone_rows).ok_or_else(|| corrupt("phone rows"))?;
        let secondary_ids =
            split_ids(&self.secondary_ids).ok_or_else(|| corrupt("secondary ids"))?;
        if emails.len() != email_rows.len() || phones.len() != phone_rows.len() {
            return Err(corrupt("value lists"));
        }
        record.emails = emails.map(Email::from_record).collect();
        record.email_rows = email_rows.into();
        record.phone_numbers = phones.map(Phone::from_record).collect();
        record.phone_rows = phone_rows.into();
        record.secondary_ids = secondary_ids.into();
        Ok(())
    }
}

fn join_ids(ids: impl Iterator<Item = ContactId>) -> String {
    let ids: Vec<String> = ids.map(|id| id.get().to_string()).collect();
    ids.join(",")
}

fn split_values(text: &str) -> impl ExactSizeIterator<Item = String> {
    let values: Vec<String> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_owned).collect()
    };
    values.into_iter()
}

fn split_ids(text: &str) -> Option<Vec<ContactId>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|n| n.parse().ok().map(ContactId::new))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[test]
    fn lists_round_trip_through_text() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let mut record = CustomerRecord::new(
            ContactId::new(3),
            None,
            Some(&Phone::parse("+1 2").unwrap()),
            at,
        );
        record.add_row(
            ContactId::new(4),
            Some(&Email::parse("é@x.io").unwrap()),
            None,
            at,
        );
        record.add_row(
            ContactId::new(9),
            Some(&Email::parse("b@x.io").unwrap()),
            None,
            at,
        );
        let text = RecordText::of(&record);
        assert_eq!(text.emails, "é@x.io\nb@x.io");
        assert_eq!(text.secondary_ids, "4,9");
        let mut parsed = CustomerRecord {
            primary_has_phone: true,
            ..CustomerRecord::new(ContactId::new(3), None, None, at)
        };
        text.parse_into(&mut parsed).unwrap();
        assert_eq!(parsed, record);
        let blank = CustomerRecord::new(ContactId::new(1), None, None, at);
        let mut parsed = blank.clone();
        RecordText::of(&blank).parse_into(&mut parsed).unwrap();
        assert_eq!(parsed, blank);
        let bad = RecordText {
            email_rows: "x".into(),
            ..RecordText::of(&blank)
        };
        assert!(
            bad.parse_into(&mut parsed)
                .unwrap_err()
                .to_string()
                .contains("customer 1 has unreadable email rows")
        );
    }
}
