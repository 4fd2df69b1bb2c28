//! Errors for JavaScript: `Error` objects with a stable `code` (`INVALID_INPUT`, `CONFLICT`,
//! `STORE`, `CLOSED`) and, for invalid input, the `field`. The message is the core's, with its causes.

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
    /// The database failed (unreachable, busy, or answered with an error).
    Store,
    /// The handle was closed.
    Closed,
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::InvalidInput => "INVALID_INPUT",
            Code::Conflict => "CONFLICT",
            Code::Store => "STORE",
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
}

impl Failure {
    /// Invalid input about `field` (its JavaScript name).
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code: Code::InvalidInput,
            message: message.into(),
            field: Some(field),
        }
    }

    /// The handle is closed.
    pub fn closed() -> Self {
        Failure {
            code: Code::Closed,
            message: "this Identity is closed; connect a new one".into(),
            field: None,
        }
    }

    /// Builds the JS `Error` and wraps it so that napi rejects (or throws) that very object.
    pub fn into_js(self, env: &Env) -> napi::Error {
        let build = || -> napi::Result<napi::Error> {
            let mut object: Object<'_> =
                env.create_error(napi::Error::from_reason(self.message.clone()))?;
            object.set_named_property("code", self.code.as_ref())?;
            if let Some(field) = self.field {
                object.set_named_property("field", field)?;
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
        _ => "request",
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let message = error.chain();
        match error {
            Error::InvalidInput { field, .. } => Failure {
                code: Code::InvalidInput,
                message,
                field: Some(field_name(field)),
            },
            Error::InvalidUrl { .. } | Error::UnsupportedScheme { .. } => Failure {
                code: Code::InvalidInput,
                message,
                field: Some("url"),
            },
            Error::Closed => Failure {
                code: Code::Closed,
                message,
                field: None,
            },
            Error::Conflict { .. } => Failure {
                code: Code::Conflict,
                message,
                field: None,
            },
            _ => Failure {
                code: Code::Store,
                message,
                field: None,
            },
        }
    }
}
