//! Imports through the handle (facade layer): checkouts, a table's rows, and either one as
//! JSON-shaped records.

use super::connect::Identity;
use crate::error::{Error, Field, Result};
use crate::import::{
    Checkout, ImportBatch, ImportOptions, ImportReport, OnError, Origins, REJECTED_SHOWN, Record,
    Rejected, TableRow, checkout_from_json, rejection, table_row_from_json,
};

impl Identity {
    /// Imports historical checkouts into the handle's tenant, which must have no contact rows:
    /// the rows, customers and primaries that replaying them one by one through
    /// [`crate::Identity::identify`] in time order would give (ties in the order given), each
    /// row created at its checkout's time, written in one transaction with the derived records
    /// and a history event (`existing`) per row. Blocked and suppressed values are left out and
    /// phone numbers read in the tenant's phone region, as online.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::import::{Checkout, ImportOptions};
    /// use identity::IdentifyRequest;
    /// use time::OffsetDateTime;
    ///
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// let at = |unix| OffsetDateTime::from_unix_timestamp(unix).unwrap();
    /// let checkouts = vec![
    ///     Checkout::new(IdentifyRequest::parse(Some("doc@hillvalley.edu"), Some("5550101"))?,
    ///                   at(1_551_434_400), 1),
    ///     Checkout::new(IdentifyRequest::parse(Some("emmett@hillvalley.edu"), Some("5550101"))?,
    ///                   at(1_593_887_400), 2),
    /// ];
    /// let report = identity.import(checkouts, ImportOptions::default()).await?;
    /// assert_eq!((report.rows, report.customers), (2, 1));
    /// let c = identity.lookup(Some("emmett@hillvalley.edu"), None).await?.unwrap();
    /// assert_eq!(c.emails.len(), 2);
    /// assert!(identity.verify().await?.is_clean());
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] when the tenant has rows or per-customer limits;
    /// [`Error::InvalidInput`] naming [`Field::Checkouts`] when the tenant's phone region refuses
    /// a checkout under [`OnError::Abort`]; otherwise as [`crate::ContactStore::identify`].
    /// Nothing is written when an error is returned.
    pub async fn import(
        &self,
        checkouts: Vec<Checkout>,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        self.store()
            .import(self.tenant_id(), ImportBatch::Checkouts(checkouts), options)
            .await
    }

    /// Imports an existing deployment's contact table (its rows, soft-deleted ones included) into
    /// the handle's tenant, which must have no contact rows. Every row keeps its id; rows the table
    /// linked stay one customer, also through deleted rows; each customer is led by its oldest row,
    /// which is the row the table made primary wherever the contract allows. Where it does not, the
    /// report says which customers are led by another row and why
    /// ([`TableOutcome::changed_customers`](crate::import::TableOutcome::changed_customers): the
    /// old service's duplicates, merges that normalizing values makes, a primary deleted, left out
    /// or not the oldest) and lists every table id that no longer names the same row of the same
    /// customer ([`TableOutcome::moved_rows`](crate::import::TableOutcome::moved_rows): rows folded
    /// because they add no value, deleted or refused rows, rows whose customer changed). Rows
    /// written later get ids above the table's highest, deleted rows included. Written in one
    /// transaction with the derived records and an `existing` history event per row.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::import::{CustomerChange, ImportOptions, TableRow};
    /// use identity::ContactId;
    /// use time::OffsetDateTime;
    ///
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// let at = |minute: i64| OffsetDateTime::from_unix_timestamp(1_680_343_200 + 60 * minute).unwrap();
    /// let rows = vec![
    ///     TableRow::new(11).email("doc@hillvalley.edu").phone_number("555").created_at(at(0)),
    ///     TableRow::new(12).email("emmett@hillvalley.edu").phone_number("555")
    ///         .linked_to(11).created_at(at(1)),
    ///     TableRow::new(14).email("Doc@HillValley.edu").created_at(at(2)), // the same email
    ///     TableRow::new(15).email("biff@hillvalley.edu").created_at(at(3)).deleted(true),
    /// ];
    /// let report = identity.import_table(rows, ImportOptions::default()).await?;
    /// assert_eq!((report.rows, report.customers), (2, 1));
    /// let table = report.table.unwrap();
    /// assert_eq!(table.changed(CustomerChange::Normalized), 1); // 14 is part of 11 now
    /// let doc = identity.lookup(Some("emmett@hillvalley.edu"), None).await?.unwrap();
    /// assert_eq!(doc.primary_contact_id, ContactId::new(11)); // the table's own ids
    /// let next = identity.identify(Some("marty@hillvalley.edu"), None).await?;
    /// assert_eq!(next.primary_contact_id, ContactId::new(16)); // above every id of the table
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] when the tenant has rows or per-customer limits, or when the store
    /// has given out an id as high as the table's lowest (then import into a new database, or
    /// renumber with [`ImportOptions::renumber`]); [`Error::InvalidInput`] naming
    /// [`Field::Table`] when two rows share an id, or a row is refused (malformed, or its phone
    /// refused by the tenant's region) under [`OnError::Abort`]; otherwise as
    /// [`crate::ContactStore::identify`]. Nothing is written when an error is returned.
    pub async fn import_table(
        &self,
        rows: Vec<TableRow>,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        self.store()
            .import(self.tenant_id(), ImportBatch::Table(rows), options)
            .await
    }

    /// Imports checkout records (see [`checkout_from_json`]; values or their JSON text, see
    /// [`Record`]) into the handle's tenant, as
    /// [`crate::Identity::import`] does, ties in the order given. A malformed record is refused
    /// by its index: under [`OnError::Abort`] nothing is written and the error names the first
    /// ones; under [`OnError::Skip`] the rest are imported and the report counts and lists the
    /// refused ones (malformed first, then those the tenant's phone region refuses).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::import::{ImportOptions, OnError};
    /// use serde_json::json;
    ///
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// let records = [
    ///     json!({"email": "doc@hillvalley.edu", "phoneNumber": "5550101", "at": "2019-03-01T10:00:00Z"}),
    ///     json!({"email": "emmett@hillvalley.edu", "phoneNumber": 5550101, "at": 1593887400}),
    ///     json!({"email": "not-an-email", "at": "2020-01-01"}),
    /// ];
    /// let refused = identity.import_records(&records, ImportOptions::default()).await;
    /// assert!(refused.unwrap_err().to_string().contains("record 2: invalid email"));
    ///
    /// let skip = ImportOptions::default().on_error(OnError::Skip);
    /// let report = identity.import_records(&records, skip).await?;
    /// assert_eq!((report.rows, report.customers, report.rejected), (2, 1, 1));
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::Identity::import`] (a tenant with rows is refused before any record is
    /// judged), and [`crate::Error::InvalidInput`] naming [`crate::Field::Checkouts`] for
    /// malformed records under [`OnError::Abort`].
    pub async fn import_records<R: Record>(
        &self,
        records: &[R],
        options: ImportOptions,
    ) -> Result<ImportReport> {
        let mut checkouts = Vec::with_capacity(records.len());
        let mut malformed = ImportReport::default();
        for (index, record) in records.iter().enumerate() {
            let read = record.value();
            match read.and_then(|value| checkout_from_json(&value, index as u64)) {
                Ok(checkout) => checkouts.push(checkout),
                Err(reason) => {
                    malformed.rejected += 1;
                    if malformed.first_rejected.len() < REJECTED_SHOWN {
                        malformed.first_rejected.push(Rejected {
                            origin: index as u64,
                            reason,
                        });
                    }
                }
            }
        }
        if malformed.rejected > 0 && options.on_error == OnError::Abort {
            // the tenant's refusal (rows, limits) comes first, as for a file import
            self.import(Vec::new(), options.dry_run(true)).await?;
            return Err(rejection(&malformed, Origins::Records));
        }
        let mut report = self.import(checkouts, options).await?;
        report.checkouts += malformed.rejected;
        report.rejected += malformed.rejected;
        let later = std::mem::take(&mut report.first_rejected);
        report.first_rejected = malformed.first_rejected;
        report.first_rejected.extend(later);
        report.first_rejected.truncate(REJECTED_SHOWN);
        Ok(report)
    }

    /// Imports a table's rows handed over as records in the table's own column names (see
    /// [`table_row_from_json`]: what an ORM's `findMany()` gives; values or their JSON text,
    /// see [`Record`]), as
    /// [`crate::Identity::import_table`] does.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::import::ImportOptions;
    /// use serde_json::json;
    ///
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// let rows = [
    ///     json!({"id": 4, "email": "doc@hillvalley.edu", "phoneNumber": "555",
    ///            "linkedId": null, "createdAt": "2023-04-01T10:00:00Z", "deletedAt": null}),
    ///     json!({"id": 9, "email": "emmett@hillvalley.edu", "phoneNumber": "555",
    ///            "linkedId": 4, "createdAt": "2023-04-01T10:05:00Z", "deletedAt": null}),
    /// ];
    /// let report = identity.import_table_records(&rows, ImportOptions::default()).await?;
    /// assert_eq!(report.ids.map(|(a, b)| (a.get(), b.get())), Some((4, 9)));
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::Identity::import_table`] (a tenant with rows is refused first), and
    /// [`crate::Error::InvalidInput`] naming [`crate::Field::Table`] for a record that is no
    /// row (named by its index).
    pub async fn import_table_records<R: Record>(
        &self,
        records: &[R],
        options: ImportOptions,
    ) -> Result<ImportReport> {
        let rows: std::result::Result<Vec<TableRow>, String> = records
            .iter()
            .enumerate()
            .map(|(index, record)| {
                let value = record.value().map_err(|e| format!("record {index}: {e}"))?;
                table_row_from_json(&value, index)
            })
            .collect();
        match rows {
            Ok(rows) => self.import_table(rows, options).await,
            Err(reason) => {
                // the tenant's refusal (rows, limits) comes first
                self.import_table(Vec::new(), options.dry_run(true)).await?;
                Err(Error::invalid(Field::Table, reason))
            }
        }
    }
}
