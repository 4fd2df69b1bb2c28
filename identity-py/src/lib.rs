//! `identity_reconciliation._native`: the Python binding of the identity core. It converts
//! arguments, runs the core on the process's one tokio runtime (the GIL released while waiting),
//! and maps errors; the rules all live in the core.

mod async_identity;
mod blocked;
mod contact;
mod convert;
mod erase;
mod erasures;
mod errors;
mod feed;
mod handle;
mod history;
mod import;
mod import_table;
mod reports;
mod rows;
mod runtime;
mod settings;
mod split;
mod sync_identity;
mod webhooks;

use pyo3::prelude::*;

use crate::async_identity::AsyncIdentity;
use crate::blocked::{BlockedValue, Ignored};
use crate::contact::Contact;
use crate::erase::Erasure;
use crate::erasures::{ReapplyReport, parse_erasure_log, read_erasure_log};
use crate::history::{History, HistoryEvent};
use crate::import::{ImportReport, Rejected};
use crate::import_table::{ChangedCustomer, MovedRow, TableOutcome};
use crate::reports::{Problem, RebuildReport, VerifyReport};
use crate::rows::{ContactRow, Customer};
use crate::settings::{Limits, TenantSettings};
use crate::split::Split;
use crate::sync_identity::Identity;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Contact>()?;
    m.add_class::<Identity>()?;
    m.add_class::<AsyncIdentity>()?;
    m.add_class::<Problem>()?;
    m.add_class::<VerifyReport>()?;
    m.add_class::<RebuildReport>()?;
    m.add_class::<TenantSettings>()?;
    m.add_class::<Limits>()?;
    m.add_class::<BlockedValue>()?;
    m.add_class::<Ignored>()?;
    m.add_class::<History>()?;
    m.add_class::<HistoryEvent>()?;
    m.add_class::<feed::FeedEvent>()?;
    m.add_class::<feed::EventsPage>()?;
    m.add_class::<feed::Feed>()?;
    m.add_class::<feed::AsyncFeed>()?;
    m.add_class::<Split>()?;
    m.add_class::<Erasure>()?;
    m.add_class::<ReapplyReport>()?;
    m.add_class::<ImportReport>()?;
    m.add_class::<Rejected>()?;
    m.add_class::<TableOutcome>()?;
    m.add_class::<ChangedCustomer>()?;
    m.add_class::<MovedRow>()?;
    m.add_class::<ContactRow>()?;
    m.add_class::<Customer>()?;
    m.add_class::<webhooks::Webhook>()?;
    m.add_class::<webhooks::Delivery>()?;
    m.add_class::<webhooks::WebhookSender>()?;
    m.add_function(wrap_pyfunction!(webhooks::verify_webhook, m)?)?;
    m.add_function(wrap_pyfunction!(webhooks::sign_webhook, m)?)?;
    m.add_function(wrap_pyfunction!(read_erasure_log, m)?)?;
    m.add_function(wrap_pyfunction!(parse_erasure_log, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // the core's tables, for the test that holds `_errors.py` and the stubs to them
    m.add("ERROR_KINDS", errors::kinds())?;
    m.add("FIELD_NAMES", errors::field_names())?;
    Ok(())
}
