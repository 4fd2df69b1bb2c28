//! No crate of the workspace has modules that import each other in a circle (the reader and
//! the circle search: `identity_testkit::imports`, whose own tests plant a circle and an upward
//! import and see both reported).

use std::path::Path;

use identity_testkit::imports::{Sources, circles};

/// Every crate's `src/`, from the workspace root; the core (`identity/src`) joins when its
/// layers land (issue 30, item 1), with a check of the layers themselves.
const CRATES: [&str; 6] = [
    "testkit/src",
    "examples/server/src",
    "cli/src",
    "bench/src",
    "identity-py/src",
    "identity-node/src",
];

#[test]
fn no_crate_has_an_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for krate in CRATES {
        let sources = Sources::read(&root.join(krate)).unwrap();
        assert!(sources.modules().count() > 1, "{krate}: no modules read");
        for circle in circles(&sources.imports()) {
            found.push(format!("{krate}: {}", circle.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}
