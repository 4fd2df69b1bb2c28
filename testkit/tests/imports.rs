//! No crate of the workspace has modules that import each other in a circle, and the core's
//! modules import only downwards through its layers (the reader, the circle search and the
//! upward-import check: `identity_testkit::imports`, whose own tests plant a circle and an
//! upward import and see both reported).

use std::path::Path;

use identity_testkit::imports::{Sources, circles, upward_imports};

/// Every crate's `src/`, from the workspace root.
const CRATES: [&str; 7] = [
    "identity/src",
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

/// The core's layers, lowest first: a module imports from its own layer and the ones below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Values, parsing, result and report types; no I/O.
    Model,
    /// Pure planners: from values and the current state to what to write; no I/O.
    Rules,
    /// The `ContactStore` trait, the backends, and the files they write (the erasure log).
    Store,
    /// `Identity`, `connect` and every method of `Identity`.
    Facade,
    /// Module declarations and re-exports only: the crate root, and the public namespace
    /// `identity::import` (which re-exports the PostgreSQL table reader beside the import's
    /// model and rules).
    Root,
}

/// Every module of `identity/src` and its layer. An entry covers the module it names and the
/// modules inside it (`store` covers `store::sqlite::records`); the longest entry that covers a
/// module decides. `""` is the crate root alone.
const LAYERS: &[(&str, Layer)] = &[
    ("", Layer::Root),
    // model
    ("error", Layer::Model),
    ("contact", Layer::Model),
    ("tenant", Layer::Model),
    ("shared_list", Layer::Model),
    ("progress", Layer::Model),
    ("identifier", Layer::Model),
    ("region", Layer::Model),
    ("request", Layer::Model),
    ("customer", Layer::Model),
    ("limits", Layer::Model),
    ("settings", Layer::Model),
    ("blocked", Layer::Model),
    ("suppress", Layer::Model),
    ("erasure", Layer::Model),
    ("feed", Layer::Model),
    ("export", Layer::Model),
    ("webhook", Layer::Model),
    ("import::input", Layer::Model),
    ("import::changes", Layer::Model),
    ("import::report", Layer::Model),
    ("import::wire", Layer::Model),
    ("import::table", Layer::Model),
    ("import::table_rows", Layer::Model),
    ("import::when", Layer::Model),
    ("import::records", Layer::Model),
    // rules
    ("union_find", Layer::Rules),
    ("derive", Layer::Rules),
    ("verify", Layer::Rules),
    ("plan", Layer::Rules),
    ("screen", Layer::Rules),
    ("stats", Layer::Rules),
    ("split", Layer::Rules),
    ("erase", Layer::Rules),
    ("reapply", Layer::Rules),
    ("history", Layer::Rules),
    ("import::batch", Layer::Rules),
    ("import::customers", Layer::Rules),
    ("import::plan", Layer::Rules),
    ("import::planning", Layer::Rules),
    ("import::refusals", Layer::Rules),
    ("import::replay", Layer::Rules),
    ("import::table_plan", Layer::Rules),
    // store
    ("store", Layer::Store),
    ("erasure_log", Layer::Store),
    // facade
    ("facade", Layer::Facade),
    // re-exports only
    ("import", Layer::Root),
];

/// The layer of `module`: the longest entry of [`LAYERS`] that covers it.
fn layer_of(module: &str) -> Option<Layer> {
    LAYERS
        .iter()
        .filter(|(entry, _)| {
            module == *entry
                || (!entry.is_empty()
                    && module
                        .strip_prefix(entry)
                        .is_some_and(|rest| rest.starts_with("::")))
        })
        .max_by_key(|(entry, _)| entry.len())
        .map(|(_, layer)| *layer)
}

#[test]
fn the_cores_modules_import_only_downwards() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sources = Sources::read(&root.join("identity/src")).unwrap();
    let modules: Vec<&str> = sources.modules().collect();
    let stale: Vec<&str> = LAYERS
        .iter()
        .map(|(entry, _)| *entry)
        .filter(|entry| !modules.contains(entry))
        .collect();
    assert!(
        stale.is_empty(),
        "layer entries naming no module: {stale:?}"
    );
    let mut wrong = Vec::new();
    for (from, to) in upward_imports(&sources.imports(), |m| layer_of(m).map(|l| l as usize)) {
        if to.is_empty() {
            wrong.push(format!("{from}: in no layer (add it to LAYERS)"));
        } else {
            let (low, high) = (layer_of(&from).unwrap(), layer_of(&to).unwrap());
            wrong.push(format!("{from} ({low:?}) imports {to} ({high:?})"));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_layer_entry_covers_its_modules_and_the_longest_decides() {
    assert_eq!(layer_of(""), Some(Layer::Root));
    assert_eq!(layer_of("store::sqlite::records"), Some(Layer::Store));
    assert_eq!(layer_of("import"), Some(Layer::Root));
    assert_eq!(layer_of("import::replay"), Some(Layer::Rules));
    assert_eq!(layer_of("erasure_log"), Some(Layer::Store)); // not covered by `erasure`
    assert_eq!(layer_of("storefront"), None); // not covered by `store`
}
