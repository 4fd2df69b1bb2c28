//! Errors for JavaScript: `Error` objects with a stable `code`, one per core kind
//! (`INVALID_INPUT`, `CONFLICT`, `BLOCKED_VALUE`, `NOT_FOUND`, `CLOSED`, `UNAVAILABLE`,
//! `CONTENTION`, `STORE`, `CORRUPT_DATA`, `INTERNAL`: the core's code, uppercase), `retryable`,
//! and for invalid input the `field` (for a blocked value, the `fields`). The message is the
//! core's, its cause named once.

use identity::{Error, Field};
use napi::JsValue;
use napi::bindgen_prelude::{Env, JsObjectValue, Object, Unknown};

/// The stable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The caller's input broke the contract; nothing was written.
    InvalidInput,
    /// The call is valid but the data forbids it; nothing was changed.
    Conflict,
    /// Every value of the request is blocked; nothing was written.
    BlockedValue,
    /// The tenant has no such entity (a contact id, say); nothing was changed.
    NotFound,
    /// The database answered with an error.
    Store,
    /// The database could not be reached or had no free connection in time; retryable.
    Unavailable,
    /// Concurrent requests kept changing the same customers; retryable.
    Contention,
    /// Stored rows or derived records break the data model (edited by hand).
    CorruptData,
    /// A bug in the library.
    Internal,
    /// The handle was closed.
    Closed,
}

impl Code {
    /// Whether the same call may succeed later.
    fn retryable(self) -> bool {
        matches!(self, Code::Unavailable | Code::Contention)
    }
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::InvalidInput => "INVALID_INPUT",
            Code::Conflict => "CONFLICT",
            Code::BlockedValue => "BLOCKED_VALUE",
            Code::NotFound => "NOT_FOUND",
            Code::Store => "STORE",
            Code::Unavailable => "UNAVAILABLE",
            Code::Contention => "CONTENTION",
            Code::CorruptData => "CORRUPT_DATA",
            Code::Internal => "INTERNAL",
            Code::Closed => "CLOSED",
        }
    }
}

/// An error on its way to JavaScript (built on the JS thread by [`Failure::into_js`]).
#[derive(Debug)]
pub struct Failure {
    code: Code,
    message: String,
    field: Option<&'static str>,
    /// With `BLOCKED_VALUE`: the request's fields that were blocked.
    fields: Vec<&'static str>,
}

impl Failure {
    /// Invalid input about `field` (its JavaScript name).
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code: Code::InvalidInput,
            message: message.into(),
            field: Some(field),
            fields: Vec::new(),
        }
    }

    /// The handle is closed.
    pub fn closed() -> Self {
        Failure {
            code: Code::Closed,
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
            object.set_named_property("code", self.code.as_ref())?;
            object.set_named_property("retryable", self.code.retryable())?;
            if let Some(field) = self.field {
                object.set_named_property("field", field)?;
            }
            if self.code == Code::BlockedValue {
                object.set_named_property("fields", self.fields.clone())?;
            }
            // SAFETY: `object` is a live JS value created in `env` on this (the JS) thread.
            let unknown = unsafe { Unknown::from_raw_unchecked(env.raw(), object.raw()) };
            Ok(napi::Error::from(unknown))
        };
        build().unwrap_or_else(|e| e)
    }
}

/// The JavaScript name of a core field.
fn field_name(field: Field) -> &'static str {
    match field {
        Field::Email => "email",
        Field::PhoneNumber => "phoneNumber",
        Field::Tenant => "tenant",
        Field::PhoneRegion => "phoneRegion",
        Field::Kind => "kind",
        Field::Value => "value",
        Field::Pattern => "pattern",
        Field::ContactId => "contactId",
        Field::ContactIds => "contactIds",
        Field::Limits => "limits",
        Field::Checkouts => "checkouts",
        Field::Table => "table",
        Field::OnError => "onError",
        Field::Erasures => "erasures",
        _ => "request",
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let message = error.chain();
        let (code, field, fields) = match error {
            Error::InvalidInput { field, .. } => {
                (Code::InvalidInput, Some(field_name(field)), vec![])
            }
            Error::InvalidUrl { .. } | Error::UnsupportedScheme { .. } => {
                (Code::InvalidInput, Some("url"), vec![])
            }
            Error::BlockedValue { fields } => (
                Code::BlockedValue,
                None,
                fields.into_iter().map(field_name).collect(),
            ),
            other => {
                let code = match other.code() {
                    "closed" => Code::Closed,
                    "conflict" => Code::Conflict,
                    "not_found" => Code::NotFound,
                    "unavailable" => Code::Unavailable,
                    "contention" => Code::Contention,
                    "store" => Code::Store,
                    "corrupt_data" => Code::CorruptData,
                    _ => Code::Internal,
                };
                (code, None, vec![])
            }
        };
        Failure {
            code,
            message,
            field,
            fields,
        }
    }
}
