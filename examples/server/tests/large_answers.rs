//! A large customer's answer over HTTP is rendered once per change of the customer
//! (`src/rendered.rs`) and is always the customer as it is now: after a row added through this
//! service or through another process, after a merge, with the legacy key, with a value left
//! out, and in each tenant.

mod common;

use common::TestServer;
use identity_testkit::TestDb;
use serde_json::{Value, json};

/// `POST /identify` in `tenant`: the answer's `contact`, and the whole body.
async fn identify(server: &TestServer, tenant: &str, email: &str, phone: &str) -> (Value, Value) {
    let response = common::client()
        .post(server.url("/identify"))
        .header("X-Tenant-Id", tenant)
        .json(&json!({"email": email, "phoneNumber": phone}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    (body["contact"].clone(), body)
}

fn emails(contact: &Value) -> Vec<String> {
    contact["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_customers_answer_is_the_customer_as_it_is_now() {
    let db = TestDb::create().await;
    let other = identity::connect(db.url()).await.unwrap(); // another process; migrates
    let shop = other.for_tenant(identity::TenantId::parse("shop").unwrap());
    for k in 0..300 {
        let email = format!("row{k}@big.io");
        shop.identify(Some(&email), Some("555")).await.unwrap();
    }
    let server = TestServer::start(db.url(), &[]).await;
    let (first, body) = identify(&server, "shop", "row1@big.io", "555").await;
    assert_eq!(emails(&first).len(), 300);
    assert_eq!(first["primaryContatctId"], first["primaryContactId"]);
    let (again, again_body) = identify(&server, "shop", "row2@big.io", "555").await;
    assert_eq!(again_body, body, "a returning checkout: the same answer");

    // a row added through the service, then one through another process
    let (grown, _) = identify(&server, "shop", "new@big.io", "555").await;
    assert_eq!(emails(&grown).len(), 301);
    assert_eq!(emails(&grown)[300], "new@big.io");
    let (returning, _) = identify(&server, "shop", "row1@big.io", "555").await;
    assert_eq!(returning, grown);
    shop.identify(Some("elsewhere@big.io"), Some("555"))
        .await
        .unwrap();
    let (now, _) = identify(&server, "shop", "row1@big.io", "555").await;
    assert_eq!(emails(&now).len(), 302);
    assert_eq!(
        now["secondaryContactIds"].as_array().unwrap().len(),
        again["secondaryContactIds"].as_array().unwrap().len() + 2
    );

    // the same values in another tenant are another customer
    let (elsewhere, _) = identify(&server, "other-shop", "row1@big.io", "555").await;
    assert_eq!(emails(&elsewhere), ["row1@big.io"]);

    // a merge with a customer of its own (an older one: it becomes the primary)
    let (_, _) = identify(&server, "shop", "solo@big.io", "777").await;
    let (merged, _) = identify(&server, "shop", "solo@big.io", "555").await;
    assert_eq!(emails(&merged).len(), 303);
    let (returning, _) = identify(&server, "shop", "row7@big.io", "555").await;
    assert_eq!(returning, merged);

    // a value left out (blocked through another process): the answer says so, beside the
    // customer's usual lists, and the next request's answer does not
    shop.block(&identity::BlockedValue::phone("999").unwrap())
        .await
        .unwrap();
    let mut said = None;
    for _ in 0..50 {
        // the service learns the tenant's new blocked list on its next write or after its
        // settings are read again; a write of this customer brings it at once
        let (contact, body) = identify(&server, "shop", "row1@big.io", "999").await;
        if body.get("ignored").is_some() {
            said = Some((contact, body));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (contact, body) = said.expect("the blocked phone is left out");
    assert_eq!(
        body["ignored"],
        json!([{"field": "phoneNumber", "reason": "blocked"}])
    );
    assert_eq!(contact, merged);
    let (_, plain) = identify(&server, "shop", "row1@big.io", "555").await;
    assert!(plain.get("ignored").is_none(), "{plain}");
    server.stop().await;
    other.close().await;
}
