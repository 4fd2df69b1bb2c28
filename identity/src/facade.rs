//! The facade layer: [`Identity`](connect::Identity), the handle applications hold, how one
//! gets it ([`connect`](connect::connect)), and every method of it, one file per concern. A
//! method parses or checks its arguments and hands the work to the handle's
//! [`crate::ContactStore`]; nothing below this layer (model, rules, store) imports it. The
//! crate root re-exports `backup` and `connect` as the public modules `identity::backup` and
//! `identity::connect`.

pub mod backup;
mod blocked;
pub mod connect;
mod customer;
pub mod deliver;
mod erase;
mod export;
mod feed;
mod history;
mod import;
mod settings;
mod split;
mod stats;
mod webhooks;
