//! A customer record from its PostgreSQL columns: a header, the base lists and the tail lists
//! (see `identity_customer` in `migrations/postgres/*_baseline.sql`). Either list part may be
//! absent because the reader holds it (by version), and then comes from what it holds.

use std::sync::Arc;

use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::contact::{ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::error::{Error, Result};
use crate::shared_list::SharedList;
use crate::store::record_cache::Held;

use crate::store::Outcome;

/// Columns in a record's block: the header, then the base lists, then the tail lists.
const HEADER: usize = 6;
const LISTS: usize = 5;

/// How many columns a record's block spans.
pub(crate) const BLOCK: usize = HEADER + 2 * LISTS;

/// The columns of a record besides its lists.
struct Header {
    version: i64,
    base_version: i64,
    created_at: OffsetDateTime,
    last_row_at: OffsetDateTime,
    primary_has_email: bool,
    primary_has_phone: bool,
}

impl Header {
    /// The header from `at` (version, base version, created at, last row at, primary has email,
    /// primary has phone), or `None` when there is no record (a NULL version).
    fn at(row: &PgRow, at: usize) -> sqlx::Result<Option<Header>> {
        let Some(version) = row.try_get::<Option<i64>, _>(at)? else {
            return Ok(None);
        };
        Ok(Some(Header {
            version,
            base_version: row.try_get(at + 1)?,
            created_at: row.try_get(at + 2)?,
            last_row_at: row.try_get(at + 3)?,
            primary_has_email: row.try_get(at + 4)?,
            primary_has_phone: row.try_get(at + 5)?,
        }))
    }

    /// A record of `primary` at `version` with this header and no values or secondaries.
    fn empty(&self, primary: ContactId, version: i64) -> CustomerRecord {
        CustomerRecord {
            primary,
            created_at: self.created_at,
            last_row_at: self.last_row_at,
            emails: SharedList::new(),
            email_rows: SharedList::new(),
            phone_numbers: SharedList::new(),
            phone_rows: SharedList::new(),
            primary_has_email: self.primary_has_email,
            primary_has_phone: self.primary_has_phone,
            secondary_ids: SharedList::new(),
            version,
        }
    }

    /// The base of `primary` at `version` from its lists as sent.
    fn base(&self, primary: ContactId, version: i64, lists: Lists) -> Result<Arc<CustomerRecord>> {
        let mut base = self.empty(primary, version);
        lists.append_to(&mut base)?;
        Ok(Arc::new(base))
    }
}

/// One part of a record's lists, as sent: emails, their first rows, phones, their first rows,
/// secondary ids.
#[derive(Debug, Default)]
pub(crate) struct Lists {
    emails: Vec<String>,
    email_rows: Vec<i64>,
    phones: Vec<String>,
    phone_rows: Vec<i64>,
    secondary_ids: Vec<i64>,
}

impl Lists {
    /// The five list columns from `at`, or `None` when they were not sent (NULL).
    pub(crate) fn at(row: &PgRow, at: usize) -> sqlx::Result<Option<Lists>> {
        let Some(emails) = row.try_get::<Option<Vec<String>>, _>(at)? else {
            return Ok(None);
        };
        let ids = |i: usize| -> sqlx::Result<Vec<i64>> {
            Ok(row.try_get::<Option<Vec<i64>>, _>(i)?.unwrap_or_default())
        };
        Ok(Some(Lists {
            emails,
            email_rows: ids(at + 1)?,
            phones: row
                .try_get::<Option<Vec<String>>, _>(at + 2)?
                .unwrap_or_default(),
            phone_rows: ids(at + 3)?,
            secondary_ids: ids(at + 4)?,
        }))
    }

    /// Appends these lists to `record`'s.
    pub(crate) fn append_to(self, record: &mut CustomerRecord) -> Result<()> {
        if self.emails.len() != self.email_rows.len() || self.phones.len() != self.phone_rows.len()
        {
            return Err(Error::CorruptGraph {
                reason: format!(
                    "the record of customer {} has value lists of unequal length",
                    record.primary
                ),
            });
        }
        let ids = |v: Vec<i64>| v.into_iter().map(ContactId::new);
        record
            .emails
            .extend(self.emails.into_iter().map(Email::from_record));
        record.email_rows.extend(ids(self.email_rows));
        record
            .phone_numbers
            .extend(self.phones.into_iter().map(Phone::from_record));
        record.phone_rows.extend(ids(self.phone_rows));
        record.secondary_ids.extend(ids(self.secondary_ids));
        Ok(())
    }
}

/// The record of `owner` whose block starts at `at`, from the columns sent and what `held`
/// holds; with whether any lists were sent (then it is worth keeping). `None` when the block
/// is empty (no record).
pub(crate) fn decode(
    row: &PgRow,
    at: usize,
    owner: ContactId,
    held: &[Held],
) -> Outcome<Option<(Held, bool)>> {
    let Some(header) = Header::at(row, at)? else {
        return Ok(None);
    };
    let missing = |what: &str| Error::CorruptGraph {
        reason: format!("the record of customer {owner} came without its {what}"),
    };
    let Some(tail) = Lists::at(row, at + HEADER + LISTS)? else {
        // this version is held
        let same = held
            .iter()
            .find(|h| h.record.primary == owner && h.record.version == header.version);
        return same
            .map(|h| Some((h.clone(), false)))
            .ok_or_else(|| missing("value lists").into());
    };
    let base = match Lists::at(row, at + HEADER)? {
        Some(lists) => header.base(owner, header.base_version, lists)?,
        None => held
            .iter()
            .find(|h| h.base.primary == owner && h.base.version == header.base_version)
            .map(|h| Arc::clone(&h.base))
            .ok_or_else(|| missing("base lists"))?,
    };
    Ok(Some((on_base(base, &header, tail)?, true)))
}

/// `base` with `tail` appended, at the header's version.
fn on_base(base: Arc<CustomerRecord>, header: &Header, tail: Lists) -> Result<Held> {
    if header.version == base.version {
        return Ok(Held {
            record: Arc::clone(&base),
            base,
        });
    }
    let mut record = CustomerRecord {
        version: header.version,
        last_row_at: header.last_row_at,
        ..(*base).clone()
    };
    tail.append_to(&mut record)?;
    Ok(Held {
        record: Arc::new(record),
        base,
    })
}

/// What `identity_add_row` says of the record it left: its version and base version, and the
/// base version that the tail it sent (if any) extends.
pub(crate) struct Appended {
    pub version: i64,
    pub base_version: i64,
    pub on_base: i64,
    pub last_row_at: OffsetDateTime,
}

/// The record an appending write left when the customer changed since it was read:
/// `customer` as read for the header, the base the tail extends (sent, or held), and the tail.
pub(crate) fn after_append(
    customer: &CustomerRecord,
    appended: &Appended,
    base_lists: Option<Lists>,
    held_base: Option<Arc<CustomerRecord>>,
    tail: Lists,
) -> Result<Held> {
    let header = Header {
        version: appended.version,
        base_version: appended.on_base,
        created_at: customer.created_at,
        last_row_at: appended.last_row_at,
        primary_has_email: customer.primary_has_email,
        primary_has_phone: customer.primary_has_phone,
    };
    let base = match base_lists {
        Some(lists) => header.base(customer.primary, appended.on_base, lists)?,
        None => held_base
            .filter(|b| b.version == appended.on_base)
            .ok_or_else(|| Error::CorruptGraph {
                reason: format!(
                    "the record of customer {} came without its base lists",
                    customer.primary
                ),
            })?,
    };
    let held = on_base(base, &header, tail)?;
    if appended.base_version == appended.version {
        // the write folded the tail into a new base: the record is its own base
        return Ok(Held::whole(Arc::unwrap_or_clone(held.record)));
    }
    Ok(held)
}
