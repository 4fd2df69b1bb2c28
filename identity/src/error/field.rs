//! The input field an invalid-input error names, with its name on the wire.

use std::fmt;

/// The input field an [`Error::InvalidInput`] is about.
///
/// Exhaustive on purpose, as [`ErrorKind`](super::ErrorKind) is: a field added here fails to
/// compile in every binding until each names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The email address.
    Email,
    /// The phone number.
    PhoneNumber,
    /// The request as a whole (for example: neither an email nor a phone number was given).
    Request,
    /// The raw request body, which is not JSON at all ([`crate::IdentifyRequest::from_json`]).
    Body,
    /// The tenant id ([`crate::TenantId::parse`]).
    Tenant,
    /// A tenant's phone region ([`crate::PhoneRegion::parse`]).
    PhoneRegion,
    /// The kind of a blocked entry: `email` or `phone` ([`crate::BlockedValue::parse`]).
    Kind,
    /// The exact value of a blocked entry ([`crate::BlockedValue::parse`]).
    Value,
    /// The pattern of a blocked entry ([`crate::BlockedValue::pattern`]).
    Pattern,
    /// A contact id given as text ([`crate::ContactId::parse`]).
    ContactId,
    /// The rows a split moves ([`crate::Identity::split`]).
    ContactIds,
    /// A per-customer cap ([`crate::Limits`]).
    Limits,
    /// The checkouts of an import ([`crate::Identity::import`]).
    Checkouts,
    /// The table an import reads ([`crate::import::TableSource`]).
    Table,
    /// What an import does with a refused checkout ([`crate::import::OnError::parse`]).
    OnError,
    /// The erasure records given to [`crate::Identity::reapply_erasures`]
    /// ([`crate::ErasureRecord::from_json`]).
    Erasures,
    /// The cursor a feed read starts after (`after`, [`crate::feed::Cursor`]).
    Cursor,
    /// The most events a feed page carries ([`crate::feed::page_size`]).
    Limit,
    /// How long a feed read waits for new events ([`crate::feed::wait_time`]).
    Wait,
    /// A webhook's target address ([`crate::webhook::WebhookTarget::parse`]).
    Url,
    /// The event types a webhook receives ([`crate::webhook::EventTypes::parse`]).
    Types,
    /// A webhook id given as text ([`crate::webhook::WebhookId::parse`]).
    WebhookId,
}

impl Field {
    /// Every field, in declaration order: what the bindings' and the service's tables of field
    /// names are checked against.
    pub const ALL: [Field; 22] = [
        Field::Email,
        Field::PhoneNumber,
        Field::Request,
        Field::Body,
        Field::Tenant,
        Field::PhoneRegion,
        Field::Kind,
        Field::Value,
        Field::Pattern,
        Field::ContactId,
        Field::ContactIds,
        Field::Limits,
        Field::Checkouts,
        Field::Table,
        Field::OnError,
        Field::Erasures,
        Field::Cursor,
        Field::Limit,
        Field::Wait,
        Field::Url,
        Field::Types,
        Field::WebhookId,
    ];

    /// The field's name in the JSON wire format (`email`, `phoneNumber`, `request`, `body`,
    /// `tenant`, `phoneRegion`, `kind`, `value`, `pattern`, `contactId`, `contactIds`,
    /// `limits`, `checkouts`, `table`, `onError`, `erasures`, `after`, `limit`, `wait`, `url`,
    /// `types`, `webhookId`).
    #[must_use]
    pub fn wire_name(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::PhoneNumber => "phoneNumber",
            Field::Request => "request",
            Field::Body => "body",
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
            Field::Cursor => "after",
            Field::Limit => "limit",
            Field::Wait => "wait",
            Field::Url => "url",
            Field::Types => "types",
            Field::WebhookId => "webhookId",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Email => "email",
            Field::PhoneNumber => "phone number",
            Field::Request => "request",
            Field::Body => "request body",
            Field::Tenant => "tenant",
            Field::PhoneRegion => "phone region",
            Field::Kind => "kind",
            Field::Value => "value",
            Field::Pattern => "pattern",
            Field::ContactId => "contact id",
            Field::ContactIds => "contact ids",
            Field::Limits => "limits",
            Field::Checkouts => "checkouts",
            Field::Table => "table",
            Field::OnError => "on error",
            Field::Erasures => "erasures",
            Field::Cursor => "cursor",
            Field::Limit => "limit",
            Field::Wait => "wait",
            Field::Url => "url",
            Field::Types => "types",
            Field::WebhookId => "webhook id",
        })
    }
}
