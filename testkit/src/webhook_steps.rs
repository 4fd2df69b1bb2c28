//! The `webhook` and `signature` steps of the test vectors (`tests/vectors/README.md`): what
//! every Rust replayer compares, and the core's replay of them.

use identity::webhook::{EventTypes, WebhookId, WebhookSecret, sign};
use identity::{Error, Identity};
use serde_json::Value;

use crate::vector_ids::VectorIds;

/// A webhook's wire shape as a vector states it: without `id`, `createdAt`, `nextAttemptAt`
/// and `secret`, after checking their types (`secret`, `whsec_...`, on a created one only).
/// Lists and `null` are compared as they are, item by item.
pub fn comparable(mut wire: Value, created: bool, at: &str) -> Value {
    if let Some(items) = wire.as_array_mut() {
        for item in items.iter_mut() {
            *item = comparable(item.take(), false, at);
        }
        return wire;
    }
    let Some(object) = wire.as_object_mut() else {
        return wire;
    };
    if object.contains_key("eventId") {
        return wire; // an attempt: compared whole
    }
    assert!(object.remove("id").is_some_and(|v| v.is_i64()), "{at}: id");
    assert!(
        object.remove("createdAt").is_some_and(|v| v.is_string()),
        "{at}: createdAt"
    );
    assert!(
        object
            .remove("nextAttemptAt")
            .is_some_and(|v| v.is_string()),
        "{at}: nextAttemptAt"
    );
    let secret = object.remove("secret");
    if created {
        assert!(
            secret
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("whsec_")),
            "{at}: a created webhook tells its secret"
        );
    } else {
        assert!(secret.is_none(), "{at}: the secret is told once");
    }
    wire
}

/// The error's wire code and field.
fn code_and_field(e: &Error) -> (String, Option<&'static str>) {
    let field = match e {
        Error::InvalidInput { field, .. } => Some(field.wire_name()),
        _ => None,
    };
    (e.kind().code().to_owned(), field)
}

/// Replays a `webhook` step through the core handle `identity` (the step's tenant), with the
/// vector's webhook and contact ids read as the store's through `ids`.
///
/// # Panics
/// When the answer is not the step's `result` or `error`.
pub async fn check_core_step(identity: &Identity, ids: &mut VectorIds, step: &Value, at: &str) {
    let wire = &step["webhook"];
    let id = |v: &Value| WebhookId::new(ids.webhook(v.as_i64().unwrap()));
    let outcome: identity::Result<(Value, bool)> = async {
        if let Some(create) = wire.get("create") {
            let types = match create.get("types").and_then(Value::as_array) {
                None => EventTypes::ALL,
                Some(names) => {
                    let names: Vec<&str> = names.iter().map(|n| n.as_str().unwrap()).collect();
                    EventTypes::parse(&names)?
                }
            };
            let url = create["url"].as_str().unwrap();
            let created = identity.create_webhook(url, types).await?;
            Ok((serde_json::to_value(&created).unwrap(), true))
        } else if wire.get("list").is_some() {
            Ok((
                serde_json::to_value(identity.webhooks().await?).unwrap(),
                false,
            ))
        } else if let Some(hook) = wire.get("deliveries") {
            let limit = wire
                .get("limit")
                .and_then(Value::as_u64)
                .map_or(100, |n| n as usize);
            let found = identity.webhook_deliveries(id(hook)?, limit).await?;
            Ok((serde_json::to_value(found).unwrap(), false))
        } else if let Some(hook) = wire.get("replay") {
            let after = wire
                .get("after")
                .and_then(Value::as_str)
                .map(str::parse)
                .transpose()?;
            let replayed = identity.replay_webhook(id(hook)?, after).await?;
            Ok((serde_json::to_value(replayed).unwrap(), false))
        } else if let Some(hook) = wire.get("delete") {
            identity.delete_webhook(id(hook)?).await?;
            Ok((Value::Null, false))
        } else {
            panic!("{at}: an unknown webhook step {wire}")
        }
    }
    .await;
    match (outcome, step.get("error")) {
        (Ok((answer, created)), None) => {
            if created {
                ids.created_webhook(answer["id"].as_i64().unwrap(), at);
            }
            ids.assert_same(&comparable(answer, created, at), &step["result"], at);
        }
        (Err(e), Some(expected)) => {
            let (code, field) = code_and_field(&e);
            assert_eq!(code, expected["code"].as_str().unwrap(), "{at}: {e}");
            assert_eq!(field, expected["field"].as_str(), "{at}: {e}");
        }
        (other, expected) => panic!("{at}: got {other:?}, expected error {expected:?}"),
    }
}

/// The signature a `signature` step's values give, signed by the core.
///
/// # Panics
/// When the step's secret is not one.
pub fn signature_of(step: &Value) -> String {
    let wire = &step["signature"];
    let secret = WebhookSecret::parse(wire["secret"].as_str().unwrap()).unwrap();
    sign(
        &secret,
        wire["id"].as_str().unwrap(),
        wire["timestamp"].as_i64().unwrap(),
        wire["body"].as_str().unwrap().as_bytes(),
    )
}
