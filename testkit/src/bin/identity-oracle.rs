//! `identity-oracle`: the test oracle of the Rust suites, for the Python and Node suites, so
//! that every language checks against one copy of it.
//!
//! `identity-oracle check <postgres-url> [--requests]` counts the violations of I1-I4 in SQL
//! (within every tenant) and, with `--requests`, reads every request a test sent (JSON lines
//! `{"email": ..., "phoneNumber": ..., "tenant": ...}` on standard input; no tenant means the
//! default) and compares each tenant's stored customers with the union-find over its requests. It prints a JSON report and exits 0 when everything holds,
//! 1 when something does not, 2 on bad usage.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::ExitCode;

use identity::IdentifyRequest;
use identity_testkit::{Model, sql_violations, stored_customers};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (url, with_requests) = match &args[1.min(args.len())..] {
        [command, url] if command == "check" => (url, false),
        [command, url, flag] if command == "check" && flag == "--requests" => (url, true),
        _ => {
            eprintln!("usage: identity-oracle check <postgres-url> [--requests < requests.jsonl]");
            return ExitCode::from(2);
        }
    };
    let pool = match sqlx::PgPool::connect(url).await {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("identity-oracle: cannot connect: {e}");
            return ExitCode::from(2);
        }
    };
    let violations = sql_violations(&pool).await;
    let mut ok = violations.values().all(|n| *n == 0);
    let mut report = json!({"violations": violations});
    if with_requests {
        let mut models: BTreeMap<String, Model> = BTreeMap::new();
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(&line) {
                Ok((tenant, request)) => models.entry(tenant).or_default().add(&request),
                Err(e) => {
                    eprintln!("identity-oracle: request {line} is invalid: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        let mut tenants = serde_json::Map::new();
        for (tenant, model) in &mut models {
            let rows = identity_testkit::visible_rows(&pool, tenant).await;
            let (expected, stored) = (model.customers(), stored_customers(&rows));
            let same = expected == stored;
            ok &= same;
            tenants.insert(
                tenant.clone(),
                json!({
                    "match": same,
                    "model": expected.len(),
                    "stored": stored.len(),
                    "only_in_model": expected.difference(&stored).take(5).collect::<Vec<_>>(),
                    "only_stored": stored.difference(&expected).take(5).collect::<Vec<_>>(),
                }),
            );
        }
        report["customers"] = tenants.into();
    }
    report["ok"] = json!(ok);
    println!("{report}");
    pool.close().await;
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A request line: its tenant (`default` when absent) and the request.
fn parse_line(line: &str) -> Result<(String, IdentifyRequest), String> {
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let tenant = match value.as_object_mut().and_then(|o| o.remove("tenant")) {
        None => identity::TenantId::DEFAULT.to_owned(),
        Some(serde_json::Value::String(t)) => t,
        Some(other) => return Err(format!("tenant must be a string, got {other}")),
    };
    let request =
        IdentifyRequest::from_json(value.to_string().as_bytes()).map_err(|e| e.to_string())?;
    Ok((tenant, request))
}
