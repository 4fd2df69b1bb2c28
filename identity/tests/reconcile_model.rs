//! Property test: any sequence of requests, run through the identify step (via SQLite in
//! memory), ends in exactly the customers a union-find over the requests'
//! identifiers predicts, with every invariant intact and the derived records equal to what the
//! rows define (`verify`) after every step.

use identity_testkit as common;

use std::collections::BTreeSet;

use identity::{ContactId, ContactStore, IdentifyRequest, SqliteStore, TenantId};
use proptest::prelude::*;

/// A raw request over 4 emails and 4 phones, with case and formatting noise that normalization
/// must remove.
fn raw_request() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    let email = (0..4u8, any::<bool>()).prop_map(|(i, upper)| {
        let e = format!("user{i}@shop.test");
        if upper {
            format!(" {} ", e.to_uppercase())
        } else {
            e
        }
    });
    let phone = (0..4u8, any::<bool>()).prop_map(|(i, fmt)| {
        if fmt {
            format!("(55) 5-{i}")
        } else {
            format!("555{i}")
        }
    });
    (proptest::option::of(email), proptest::option::of(phone))
        .prop_filter("one value", |(e, p)| e.is_some() || p.is_some())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_request_sequence_matches_the_union_find_model(requests in proptest::collection::vec(raw_request(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
            store.migrate().await.unwrap();
            let tenant = TenantId::default();
            let mut model = common::Model::default();
            let mut seen: BTreeSet<String> = BTreeSet::new();
            // rows before each request: the previous step's (nothing else writes)
            let mut before = 0;
            for (email, phone) in &requests {
                let request = IdentifyRequest::parse(email.as_deref(), phone.as_deref()).unwrap();
                let answer = store.identify(&tenant, &request).await.unwrap();
                let rows = store.all_contacts(&tenant).await.unwrap();
                model.add(&request);
                common::assert_invariants(&rows);
                let report = store.verify(&tenant).await.unwrap();
                assert!(report.is_clean(), "{report}");
                common::assert_answer_covers(&request, &answer);

                // a row is inserted exactly when the request brings an identifier never seen
                let keys: Vec<String> = request.email().map(|e| format!("e:{e}")).into_iter()
                    .chain(request.phone_number().map(|p| format!("p:{p}"))).collect();
                let brings_new = keys.iter().any(|k| !seen.contains(k));
                seen.extend(keys);
                assert_eq!(rows.len() - before, usize::from(brings_new), "insert rule for {request:?}");
                before = rows.len();

                // the customers are the model's connected components
                assert_eq!(common::stored_customers(&rows), model.customers());

                // the answer is the request's whole customer: primary = its oldest row
                let matches = |c: &&identity::Contact| {
                    (request.email().is_some() && c.email.as_ref() == request.email())
                        || (request.phone_number().is_some() && c.phone_number.as_ref() == request.phone_number())
                };
                let root = rows.iter().find(matches).unwrap().root();
                let members: Vec<_> = rows.iter().filter(|c| c.root() == root).collect();
                let oldest = members.iter().min_by_key(|c| (c.created_at, c.id)).unwrap().id;
                assert_eq!(answer.primary_contact_id, oldest);
                let secondaries: Vec<ContactId> = members.iter().map(|c| c.id).filter(|id| *id != oldest).collect();
                assert_eq!(answer.secondary_contact_ids, secondaries);
                let emails: BTreeSet<_> = members.iter().filter_map(|c| c.email.clone()).collect();
                assert_eq!(answer.emails.iter().cloned().collect::<BTreeSet<_>>(), emails);
                assert_eq!(answer.emails.len(), emails.len(), "emails are distinct");
                let primary_row = members.iter().find(|c| c.id == oldest).unwrap();
                if let Some(e) = &primary_row.email {
                    assert_eq!(&answer.emails[0], e, "primary's email first");
                }
                if let Some(p) = &primary_row.phone_number {
                    assert_eq!(&answer.phone_numbers[0], p, "primary's phone first");
                }
            }
        });
    }
}
