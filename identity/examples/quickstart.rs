//! The README's Rust snippet, compiled by `cargo test` so it cannot rot.
//! Run: `cargo run -p identity --example quickstart [URL]` (default `sqlite::memory:`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> identity::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite::memory:".to_owned());
    let identity = identity::connect(&url).await?; // or postgres://..., memory:
    let c = identity
        .identify(Some("doc@hillvalley.edu"), Some("123456"))
        .await?;
    println!(
        "{} {:?} {:?}",
        c.primary_contact_id, c.emails, c.secondary_contact_ids
    );
    let known = identity.lookup(Some("doc@hillvalley.edu"), None).await?; // writes nothing
    println!("{}", serde_json::to_string(&known).unwrap_or_default());
    let report = identity.verify().await?; // rows vs I1-I4, derived records vs rows
    println!("{report}");
    let shop = identity.tenant("shop-42")?; // another shop in the same store: sees none of the above
    assert!(
        shop.lookup(Some("doc@hillvalley.edu"), None)
            .await?
            .is_none()
    );
    let india = identity.tenant("shop-in")?;
    india.set_phone_region(Some("IN")).await?; // a shop in India: national numbers, stored in E.164
    let c = india.identify(None, Some("098765 43210")).await?; // c.phone_numbers: ["+919876543210"]
    assert_eq!(c.phone_numbers[0].as_str(), "+919876543210");
    identity.close().await;
    Ok(())
}
