use time::macros::datetime;

use super::stored::{FeedBounds, StoredFeedRow, page};
use super::*;

fn row(position: i64, kind: &str, customer: i64, contact: i64) -> StoredFeedRow {
    StoredFeedRow {
        seq: position + 100,
        position,
        customer: Some(customer),
        kind: kind.to_owned(),
        contact: Some(contact),
        contacts: None,
        kept: None,
        email: Some("doc@x.io".into()),
        phone: None,
        at: datetime!(2026-12-04 10:00 UTC),
    }
}

fn tenant() -> TenantId {
    TenantId::default()
}

#[test]
fn cursors_read_back_what_they_print_and_nothing_else() {
    for position in [0, 1, 42, u64::MAX] {
        let cursor = Cursor::at(position);
        assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
    }
    for bad in [
        "",
        "f1.",
        "f1.xyz",
        "f2.1",
        "1",
        "f1.-1",
        "f1.11111111111111111",
    ] {
        let e = bad.parse::<Cursor>().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad}");
        assert!(e.to_string().starts_with("invalid cursor: "), "{e}");
    }
}

#[test]
fn a_page_tells_created_and_linked_apart_and_names_its_next_cursor() {
    let rows = vec![row(3, "created", 7, 7), row(4, "existing", 7, 9)];
    let bounds = FeedBounds { floor: 0, head: 4 };
    let page = page(&tenant(), Some(Cursor::at(2)), bounds, rows).unwrap();
    assert_eq!(page.next, Cursor::at(4));
    let kinds: Vec<_> = page.events.iter().map(|e| e.change.kind()).collect();
    assert_eq!(kinds, ["contact.created", "contact.linked"]);
    let wire = serde_json::to_value(&page).unwrap();
    assert_eq!(
        wire["events"][1],
        serde_json::json!({
            "id": "evt_104", "type": "contact.linked", "tenant": "default",
            "occurredAt": "2026-12-04T10:00:00Z", "cursor": "f1.4",
            "data": {"contactId": 9, "primaryContactId": 7, "email": "doc@x.io",
                     "phoneNumber": null}
        })
    );
    assert_eq!(wire["next"], "f1.4");
}

#[test]
fn an_empty_page_keeps_the_cursor_and_starts_at_the_floor() {
    let bounds = FeedBounds { floor: 5, head: 9 };
    let page_after = page(&tenant(), Some(Cursor::at(9)), bounds, vec![]).unwrap();
    assert_eq!(page_after.next, Cursor::at(9));
    let from_start = page(&tenant(), None, bounds, vec![]).unwrap();
    assert_eq!(from_start.next, Cursor::at(5));
}

#[test]
fn a_pruned_cursor_is_expired_and_a_future_one_invalid() {
    let bounds = FeedBounds { floor: 5, head: 9 };
    let expired = page(&tenant(), Some(Cursor::at(4)), bounds, vec![]).unwrap_err();
    assert_eq!(expired.kind(), crate::ErrorKind::Expired);
    assert!(expired.to_string().contains("f1.5"), "{expired}");
    let ahead = page(&tenant(), Some(Cursor::at(10)), bounds, vec![]).unwrap_err();
    assert_eq!(ahead.kind(), crate::ErrorKind::InvalidInput);
}

#[test]
fn merges_splits_and_erases_carry_their_ids_and_no_values() {
    let mut merged = row(1, "merged", 1, 4);
    merged.contacts = Some("4,5".into());
    let mut split = row(2, "split_off", 1, 5);
    split.contacts = Some("5".into());
    split.kept = Some("1,4".into());
    let mut erased = row(3, "erased", 1, 1);
    erased.contacts = Some("1,4".into());
    let bounds = FeedBounds { floor: 0, head: 3 };
    let page = page(&tenant(), None, bounds, vec![merged, split, erased]).unwrap();
    let data: Vec<_> = serde_json::to_value(&page).unwrap()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"].clone())
        .collect();
    assert_eq!(
        data,
        [
            serde_json::json!({"primaryContactId": 1, "mergedPrimaryContactId": 4,
                               "contactIds": [4, 5]}),
            serde_json::json!({"customers": [{"primaryContactId": 1, "contactIds": [1, 4]},
                                             {"primaryContactId": 5, "contactIds": [5]}]}),
            serde_json::json!({"contactIds": [1, 4]}),
        ]
    );
}

#[test]
fn page_sizes_and_waits_are_bounded() {
    assert!(page_size(0).is_err());
    assert_eq!(page_size(1000).unwrap(), 1000);
    assert!(page_size(1001).is_err());
    assert!(wait_time(std::time::Duration::from_secs(31)).is_err());
}
