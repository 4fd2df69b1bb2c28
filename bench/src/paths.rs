//! Database round trips per identify, by path, counted at the wire (see
//! `identity_testkit::wire`), on one warmed-up connection.

use std::collections::BTreeMap;

use identity::{ConnectOptions, Identity};
use identity_testkit::wire::RoundTripCounter;

use crate::mix::{Dataset, Generator, Kind};

/// Mean round trips per identify of each kind (excluding the pool's bare pings after use).
pub async fn round_trips(
    database_url: &str,
    data: &Dataset,
    per_kind: u64,
) -> Result<BTreeMap<Kind, f64>, String> {
    let counter = RoundTripCounter::start(database_url).await;
    let options = ConnectOptions::default().max_connections(1).migrate(false);
    let identity = Identity::connect_with(&counter.url(database_url), &options)
        .await
        .map_err(|e| e.chain())?;
    let mut generator = Generator::new(7, 999, data.clone());
    let mut out = BTreeMap::new();
    for kind in Kind::ALL {
        // warm-up: the first use of a statement on a connection also prepares it
        for _ in 0..3 {
            let op = generator.op(kind);
            identity
                .identify(op.email.as_deref(), op.phone.as_deref())
                .await
                .map_err(|e| e.chain())?;
        }
        counter.take();
        for _ in 0..per_kind {
            let op = generator.op(kind);
            identity
                .identify(op.email.as_deref(), op.phone.as_deref())
                .await
                .map_err(|e| e.chain())?;
        }
        out.insert(kind, counter.take() as f64 / per_kind as f64);
    }
    identity.close().await;
    Ok(out)
}
