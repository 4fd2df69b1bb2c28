//! An in-process server on a free port for the HTTP tests, and a client for it.
#![allow(dead_code)] // each test binary uses a different subset

pub mod running;

use clap::Parser;
use identity::Identity;
use identity_server::Config;
use serde_json::Value;

/// A running server and a handle on its database.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A separate handle on the same database, for checking what was written.
    pub identity: Identity,
    /// The server's configuration.
    pub config: Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts the service on 127.0.0.1 and a free port, with `args` as command-line flags.
    pub async fn start(database_url: &str, args: &[&str]) -> TestServer {
        let mut argv = vec![
            "identity-server",
            "--database-url",
            database_url,
            "--port",
            "0",
        ];
        argv.extend_from_slice(args);
        let config = Config::parse_from(argv);
        let identity = identity_server::connect(&config).await.expect("connect");
        Self::serve(identity, config).await
    }

    /// Starts the service over `identity` (already migrated), with `args` as flags.
    pub async fn start_on(identity: Identity, args: &[&str]) -> TestServer {
        let mut argv = vec!["identity-server", "--port", "0"];
        argv.extend_from_slice(args);
        Self::serve(identity, Config::parse_from(argv)).await
    }

    async fn serve(identity: Identity, config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app =
            identity_server::router(identity.clone(), &config).expect("a valid configuration");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = config.connection_limits();
        let task = tokio::spawn(identity_server::listen::serve(
            listener,
            app,
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        TestServer {
            base,
            identity,
            config,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.identity.close().await;
    }
}

/// The message of the configuration error the service stops with when started with `args`
/// (on `memory:` and a free port); panics when it starts.
pub async fn start_up_error(args: &[&str]) -> String {
    let mut argv = vec![
        "identity-server",
        "--database-url",
        "memory:",
        "--port",
        "0",
    ];
    argv.extend_from_slice(args);
    let config = Config::try_parse_from(argv).expect("flags clap accepts");
    match identity_server::run(config, async {}).await {
        Ok(()) => panic!("the service started with {args:?}"),
        Err(e) => e.to_string(),
    }
}

/// A client that does not retry or pool across tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The status of a GET on `path`.
pub async fn get_status(server: &TestServer, path: &str) -> u16 {
    client()
        .get(server.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `method` on `path` with the optional token and tenant header and an empty body: the status,
/// the `WWW-Authenticate` header and the JSON answer.
pub async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    tenant: Option<&str>,
) -> (u16, Option<String>, Value) {
    let response = request(server, method, path, token, tenant)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, response.json().await.unwrap())
}

/// `method` on `path`, with the bearer `token` and the `X-Tenant-Id` header `tenant` when given.
pub fn request(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    tenant: Option<&str>,
) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client().request(method, server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(tenant) = tenant {
        request = request.header("X-Tenant-Id", tenant);
    }
    request
}
