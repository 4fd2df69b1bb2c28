//! Request bodies as typed values: [`Json`] reads a route's body within its limit, checks that
//! it is JSON and deserializes it into the route's [`Wire`] type, answering with the service's
//! own errors (413 `payload_too_large`, 400 `malformed_json`, 400 `invalid_input` naming the
//! field), never axum's plain-text rejections. Any content type is read: many clients forget it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use identity::{Error, Field};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::api_error::{ApiError, BODY_LIMIT, unreadable_body};
use crate::syntax;

/// The wire shape of a route's JSON body.
pub trait Wire: DeserializeOwned {
    /// What a body that is no JSON object is told: `body must be a JSON object like {...}`.
    const SHAPE: &'static str;

    /// The most bytes the route reads; past them the answer is 413.
    const LIMIT: usize = BODY_LIMIT;

    /// The field an error in the value under `key` is named by: when it is not the key's own
    /// field, the message names the key (`dryRun must be true or false`, field `request`).
    fn field(key: &str) -> Field {
        let _ = key;
        Field::Request
    }

    /// What an empty body (nothing but whitespace) means; `None`, the default: the route needs
    /// a body, and an empty one is malformed JSON like any other text that is no JSON.
    fn empty() -> Option<Self> {
        None
    }
}

/// A JSON request body read as `T`: the extractor of the routes that take one.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: Wire> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| unreadable_body(&rejection, T::LIMIT))?;
        read(&bytes).map(Json)
    }
}

/// Reads `bytes` as `T` (see [`Json`]).
///
/// ```
/// use identity_server::body::{Wire, read};
/// #[derive(serde::Deserialize, Debug)]
/// struct Pause { #[serde(default, deserialize_with = "identity_server::values::flag")] pause: bool }
/// impl Wire for Pause { const SHAPE: &'static str = "body must be a JSON object like {\"pause\": true}"; }
/// assert!(read::<Pause>(br#"{"pause": true}"#).unwrap().pause);
/// let refused = format!("{:?}", read::<Pause>(br#"{"pause": 1}"#).unwrap_err());
/// assert!(refused.contains("pause must be true or false"), "{refused}");
/// let refused = format!("{:?}", read::<Pause>(b"[1]").unwrap_err());
/// assert!(refused.contains("like {\\\"pause\\\": true}"), "{refused}");
/// ```
///
/// # Errors
/// [`ApiError::MalformedJson`] when the body is no JSON; invalid input naming the field when a
/// value has the wrong type, [`Field::Request`] when the body is no object.
pub fn read<T: Wire>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace)
        && let Some(empty) = T::empty()
    {
        return Ok(empty);
    }
    syntax::check(bytes)?;
    // a derived struct would take an array too, its fields by position
    if !is_object(bytes) {
        return Err(invalid(Field::Request, T::SHAPE.to_owned()));
    }
    let mut json = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut json).map_err(|e| refusal::<T>(&e))
}

/// Invalid input naming `field`.
fn invalid(field: Field, reason: String) -> ApiError {
    ApiError::from(Error::InvalidInput { field, reason })
}

/// The answer to a JSON object that is not of `T`'s shape.
fn refusal<T: Wire>(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let reason = message(e.inner());
    match e.path().iter().next() {
        Some(Segment::Map { key }) => {
            let field = T::field(key);
            if field.wire_name() == key {
                invalid(field, reason)
            } else {
                invalid(field, format!("{key} {reason}"))
            }
        }
        _ => invalid(Field::Request, reason),
    }
}

/// Whether the JSON text is an object.
fn is_object(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The parser's message without the position it appends (` at line 1 column 7`).
fn message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(message) => message.to_owned(),
        None => text,
    }
}
