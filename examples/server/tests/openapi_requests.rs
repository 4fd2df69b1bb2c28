//! The OpenAPI document's request schemas say what the service accepts: a request body the
//! document calls valid is one the core accepts, character by character for emails, by
//! property for phone numbers, and one region code and limit at a time. (Responses are checked
//! against the document in `openapi.rs`; schemathesis replays the document against the running
//! service in the test command.)

use identity::{IdentifyRequest, PhoneRegion};
use proptest::prelude::*;
use serde_json::{Value, json};

fn doc() -> Value {
    serde_json::from_str(include_str!("../src/openapi.json")).unwrap()
}

/// A validator for `#/components/schemas/<name>`.
fn validator(name: &str) -> jsonschema::Validator {
    let doc = doc();
    let schema = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&schema).unwrap()
}

/// The document and the core agree on `body`.
fn agree(identify: &jsonschema::Validator, body: &Value) {
    let by_doc = identify.is_valid(body);
    let by_core = IdentifyRequest::from_json(body.to_string().as_bytes());
    assert_eq!(
        by_doc,
        by_core.is_ok(),
        "{body}: the document says {by_doc}, the service {by_core:?}"
    );
}

/// Every code point below U+3400, the specials block, the astral format characters and their
/// neighbours, and every 97th code point elsewhere.
fn characters() -> impl Iterator<Item = char> {
    let astral_format = [
        0x110BD, 0x110CD, 0x13430, 0x1343F, 0x1BCA0, 0x1BCA3, 0x1D173, 0x1D17A, 0xE0001, 0xE0020,
        0xE007F,
    ];
    (0..0x3400)
        .chain(0xFE00..0x1_0000)
        .chain(astral_format.into_iter().flat_map(|c| c - 2..=c + 2))
        .chain((0x3400..0x11_0000).step_by(97))
        .filter_map(char::from_u32)
}

#[test]
fn an_email_is_valid_by_the_document_exactly_when_the_service_accepts_it() {
    let identify = validator("IdentifyRequest");
    for c in characters() {
        for email in [
            format!("a{c}b@x.io"),
            format!("{c}a@x.io"),
            format!("a@x.io{c}"),
        ] {
            agree(&identify, &json!({ "email": email }));
        }
    }
    let long_local = "a".repeat(249);
    for email in [
        "a@x.io",
        " a@x.io\t",
        "a@b@x.io",
        "@x.io",
        "a@",
        "@",
        "a",
        "a x@y.io",
        &format!("{long_local}@x.io"),
        &format!("a{long_local}@x.io"),
    ] {
        agree(&identify, &json!({ "email": email }));
    }
}

#[test]
fn a_request_needs_one_value_that_is_not_blank() {
    let identify = validator("IdentifyRequest");
    for body in [
        json!({}),
        json!({"email": "", "phoneNumber": ""}),
        json!({"email": " ", "phoneNumber": null}),
        json!({"email": null, "phoneNumber": " \t"}),
        json!({"email": "", "phoneNumber": "1"}),
        json!({"email": "a@x.io", "phoneNumber": ""}),
        json!({"phoneNumber": 0}),
        json!({"phoneNumber": -1}),
        json!({"phoneNumber": 1.5}),
        json!({"phoneNumber": true}),
        json!({"email": 1}),
        json!({"phoneNumber": "99999999999999999999"}),
        json!({"phoneNumber": "999999999999999999999"}),
        json!({"phoneNumber": u64::MAX}),
        // whole numbers, to JSON Schema as to the service
        json!({"phoneNumber": 12402.0}),
        json!({"phoneNumber": 1.2402e4}),
        json!({"phoneNumber": 12402.5}),
    ] {
        agree(&identify, &body);
    }
    // beyond u64 (the core reads the exact digits): up to 20 digits (validators that read
    // numbers as doubles cannot tell 99999999999999999999 from 10^20: not asserted here)
    for text in [
        r#"{"phoneNumber": 18446744073709551616}"#,
        r#"{"phoneNumber": 1000000000000000000000}"#,
    ] {
        let body: Value = serde_json::from_str(text).unwrap();
        let by_doc = identify.is_valid(&body);
        assert_eq!(
            by_doc,
            IdentifyRequest::from_json(text.as_bytes()).is_ok(),
            "{text}"
        );
    }
}

proptest! {
    #[test]
    fn a_phone_number_is_valid_by_the_document_exactly_when_the_service_accepts_it(
        phone in "[0-9 +().\\-a\t]{0,26}",
    ) {
        let identify = validator("IdentifyRequest");
        agree(&identify, &json!({ "phoneNumber": phone }));
        agree(&identify, &json!({ "email": "a@x.io", "phoneNumber": phone }));
    }
}

#[test]
fn the_region_codes_are_the_ones_the_service_knows() {
    let doc = doc();
    let listed: Vec<String> =
        doc["components"]["schemas"]["SettingsRequest"]["properties"]["phoneRegion"]["anyOf"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|s| s["enum"].as_array())
            .expect("an enum of region codes")
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
    let known: Vec<String> = (b'A'..=b'Z')
        .flat_map(|a| (b'A'..=b'Z').map(move |b| String::from_utf8(vec![a, b]).unwrap()))
        .filter(|code| PhoneRegion::parse(code).is_ok())
        .collect();
    assert_eq!(listed, known, "the document's region codes");
    let settings = validator("SettingsRequest");
    for (region, valid) in [
        (json!("IN"), true),
        (json!(null), true),
        (json!(""), true),
        (json!("  "), true),
        (json!("ZZ"), false),
        (json!("IND"), false),
        (json!(1), false),
    ] {
        assert_eq!(
            settings.is_valid(&json!({ "phoneRegion": region })),
            valid,
            "{region}"
        );
    }
    assert!(!settings.is_valid(&json!({})), "phoneRegion is required");
}

#[test]
fn limits_are_whole_numbers_from_one_to_a_million() {
    let limits = validator("LimitsRequest");
    for (value, valid) in [
        (json!(null), true),
        (json!(1), true),
        (json!(1_000_000), true),
        (json!(0), false),
        (json!(1_000_001), false),
        (json!(-1), false),
        (json!(1.5), false),
    ] {
        for key in ["emails", "phones"] {
            assert_eq!(
                limits.is_valid(&json!({ key: value })),
                valid,
                "{key}: {value}"
            );
        }
    }
}
