//! Tests of the checkpoints beside the writer (`wal.rs`): the write-ahead log starts again
//! while writes go on, so it stays short, and what was written is all there.

use std::path::Path;

use super::SqliteStore;
use crate::request::IdentifyRequest;
use crate::store::ContactStore;
use crate::tenant::TenantId;

/// The write-ahead log's size on disk (it grows as frames are appended and keeps its size when
/// it starts again from its beginning).
fn log_size(database: &Path) -> u64 {
    let mut log = database.as_os_str().to_owned();
    log.push("-wal");
    std::fs::metadata(log).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_starts_again_while_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.db");
    let store = SqliteStore::open_path(&path).await.unwrap();
    store.migrate().await.unwrap();
    // restarts due at 64 frames (256 KiB) instead of 8,192, and a slow background checkpoint
    // waited for after 64 transactions instead of 256
    store.writer.lock().await.wal.lower_limits(64, 64);
    let tenant = TenantId::default();
    let writes = 1_000;
    for n in 0..writes {
        let request = IdentifyRequest::parse(Some(&format!("c{n}@x.io")), None).unwrap();
        store.identify(&tenant, &request).await.unwrap();
    }
    // each write appends about fifteen pages: without restarts the log would hold them all
    // (about 60 MiB); with them, at most what 80 writes append (about 5 MiB)
    let size = log_size(&path);
    assert!(size > 0, "the database is in WAL mode");
    assert!(
        size < 8 << 20,
        "the log grew to {size} bytes over {writes} writes"
    );
    let report = store.verify(&tenant).await.unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.customers, writes);
    store.close().await;
}
