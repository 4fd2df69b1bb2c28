//! The bindings' documents follow the core's one table of error kinds and fields: the Node
//! package's `index.d.ts` lists every kind's code (the core's, uppercase) in
//! `IdentityErrorInfo.code` and names every field, and the Python package defines a class for
//! every kind's code. (Each binding maps the kinds in Rust without a catch-all arm, so a new
//! kind fails to compile there; the Python suite checks the mapping at run time, and the
//! service's tests check its OpenAPI document.)

use std::path::Path;

use identity::{ErrorKind, Field};

fn read(relative: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(relative)).unwrap()
}

#[test]
fn the_node_types_list_every_kind_and_field_of_the_core() {
    let types = read("identity-node/index.d.ts");
    let info = &types[types
        .find("export interface IdentityErrorInfo")
        .expect("index.d.ts declares IdentityErrorInfo")..];
    let info = &info[..info.find("\n}").unwrap()];
    let union = info
        .lines()
        .find(|l| l.trim_start().starts_with("code:"))
        .expect("IdentityErrorInfo has a code");
    let mut listed: Vec<&str> = union.split('\'').skip(1).step_by(2).collect::<Vec<_>>();
    listed.sort_unstable();
    let mut codes: Vec<String> = ErrorKind::ALL
        .iter()
        .map(|k| k.code().to_ascii_uppercase())
        .collect();
    codes.sort_unstable();
    assert_eq!(listed, codes, "IdentityErrorInfo.code in index.d.ts");
    for field in Field::ALL {
        // the request's body is the request in JavaScript
        let name = match field {
            Field::Body => "request",
            other => other.wire_name(),
        };
        assert!(
            info.contains(&format!("`'{name}'`")),
            "IdentityErrorInfo.field's documentation does not name '{name}'"
        );
    }
}

#[test]
fn the_python_exceptions_have_a_class_for_every_kind() {
    let errors = read("identity-py/python/identity_reconciliation/_errors.py");
    for kind in ErrorKind::ALL {
        assert!(
            errors.contains(&format!("    code = \"{}\"", kind.code())),
            "_errors.py has no class with code = \"{}\"",
            kind.code()
        );
    }
}
