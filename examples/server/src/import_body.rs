//! The body of `POST /admin/import`, read without building a tree of it: [`ImportBody`] holds
//! the bytes (up to [`IMPORT_BODY_LIMIT`]), checked to be JSON; [`ImportBody::read`] borrows
//! each record from them as its JSON text, which the core reads one record at a time.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use identity::import::{ImportOptions, OnError};
use identity::{Error, Field};
use serde_json::value::RawValue;

use crate::api_error::{ApiError, IMPORT_BODY_LIMIT, unreadable_body};
use crate::syntax;

/// The bytes of an import's body, checked to be JSON.
#[derive(Debug)]
pub struct ImportBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for ImportBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| unreadable_body(&rejection, IMPORT_BODY_LIMIT))?;
        syntax::check(&bytes)?;
        Ok(ImportBody(bytes))
    }
}

/// What a body imports: its records, each the JSON text of one.
#[derive(Debug)]
pub enum Batch<'a> {
    /// `checkouts`: `{"email", "phoneNumber", "at"}` records.
    Checkouts(Vec<&'a RawValue>),
    /// `table`: an existing table's rows.
    Table(Vec<&'a RawValue>),
}

/// An import as its body asks for it.
#[derive(Debug)]
pub struct Import<'a> {
    /// The records.
    pub batch: Batch<'a>,
    /// `onError`, `dryRun`, `renumber`.
    pub options: ImportOptions,
}

impl ImportBody {
    /// The records and options of `{"checkouts" | "table": [...], "onError": "abort" | "skip",
    /// "dryRun": bool, "renumber": bool}` (a key given twice: the last one counts, as in a
    /// parsed object).
    ///
    /// ```
    /// use identity_server::import_body::{Batch, ImportBody};
    /// let body = ImportBody::from_json(&br#"{"checkouts": [{"email": "doc@x.io", "at": 1}, 7]}"#[..])?;
    /// let import = body.read()?;
    /// let Batch::Checkouts(records) = import.batch else { panic!() };
    /// assert_eq!(records[1].get(), "7");
    /// # Ok::<(), identity_server::api_error::ApiError>(())
    /// ```
    ///
    /// # Errors
    /// Invalid input naming `request` (no object, both batches, `dryRun` or `renumber` not a
    /// boolean), `checkouts` or `table` (no array), `onError`.
    pub fn read(&self) -> Result<Import<'_>, ApiError> {
        let invalid = |field, reason: &str| {
            ApiError::from(Error::InvalidInput {
                field,
                reason: reason.to_owned(),
            })
        };
        // the bytes are JSON: only a body that is no object fails here
        let object: HashMap<String, &RawValue> = serde_json::from_slice(&self.0).map_err(|_| {
            invalid(
                Field::Request,
                "body must be a JSON object like {\"checkouts\": [...]}",
            )
        })?;
        let table_shape = "must be an array of {\"id\", \"email\", \"phoneNumber\", \"linkedId\", \
                           \"createdAt\", \"deletedAt\"} objects";
        let checkouts_shape = "must be an array of {\"email\", \"phoneNumber\", \"at\"} objects";
        let batch = match (
            object.get("checkouts").copied(),
            object.get("table").copied(),
        ) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    Field::Request,
                    "give checkouts or table (an existing table's rows), not both",
                ));
            }
            (None, Some(raw)) => {
                Batch::Table(records(raw).ok_or_else(|| invalid(Field::Table, table_shape))?)
            }
            (checkouts, None) => Batch::Checkouts(
                checkouts
                    .and_then(records)
                    .ok_or_else(|| invalid(Field::Checkouts, checkouts_shape))?,
            ),
        };
        let on_error = match object.get("onError").map(|raw| raw.get()) {
            None | Some("null") => OnError::Abort,
            Some(text) => match serde_json::from_str::<String>(text) {
                Ok(name) => OnError::parse(&name)?,
                Err(_) => return Err(invalid(Field::OnError, "must be \"abort\" or \"skip\"")),
            },
        };
        let flag = |key: &str| match object.get(key).map(|raw| raw.get()) {
            None | Some("null" | "false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(invalid(
                Field::Request,
                &format!("{key} must be true or false"),
            )),
        };
        let options = ImportOptions::default()
            .on_error(on_error)
            .dry_run(flag("dryRun")?)
            .renumber(flag("renumber")?);
        Ok(Import { batch, options })
    }

    /// A body of these bytes, checked as the extractor checks a request's.
    ///
    /// # Errors
    /// [`ApiError::MalformedJson`] when they are no JSON.
    pub fn from_json(bytes: impl Into<Bytes>) -> Result<Self, ApiError> {
        let bytes = bytes.into();
        syntax::check(&bytes)?;
        Ok(ImportBody(bytes))
    }
}

/// The elements of a JSON array, each as its text; `None` for any other value.
fn records(raw: &RawValue) -> Option<Vec<&RawValue>> {
    serde_json::from_str(raw.get()).ok()
}
