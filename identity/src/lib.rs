//! # identity: customer identity reconciliation
//!
//! An online shop sees every checkout with an email and/or a phone number. The same person uses
//! different combinations over time. This crate links every row that shares an email or a phone
//! into one customer (the oldest row is the *primary*, the rest are *secondary*) and answers with
//! the consolidated customer: primary id, all emails, all phone numbers, secondary ids.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let identity = identity::connect("sqlite::memory:").await?;
//! identity.identify(Some("lorraine@hillvalley.edu"), Some("123456")).await?;
//! let c = identity.identify(Some("mcfly@hillvalley.edu"), Some("123456")).await?;
//! assert_eq!(c.primary_contact_id.get(), 1);
//! assert_eq!(c.emails.len(), 2);
//! assert_eq!(c.secondary_contact_ids.len(), 1);
//! # Ok::<(), identity::Error>(()) }).unwrap();
//! ```
//!
//! ## The contract
//!
//! **Input**: an optional email and an optional phone number.
//! - Values are trimmed; an empty or all-whitespace value counts as absent. Both absent is an
//!   [`Error::InvalidInput`].
//! - Email ([`Email::parse`]): lowercased (Unicode-aware); exactly one `@` with a non-empty part
//!   on each side; no whitespace or control characters; at most 254 characters. Non-ASCII is
//!   allowed and round-trips exactly (after lowercasing).
//! - Phone ([`Phone::parse`]): the formatting characters space, `-`, `.`, `(`, `)` are removed;
//!   what remains must be an optional leading `+` and 1 to 20 ASCII digits. Over the wire a phone
//!   may also be a non-negative JSON integer, meaning its decimal digits
//!   ([`IdentifyRequest::from_json`], the one way in from the wire).
//! - Normalization happens before anything is stored or matched: `George@X.com` and
//!   `george@x.com`, `+1 (555) 010-9999` and `+15550109999` are the same identifier.
//! - A tenant with a phone region ([`Identity::set_phone_region`], [`PhoneRegion`]) reads its
//!   phone numbers with libphonenumber's rules ([`Phone::in_region`]): `098765 43210`,
//!   `+91 98765 43210` and `9876543210` in region `IN` are all `+919876543210`, and a number
//!   that is not valid is an [`Error::InvalidInput`] naming the phone number. Tenants without a
//!   region keep the rules above.
//!
//! **Linking** (rows with `deleted_at` set are invisible everywhere):
//! 1. No row has the request's email or phone: insert a new primary; answer with it alone.
//! 2. Otherwise take every customer that a matching row belongs to. The oldest primary among
//!    them (by `created_at`, then id) stays primary; every other primary becomes its secondary,
//!    and all their secondaries are relinked to it too: every secondary's `linked_id` is its
//!    customer's primary.
//! 3. Then, if the request carries an email or a phone the merged customer does not yet have,
//!    insert one secondary row with the request's email and phone, linked to the primary.
//!    Otherwise insert nothing: repeating a request is idempotent.
//!
//! **Answer** ([`ConsolidatedContact`]): the primary's id; distinct emails, the primary's first
//! (if it has one), then by row id; phone numbers the same way; every secondary id, ascending.
//! Serialized in [`IdentifyResponse`] it is the well-known wire shape
//! `{"contact":{"primaryContactId":1,"emails":[..],"phoneNumbers":[..],"secondaryContactIds":[..]}}`.
//!
//! [`Identity::lookup`] answers the same view without writing (`None` when nothing matches).
//!
//! **Concurrency**: after any interleaving of identifies, from any number of processes, every
//! customer has exactly one primary (its oldest row), every secondary links directly to it, no
//! email or phone belongs to two customers, and identical concurrent requests insert one row.
//! See the module docs of [`store::postgres`] and [`store::sqlite`] for how.
//!
//! ## The identity graph
//! The `contact` rows are the data model and the source of truth. Beside them every store keeps
//! derived records, changed in the same transaction as the rows: an *identifier* per distinct
//! visible email and phone (unique, naming the customer that holds it) and a *customer record*
//! per customer ([`CustomerRecord`]: its answer, ready). A returning customer is answered from
//! at most two identifier probes and one record, whatever the customer's size. Rows changed by
//! hand in SQL are noted by a trigger and applied to the records before the next answer;
//! [`Identity::verify`] compares everything, [`Identity::rebuild`] recomputes it.
//!
//! ## Layout
//! - [`plan()`]: the pure identify step from (request, [`Matched`] records) to a [`Plan`]; no I/O.
//! - [`derive()`]: the pure repair step from rows to customers and relinks (rebuild, repair,
//!   verify).
//! - [`ContactStore`]: the storage seam; [`SqliteStore`], [`PgStore`] (`memory:` is
//!   `sqlite::memory:`).
//! - [`connect`] / [`Identity`]: one URL (`postgres://`, `sqlite:`, `memory:`) to a handle.
//!
//! The modules sit in layers that import only downwards: the model (values, parsing, reports),
//! the rules (pure planners), the store (the trait, the backends) and the facade ([`Identity`]
//! and all its methods); `testkit/tests/imports.rs` says which module is where, and checks.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocked;
pub mod contact;
pub mod customer;
pub mod derive;
pub mod erase;
mod erasure;
pub mod erasure_log;
pub mod error;
mod export;
mod facade;
pub mod feed;
pub mod history;
mod identifier;
pub mod import;
pub mod limits;
pub mod plan;
pub mod progress;
pub mod reapply;
pub mod region;
pub mod request;
mod screen;
pub mod settings;
pub mod shared_list;
pub mod split;
pub mod stats;
pub mod store;
mod suppress;
pub mod tenant;
mod union_find;
pub mod verify;
pub mod webhook;

pub use blocked::BlockedValue;
pub use contact::{Contact, ContactId, Email, Link, Phone};
pub use customer::{Customer, CustomerRecord};
pub use derive::{Derived, RebuildReport, derive, derive_screened};
pub use erasure::{ErasedRow, Erasure, ErasureRecord, SuppressedDigest};
pub use erasure_log::ErasureLog;
pub use error::{Error, ErrorKind, Field, Result, StorageRefusal};
pub use facade::connect::{ConnectOptions, Identity, connect};
#[cfg(feature = "webhook-http")]
pub use facade::deliver::http::HttpTransport;
pub use facade::deliver::{SenderOptions, Transport, WebhookSender};
pub use facade::{backup, connect};
pub use feed::{Cursor, FeedChange, FeedEvent, FeedPage, PruneReport};
pub use history::{Change, History, HistoryEvent};
pub use identifier::IdentifierKind;
pub use import::{Checkout, ImportOptions, ImportReport, OnError};
pub use limits::Limits;
pub use plan::{AddRow, Matched, Merge, NewCustomer, Plan, plan, plan_within};
pub use progress::{JobKind, JobProgress};
pub use reapply::ReapplyReport;
pub use region::PhoneRegion;
pub use request::{ConsolidatedContact, IdentifyRequest, IdentifyResponse, Ignored, IgnoredReason};
pub use settings::TenantSettings;
pub use shared_list::SharedList;
pub use split::Split;
pub use stats::{FeedStats, IdentifyOutcome, PoolStats, Stats, WebhookBacklog};
pub use store::ContactStore;
pub use store::postgres::{PgOptions, PgStore};
pub use store::sqlite::SqliteStore;
pub use tenant::{MAX_TENANT_LEN, TenantId};
pub use verify::{Problem, VerifyReport};
