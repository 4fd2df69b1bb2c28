//! The Rust snippet of docs/operations.md runs as written: its lines are the body of
//! `the_backup_and_reapply_snippet_runs` below (after the line that makes `folder`), and
//! `the_page_shows_these_lines` checks that the page still says exactly that.

/// Every line of the page's ```rust blocks, trimmed, without blank lines.
fn page_rust_lines() -> Vec<String> {
    include_str!("../../docs/operations.md")
        .split("```rust\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .flat_map(str::lines)
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_page_shows_these_lines() {
    let source: Vec<String> = include_str!("operations_snippets.rs")
        .lines()
        .map(|l| l.trim().to_owned())
        .collect();
    let lines = page_rust_lines();
    assert!(lines.len() > 5, "{lines:?}");
    for line in lines {
        assert!(
            source.contains(&line),
            "docs/operations.md line not run by this test: {line}"
        );
    }
}

#[rustfmt::skip] // the page's lines, as it shows them
#[tokio::test]
async fn the_backup_and_reapply_snippet_runs() -> identity::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    // `folder`: where the database, its backups and the log live
    let options = identity::ConnectOptions::default().erasure_log(folder.join("erasures.jsonl"));
    let live = identity::Identity::connect_with(&format!("sqlite://{}", folder.join("live.db").display()), &options).await?;
    live.identify(Some("doc@hillvalley.edu"), Some("555-0101")).await?;
    live.backup_to(folder.join("nightly.db"), false).await?; // a consistent copy, taken while it serves
    live.erase(identity::ContactId::new(1), true).await?; // its record reaches the log first
    let restored = identity::connect(&format!("sqlite://{}", folder.join("nightly.db").display())).await?;
    let report = restored.reapply_erasures(&identity::ErasureLog::read(folder.join("erasures.jsonl"))?).await?;
    assert_eq!(report.erased_ids, [identity::ContactId::new(1)]);
    assert!(restored.all_contacts().await?.is_empty()); // and doc@ is suppressed again
    Ok(())
}
