//! Importing history in one batch into an empty tenant: years of checkouts, replayed as
//! `identify` would have answered them in time order ([`crate::Identity::import`]), or an
//! existing deployment's contact table, whose rows keep their ids ([`crate::Identity::import_table`]).
//!
//! [`plan_import`] is the pure step for checkouts: checkouts and the tenant's settings in, the
//! rows to write (each with its primary) and an [`ImportReport`] out. A value's first checkout
//! decides which checkouts become rows (a checkout becomes a row exactly when it carries a
//! value no earlier checkout carried); a union-find over every checkout's email and phone,
//! including checkouts that insert nothing, gives the customers; the oldest row of each is its
//! primary. A table's rows are planned by `table_plan.rs` under their own ids. The stores load
//! the rows (COPY on PostgreSQL, one transaction on SQLite) and build the derived records at
//! the end, in the same transaction.

mod batch;
mod changes;
mod customers;
mod input;
mod plan;
mod planning;
mod records;
mod refusals;
mod replay;
mod report;
mod table;
mod table_plan;
mod table_rows;
mod when;
mod wire;

pub use changes::{ChangedCustomer, CustomerChange, MovedRow, RowFate, TableOutcome};
pub(crate) use customers::{ImportedCustomers, derive_imported};
pub use input::{Checkout, ImportBatch, ImportOptions, OnError};
pub use plan::{ImportPlan, PlannedRow};
pub(crate) use planning::plan;
pub use records::{Record, checkout_from_json};
pub(crate) use refusals::{
    Origins, refuse_not_empty, refuse_taken_ids, refuse_worker_ids, rejection,
};
pub use report::{ImportReport, REJECTED_SHOWN, Rejected};
pub(crate) use table::quoted;
pub use table::{Column, Preset, TableSource};
pub use table_rows::{TableRow, table_row_from_json};
pub use when::parse_time;

pub use crate::store::postgres::source::{TableRead, read_table};
