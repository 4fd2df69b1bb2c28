//! `GET /admin/export` and `GET /admin/contacts`: customers and rows out, as JSON Lines. Admin
//! routes (the [`Admin`] extractor): disabled unless an admin token is configured, then only
//! that token; they act for the tenant `X-Tenant-Id` names (absent: the default). The log gets
//! counts, never an email or a phone number.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use identity::Error;
use tracing::Level;

use crate::api_error::ApiError;
use crate::auth::Admin;
use crate::request_log::{Note, answered};

/// Every customer of the tenant as JSON Lines (`application/x-ndjson`), one consolidated
/// customer (`{"primaryContactId", "emails", "phoneNumbers", "secondaryContactIds"}`) per
/// line, by primary id.
pub async fn export(Admin(identity): Admin) -> Result<(Note, Response), ApiError> {
    let customers = identity.customers().await?;
    let count = customers.len();
    let note = Note::new(move |a| {
        answered!(Level::INFO, a, customers = count, "customers exported");
    });
    Ok((note, json_lines(&customers)?))
}

/// Every visible row of the tenant's `contact` table as JSON Lines, one `{"id", "email",
/// "phoneNumber", "linkedId", "linkPrecedence", "createdAt", "updatedAt"}` per line, by id.
pub async fn contacts(Admin(identity): Admin) -> Result<(Note, Response), ApiError> {
    let rows = identity.all_contacts().await?;
    let count = rows.len();
    let note = Note::new(move |a| {
        answered!(Level::INFO, a, rows = count, "rows exported");
    });
    Ok((note, json_lines(&rows)?))
}

/// `items` as an `application/x-ndjson` answer: one JSON value per line.
pub(crate) fn json_lines<T: serde::Serialize>(items: &[T]) -> Result<Response, ApiError> {
    let mut body = Vec::with_capacity(items.len() * 96);
    for item in items {
        serde_json::to_writer(&mut body, item).map_err(|_| {
            ApiError::from(Error::Internal {
                reason: "a line of an export could not be written as JSON",
            })
        })?;
        body.push(b'\n');
    }
    let content_type = HeaderValue::from_static("application/x-ndjson");
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
