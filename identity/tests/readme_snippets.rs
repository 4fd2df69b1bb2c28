//! The README's Rust Governance snippets run as written: their lines are the bodies of
//! `the_governance_snippet_runs`, `the_history_snippet_runs`, `the_split_snippet_runs`, `the_erase_snippet_runs`, `the_limits_snippet_runs` and (section Command line) `the_import_snippet_runs`, `the_table_import_snippet_runs` and (section Change feed) `the_feed_snippet_runs` and (section Webhooks) `the_webhooks_snippet_runs` and (section Metrics) `the_metrics_snippet_runs` below, and `the_readme_shows_these_lines` checks that the
//! README still says exactly that (so neither can drift from the other).

/// Every line of the README's ```rust blocks in the section `heading`, trimmed.
fn readme_rust_lines(heading: &str) -> Vec<String> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("README has no section {heading}"));
    section
        .split("```rust\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .flat_map(str::lines)
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_readme_shows_these_lines() {
    let source: Vec<String> = include_str!("readme_snippets.rs")
        .lines()
        .map(|l| l.trim().to_owned())
        .collect();
    let mut lines = readme_rust_lines("Governance");
    assert!(!lines.is_empty());
    let import = readme_rust_lines("Command line");
    assert!(!import.is_empty());
    lines.extend(import);
    let feed = readme_rust_lines("Change feed");
    assert!(!feed.is_empty());
    lines.extend(feed);
    let webhooks = readme_rust_lines("Webhooks");
    assert!(!webhooks.is_empty());
    lines.extend(webhooks);
    let metrics = readme_rust_lines("Metrics");
    assert!(!metrics.is_empty());
    lines.extend(metrics);
    for line in lines {
        assert!(
            source.contains(&line),
            "README line not run by this test: {line}"
        );
    }
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_governance_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    let c = identity.identify(Some("null@shop.io"), Some("555-0101")).await?;
    assert!(c.emails.is_empty() && c.ignored[0].reason.as_str() == "blocked");
    identity.block(&identity::BlockedValue::email("front-desk@shop.io")?).await?;
    let refused = identity.identify(Some("Front-Desk@shop.io"), None).await;
    assert!(matches!(refused, Err(identity::Error::BlockedValue { .. })));
    Ok(())
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_history_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    identity.identify(Some("doc@hillvalley.edu"), Some("555-0101")).await?;
    let other = identity.identify(Some("emmett@hillvalley.edu"), Some("555-0202")).await?;
    identity.identify(Some("doc@hillvalley.edu"), Some("555-0202")).await?; // one person after all
    let history = identity.history(other.primary_contact_id).await?;
    assert_eq!(history.customer.get(), 1);
    assert!(matches!(history.events[2].change, identity::Change::Merged { .. }));
    Ok(())
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_split_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    identity.identify(Some("doc@hillvalley.edu"), Some("555-0101")).await?;
    identity.identify(Some("biff@hillvalley.edu"), Some("555-0303")).await?;
    identity.identify(Some("doc@hillvalley.edu"), Some("555-0303")).await?; // a mistyped phone merged them
    let split = identity.split(identity::ContactId::new(1), &[identity::ContactId::new(2)], false).await?;
    assert_eq!(split.new_customer.primary_contact_id.get(), 2);
    let again = identity.identify(Some("doc@hillvalley.edu"), Some("555-0303")).await?;
    assert_eq!(again.ignored[0].reason, identity::IgnoredReason::KeptApart);
    Ok(())
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_erase_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    identity.identify(Some("doc@hillvalley.edu"), Some("555-0101")).await?;
    let receipt = identity.erase(identity::ContactId::new(1), true).await?;
    assert_eq!(receipt.contact_ids, [identity::ContactId::new(1)]);
    let again = identity.identify(Some("doc@hillvalley.edu"), Some("555-0202")).await?;
    assert_eq!(again.ignored[0].reason, identity::IgnoredReason::Suppressed);
    Ok(())
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_limits_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    identity.set_limits(identity::Limits::new(None, Some(1))?).await?;
    identity.identify(Some("doc@hillvalley.edu"), Some("555-0101")).await?;
    let c = identity.identify(Some("doc@hillvalley.edu"), Some("555-0202")).await?;
    assert_eq!(c.ignored[0].reason, identity::IgnoredReason::Limit);
    Ok(())
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_import_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    let records = [
    serde_json::json!({"email": "doc@hillvalley.edu", "phoneNumber": "5550101", "at": "2019-03-01T00:00:00Z"}),
    serde_json::json!({"email": "emmett@hillvalley.edu", "phoneNumber": 5550101, "at": 1593887400}),
    ];
    let report = identity.import_records(&records, identity::import::ImportOptions::default()).await?;
    assert_eq!((report.rows, report.customers), (2, 1));
    assert_eq!(identity.customers().await?[0].emails.len(), 2);
    Ok(())
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_table_import_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    let at = time::OffsetDateTime::from_unix_timestamp(1_680_343_200).unwrap();
    let rows = vec![
    identity::import::TableRow::new(25417).email("raj@x.io").created_at(at),
    identity::import::TableRow::new(25421).email("paul@x.io").created_at(at),
    ];
    let report = identity.import_table(rows, identity::import::ImportOptions::default()).await?;
    assert_eq!(report.ids.map(|(first, last)| (first.get(), last.get())), Some((25417, 25421)));
    Ok(())
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_feed_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    identity.identify(Some("doc@hillvalley.edu"), Some("555-0101")).await?;
    let page = identity.events(None, 100).await?; // identity.feed(None) is a Stream of them
    assert_eq!(page.events[0].change.kind(), "contact.created");
    let later = identity.events_wait(Some(page.next), 100, std::time::Duration::from_millis(10)).await?;
    assert!(later.events.is_empty());
    Ok(())
}

#[rustfmt::skip] // the README's lines, as it shows them
#[tokio::test]
async fn the_webhooks_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    let hook = identity.create_webhook("https://crm.example.com/hooks", identity::webhook::EventTypes::ALL).await?;
    assert!(hook.secret.as_str().starts_with("whsec_"));
    let again = identity.replay_webhook(hook.webhook.id, None).await?; // everything kept, from the start
    assert_eq!(again.state, identity::webhook::WebhookState::Active);
    Ok(())
}

#[tokio::test]
async fn the_metrics_snippet_runs() -> identity::Result<()> {
    let identity = identity::connect("memory:").await?;
    identity.identify(Some("doc@hillvalley.edu"), None).await?;
    let stats = identity.stats();
    assert_eq!(stats.identified(identity::IdentifyOutcome::Created), 1);
    assert_eq!(identity.feed_stats().await?.events_written, 1);
    Ok(())
}
