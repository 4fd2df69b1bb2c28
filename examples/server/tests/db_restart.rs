//! A PostgreSQL restart under a warm pool costs no request once the server is back: every
//! pooled connection it ended is replaced on first use, /readyz included (a cluster of this
//! test's own: restarting the shared server would break the tests beside it).

mod common;

use common::TestServer;
use identity_testkit::cluster::PrivateCluster;

async fn status(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_a_warm_pool_fails_no_request_afterwards() {
    let cluster = PrivateCluster::start();
    let server = TestServer::start(&cluster.url(), &["--max-connections", "10"]).await;
    let client = common::client();
    for mode in ["fast", "immediate"] {
        // warm the pool: more concurrent requests than it has connections
        let warming: Vec<_> = (0..40)
            .map(|i| {
                let request = client
                    .post(server.url("/identify"))
                    .body(format!(r#"{{"email":"warm{i}.{mode}@x.io"}}"#));
                tokio::spawn(async move { status(request.send().await.unwrap()).await })
            })
            .collect();
        for call in warming {
            let (code, body) = call.await.unwrap();
            assert_eq!(code, 200, "{body}");
        }
        // returns once the server accepts connections again: no wait after it
        cluster.restart(mode);
        let (code, body) = status(client.get(server.url("/readyz")).send().await.unwrap()).await;
        assert_eq!(code, 200, "/readyz after a {mode} restart: {body}");
        for i in 0..12 {
            let response = client
                .post(server.url("/identify"))
                .body(format!(
                    r#"{{"email":"after{i}.{mode}@x.io","phoneNumber":"{i}"}}"#
                ))
                .send()
                .await
                .unwrap();
            let (code, body) = status(response).await;
            assert_eq!(code, 200, "request {i} after a {mode} restart: {body}");
        }
        let (code, body) = status(
            client
                .get(server.url(&format!("/contacts?email=after3.{mode}@x.io")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(code, 200, "{body}");
    }
    identity_testkit::assert_verified(&server.identity).await;
    identity_testkit::assert_invariants(&server.identity.all_contacts().await.unwrap());
    server.stop().await;
}
