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
        let emails: Vec<&str> = record.emails.iter().map(|(e, _)| e.as_str()).collect();
        let phones: Vec<&str> = record
            .phone_numbers
            .iter()
            .map(|(p, _)| p.as_str())
            .collect();
        RecordText {
            emails: emails.join("\n"),
            email_rows: join_ids(record.emails.iter().map(|(_, id)| *id)),
            phones: phones.join("\n"),
            phone_rows: join_ids(record.phone_numbers.iter().map(|(_, id)| *id)),
            secondary_ids: join_ids(record.secondary_ids.iter().copied()),
        }
    }

    /// The lists back, checked to be readable; `primary` names the record in errors.
    #[allow(clippy::type_complexity)]
    pub fn parse(
        &self,
        primary: i64,
    ) -> Result<(
        Vec<(Email, ContactId)>,
        Vec<(Phone, ContactId)>,
        Vec<ContactId>,
    )> {
        let corrupt = |what: &str| Error::CorruptGraph {
            reason: format!("the record of customer {primary} has unreadable {what}"),
        };
        let emails = split_values(&self.emails);
        let email_rows = split_ids(&self.email_rows).ok_or_else(|| corrupt("email rows"))?;
        let phones = split_values(&self.phones);
        let phone_rows = split_ids(&self.phone_rows).ok_or_else(|| corrupt("phone rows"))?;
        if emails.len() != email_rows.len() || phones.len() != phone_rows.len() {
            return Err(corrupt("value lists"));
        }
        Ok((
            emails.map(Email::from_record).zip(email_rows).collect(),
            phones.map(Phone::from_record).zip(phone_rows).collect(),
            split_ids(&self.secondary_ids).ok_or_else(|| corrupt("secondary ids"))?,
        ))
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
        let (emails, phones, secondaries) = text.parse(3).unwrap();
        assert_eq!(
            (emails, phones, secondaries),
            (record.emails, record.phone_numbers, record.secondary_ids)
        );
        let empty = RecordText::of(&CustomerRecord::new(ContactId::new(1), None, None, at));
        assert_eq!(empty.parse(1).unwrap(), (vec![], vec![], vec![]));
        let bad = RecordText {
            email_rows: "x".into(),
            ..RecordText::of(&CustomerRecord::new(ContactId::new(1), None, None, at))
        };
        assert!(
            bad.parse(1)
                .unwrap_err()
                .to_string()
                .contains("customer 1 has unreadable email rows")
        );
    }
}
