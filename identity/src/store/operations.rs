//! The operations written once over [`Steps`](super::steps::Steps) (store layer): each reads
//! what it needs, plans with the pure rules, writes and records its events in the caller's
//! transaction. A backend opens the transaction (taking the locks it needs), runs the
//! operation, commits and retries as its driver requires; nothing else of the operation is
//! per backend.

mod erase;
mod feed;
mod history;
mod import;
mod settings;
mod split;

pub(crate) use erase::{Erase, erase, plan_erase};
pub(crate) use feed::feed_page;
pub(crate) use history::history;
pub(crate) use import::{Begun, begin_import, import_settings};
pub(crate) use settings::{change_blocked, set_limits, set_phone_region};
pub(crate) use split::{customer_rows, split};
