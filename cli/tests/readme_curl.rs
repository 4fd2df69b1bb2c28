//! The README's curl lines run against the real service, as printed: `identity serve` on a fresh
//! SQLite file (with an admin token when the block uses one, as the README's set-up says), each ```sh block that talks to `localhost:3000` run command by
//! command through `bash` (only the port is the test's own), and each answer compared with the
//! `#` comment under it, where `...` stands for anything and a time for any time. A block whose
//! section's prose sets up rows first (history, split, erase) gets those same identifies first.

use std::process::Command;

mod support;
const TOKEN: &str = "readme-admin-token";

/// One command of a block (continuation lines joined) and the answer its comment shows, if any.
struct Step {
    command: String,
    expected: Option<String>,
}

/// The ```sh blocks of the README that talk to the service.
fn curl_blocks() -> Vec<Vec<Step>> {
    let readme = include_str!("../../README.md");
    readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.contains("localhost:3000"))
        .map(steps)
        .collect()
}

fn steps(block: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut continued = false;
    for line in block.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            let step = steps.last_mut().expect("a comment follows a command");
            let text = comment.trim();
            // a continued answer, or the answer after a few words of prose ("another shop: {...")
            match &mut step.expected {
                Some(answer) => answer.push_str(text),
                None => step.expected = text.find('{').map(|at| text[at..].to_owned()),
            }
        } else if continued {
            let step = steps.last_mut().unwrap();
            step.command.push('\n');
            step.command.push_str(line);
        } else if !line.trim().is_empty() {
            steps.push(Step {
                command: line.to_owned(),
                expected: None,
            });
        }
        // a trailing backslash, or a quoted body that goes on over the next line
        let open_quote = steps
            .last()
            .is_some_and(|s| s.command.matches('\'').count() % 2 == 1);
        continued = line.ends_with('\\') || open_quote;
    }
    steps
}

/// `expected` with `...` as "anything" and every RFC 3339 time as "any time", anchored.
fn pattern(expected: &str) -> regex::Regex {
    let time = regex::Regex::new(r#""\d{4}-\d\d-\d\dT[0-9:.]+Z""#).unwrap();
    let mut out = String::from("^");
    let mut last = 0;
    for found in time.find_iter(expected) {
        out.push_str(&regex::escape(&expected[last..found.start()]).replace(r"\.\.\.", ".*"));
        out.push_str(r#""\d{4}-\d\d-\d\dT[0-9:.]+Z""#);
        last = found.end();
    }
    out.push_str(&regex::escape(&expected[last..]).replace(r"\.\.\.", ".*"));
    out.push('$');
    regex::Regex::new(&out).unwrap()
}

/// The identifies the README's prose (and its Rust/Python/JS twins) make before a block.
fn setup_for(block: &[Step]) -> &'static [(&'static str, &'static str)] {
    let first = &block[0].command;
    if first.contains("/history") {
        &[
            ("doc@hillvalley.edu", "555-0101"),
            ("emmett@hillvalley.edu", "555-0202"),
            ("doc@hillvalley.edu", "555-0202"),
        ]
    } else if first.contains("/split") {
        &[
            ("doc@hillvalley.edu", "555-0101"),
            ("biff@hillvalley.edu", "555-0303"),
            ("doc@hillvalley.edu", "555-0303"),
        ]
    } else if first.contains("/erase") || first.contains("/events") || first.contains("/webhooks") {
        &[("doc@hillvalley.edu", "555-0101")]
    } else {
        &[]
    }
}

#[tokio::test]
async fn the_readme_curl_lines_answer_as_printed() {
    let blocks = curl_blocks();
    // HTTP, blocked values, history, split, erase, limits, import, a table's import, the feed,
    // webhooks, metrics
    assert_eq!(blocks.len(), 11, "the README's curl blocks");
    let mut compared = 0;
    for block in &blocks {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("readme.db").display());
        let admin = block
            .iter()
            .any(|s| s.command.contains("$IDENTITY_ADMIN_TOKEN"));
        let envs: &[(&str, &str)] = if admin {
            &[("IDENTITY_ADMIN_TOKEN", TOKEN)]
        } else {
            &[]
        };
        let (_child, host) = support::serve(&url, envs).await;
        let client = reqwest::Client::new();
        for (email, phone) in setup_for(block) {
            let body = serde_json::json!({ "email": email, "phoneNumber": phone });
            let answer = client
                .post(format!("http://{host}/identify"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(answer.status().is_success());
        }
        for step in block {
            let command = step.command.replace("localhost:3000", &host);
            let run = Command::new("bash")
                .args(["-c", &command])
                .env("IDENTITY_ADMIN_TOKEN", TOKEN)
                .output()
                .expect("bash runs");
            let out = String::from_utf8_lossy(&run.stdout);
            assert!(
                run.status.success(),
                "{}: {}",
                step.command,
                String::from_utf8_lossy(&run.stderr)
            );
            assert!(
                !out.contains("\"error\""),
                "{} answered an error: {out}",
                step.command
            );
            if let Some(expected) = &step.expected {
                assert!(
                    pattern(expected).is_match(out.trim()),
                    "{}\nanswered  {out}\nREADME    {expected}",
                    step.command
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 10, "only {compared} answers compared");
}

#[test]
fn blocks_split_into_commands_and_comments_into_patterns() {
    let steps = steps(
        "curl -s x \\\n  -d '{}'\n# another: {\"a\":1,...,\n#  \"at\":\"2026-11-21T10:00:00.1Z\"}\ncurl -d '{\n}'\n",
    );
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1].command, "curl -d '{\n}'");
    assert_eq!(steps[1].expected, None);
    assert_eq!(steps[0].command, "curl -s x \\\n  -d '{}'");
    let expected = steps[0].expected.as_deref().unwrap();
    assert!(pattern(expected).is_match(r#"{"a":1,"b":2,"at":"2027-01-01T00:00:00Z"}"#));
    assert!(!pattern(expected).is_match(r#"{"a":2,"b":2,"at":"2027-01-01T00:00:00Z"}"#));
    assert!(!pattern(expected).is_match(r#"{"a":1,"at":"soon"}"#));
}
