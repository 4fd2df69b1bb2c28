//! Export: the wire shape of a stored row, for reading the `contact` table through the bindings
//! and the service (every customer, consolidated, is [`crate::Identity::customers`]).

use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use crate::contact::Contact;

/// A stored row on the wire: the well-known `Contact` shape of the task, `{"id", "email",
/// "phoneNumber", "linkedId", "linkPrecedence", "createdAt", "updatedAt"}` (times RFC 3339 in
/// UTC; `email`, `phoneNumber` and `linkedId` may be null).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let identity = identity::connect("memory:").await?;
/// identity.identify(Some("doc@hillvalley.edu"), Some("5550101")).await?;
/// identity.identify(Some("emmett@hillvalley.edu"), Some("5550101")).await?;
/// let rows = serde_json::to_value(identity.all_contacts().await?).unwrap();
/// assert_eq!(rows[1]["linkedId"], 1);
/// assert_eq!(rows[1]["linkPrecedence"], "secondary");
/// assert!(rows[1]["createdAt"].is_string());
/// # Ok::<(), identity::Error>(()) }).unwrap();
/// ```
impl Serialize for Contact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            id: i64,
            email: Option<&'a str>,
            phone_number: Option<&'a str>,
            linked_id: Option<i64>,
            link_precedence: &'static str,
            created_at: String,
            updated_at: String,
        }
        let time = |at: time::OffsetDateTime| {
            at.to_offset(time::UtcOffset::UTC)
                .format(&Rfc3339)
                .map_err(serde::ser::Error::custom)
        };
        Wire {
            id: self.id.get(),
            email: self.email.as_ref().map(|e| e.as_str()),
            phone_number: self.phone_number.as_ref().map(|p| p.as_str()),
            linked_id: self.linked_id().map(|id| id.get()),
            link_precedence: self.link.precedence(),
            created_at: time(self.created_at)?,
            updated_at: time(self.updated_at)?,
        }
        .serialize(s)
    }
}
