//! Errors for JavaScript: `Error` objects with a stable `code`, one per core kind
//! (`INVALID_INPUT`, `CONFLICT`, `BLOCKED_VALUE`, `NOT_FOUND`, `CLOSED`, `EXPIRED`, `UNAVAILABLE`,
//! `CONTENTION`, `STORE`, `CORRUPT_DATA`, `INTERNAL`: the core's code, uppercase), `retryable`,
//! and for invalid input the `field` (for a blocked value, the `fields`). The message is the
//! core's, its cause named once.

use identity::{Error, ErrorKind, Field};
use napi::JsValue;
use napi::bindgen_prelude::{Env, JsObjectValue, Object, Unknown};

/// The JavaScript code of each kind of core error: the core's code, uppercase (no catch-all
/// arm: a new kind fails to compile here until it has one, and `index.d.ts` lists them all,
/// checked by `testkit/tests/error_table.rs`).
fn js_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "INVALID_INPUT",
        ErrorKind::Conflict => "CONFLICT",
        ErrorKind::BlockedValue => "BLOCKED_VALUE",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::Closed => "CLOSED",
        ErrorKind::Expired => "EXPIRED",
        ErrorKind::Unavailable => "UNAVAILABLE",
        ErrorKind::Contention => "CONTENTION",
        ErrorKind::Store => "STORE",
        ErrorKind::CorruptData => "CORRUPT_DATA",
        ErrorKind::Internal => "INTERNAL",
    }
}

/// An error on its way to JavaScript (built on the JS thread by [`Failure::into_js`]).
#[derive(Debug)]
pub struct Failure {
    kind: ErrorKind,
    message: String,
    field: Option<&'static str>,
    /// With `BLOCKED_VALUE`: the request's fields that were blocked.
    fields: Vec<&'static str>,
}

impl Failure {
    /// Invalid input about `field` (its JavaScript name).
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Failure {
            kind: ErrorKind::InvalidInput,
            message: message.into(),
            field: Some(field),
            fields: Vec::new(),
        }
    }

    /// The handle is closed.
    pub fn closed() -> Self {
        Failure {
            kind: ErrorKind::Closed,
            message: "this Identity is closed; connect a new one".into(),
            field: None,
            fields: Vec::new(),
        }
    }

    /// Builds the JS `Error` and wraps it so that napi rejects (or throws) that very object.
    pub fn into_js(self, env: &Env) -> napi::Error {
        let build = || -> napi::Result<napi::Error> {
            let mut object: Object<'_> =
                env.create_error(napi::Error::from_reason(self.message.clone()))?;
            object.set_named_property("code", js_code(self.kind))?;
            object.set_named_property("retryable", self.kind.is_transient())?;
            if let Some(field) = self.field {
                object.set_named_property("field", field)?;
            }
            if self.kind == ErrorKind::BlockedValue {
                object.set_named_property("fields", self.fields.clone())?;
            }
            // SAFETY: `object` is a live JS value created in `env` on this (the JS) thread.
            let unknown = unsafe { Unknown::from_raw_unchecked(env.raw(), object.raw()) };
            Ok(napi::Error::from(unknown))
        };
        build().unwrap_or_else(|e| e)
    }
}

/// The JavaScript name of a core field: its wire name, the request's body being the request
/// (no catch-all arm: a new field fails to compile here until it is named).
fn field_name(field: Field) -> &'static str {
    match field {
        Field::Body => "request",
        Field::Email
        | Field::PhoneNumber
        | Field::Request
        | Field::Tenant
        | Field::PhoneRegion
        | Field::Kind
        | Field::Value
        | Field::Pattern
        | Field::ContactId
        | Field::ContactIds
        | Field::Limits
        | Field::Checkouts
        | Field::Table
        | Field::OnError
        | Field::Erasures
        | Field::Cursor
        | Field::Limit
        | Field::Wait
        | Field::Url
        | Field::Types
        | Field::WebhookId => field.wire_name(),
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let message = error.chain();
        let kind = error.kind();
        let (field, fields) = match error {
            Error::InvalidInput { field, .. } => (Some(field_name(field)), vec![]),
            Error::InvalidUrl { .. } | Error::UnsupportedScheme { .. } => (Some("url"), vec![]),
            Error::BlockedValue { fields } => (None, fields.into_iter().map(field_name).collect()),
            // every other kind carries no field
            _ => (None, vec![]),
        };
        Failure {
            kind,
            message,
            field,
            fields,
        }
    }
}
