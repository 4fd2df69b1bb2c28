//! The module graph of a crate, read from its source: which file imports which, the circles
//! among them, and the imports that run against a crate's layers. The workspace's tests hold
//! every crate to no circle and the core to its layers (`testkit/tests/imports.rs`).
//!
//! It reads Rust as rustfmt leaves it: `use` trees (braces expanded), `crate::` and `super::`
//! paths written inline, inline modules closed by a `}` at their own indentation. A path is
//! resolved to the deepest module file it names; what it names inside that file is not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A crate's modules: module path (`""` for the root, `store::sqlite`) to source text.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    modules: BTreeMap<String, String>,
}

impl Sources {
    /// Reads every `.rs` file under `src` (a crate's `src/`), naming each by its module path.
    pub fn read(src: &Path) -> std::io::Result<Sources> {
        let mut sources = Sources::default();
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let relative = path.strip_prefix(src).expect("under src");
                    let text = std::fs::read_to_string(&path)?;
                    sources.insert(&relative.to_string_lossy(), text);
                }
            }
        }
        Ok(sources)
    }

    /// Adds the file at `relative` (to `src/`, with `/`) holding `text`.
    pub fn insert(&mut self, relative: &str, text: impl Into<String>) {
        let stem = relative.trim_end_matches(".rs");
        let module = match stem {
            "lib" | "main" => String::new(),
            _ => stem
                .trim_end_matches("/mod")
                .split('/')
                .collect::<Vec<_>>()
                .join("::"),
        };
        // a binary under src/bin is a crate of its own: left out
        if !module.starts_with("bin::") && module != "bin" {
            self.modules.insert(module, text.into());
        }
    }

    /// Every module, by path.
    pub fn modules(&self) -> impl Iterator<Item = &str> {
        self.modules.keys().map(String::as_str)
    }

    /// Which modules each module imports (itself left out), by module path.
    pub fn imports(&self) -> BTreeMap<String, BTreeSet<String>> {
        let written: BTreeMap<&str, Vec<Written>> = self
            .modules
            .iter()
            .map(|(module, text)| (module.as_str(), paths_in(text)))
            .collect();
        // what each module hands on: the name a `pub use` gives, and the path it names
        let handed_on: BTreeMap<&str, BTreeMap<&str, &[String]>> = written
            .iter()
            .map(|(module, paths)| {
                let names = paths
                    .iter()
                    .filter(|w| w.public_use)
                    .filter_map(|w| Some((w.path.last()?.as_str(), w.path.as_slice())))
                    .collect();
                (*module, names)
            })
            .collect();
        written
            .iter()
            .map(|(module, paths)| {
                let mut targets = BTreeSet::new();
                for w in paths {
                    if let Some(target) = self.resolve(module, w.depth, &w.path, &handed_on, 0)
                        && target != *module
                    {
                        targets.insert(target);
                    }
                }
                (module.to_string(), targets)
            })
            .collect()
    }

    /// The module file that `path` (as written in `module`, `depth` inline modules deep) names,
    /// through the `pub use` of the module it reaches when that hands the next name on.
    fn resolve(
        &self,
        module: &str,
        depth: usize,
        path: &[String],
        handed_on: &BTreeMap<&str, BTreeMap<&str, &[String]>>,
        hops: usize,
    ) -> Option<String> {
        let mut absolute: Vec<String> = Vec::new();
        let mut rest = path;
        match path.first().map(String::as_str) {
            Some("crate") => rest = &path[1..],
            Some("super" | "self") => {
                // where the path starts: the file's module, or an inline module inside it
                let mut base: Vec<String> = split(module);
                let mut inline = depth;
                while let Some(first) = rest.first() {
                    match first.as_str() {
                        "self" => {}
                        "super" if inline > 0 => inline -= 1,
                        "super" => {
                            base.pop()?;
                        }
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                absolute = base;
            }
            // a child module of this file, named without `self::`
            Some(first) if self.modules.contains_key(&join(&split(module), first)) => {
                absolute = split(module);
            }
            _ => return None,
        }
        absolute.extend(rest.iter().cloned());
        // the deepest module the path names
        let n = (0..=absolute.len())
            .rev()
            .find(|n| self.modules.contains_key(&absolute[..*n].join("::")))?;
        let reached = absolute[..n].join("::");
        if let Some(next) = absolute.get(n)
            && let Some(path) = handed_on
                .get(reached.as_str())
                .and_then(|h| h.get(next.as_str()))
            && hops < 8
            && **path != absolute[n..]
        {
            return self.resolve(&reached, 0, path, handed_on, hops + 1);
        }
        Some(reached)
    }
}

fn split(module: &str) -> Vec<String> {
    if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    }
}

fn join(parent: &[String], child: &str) -> String {
    let mut parts = parent.to_vec();
    parts.push(child.to_owned());
    parts.join("::")
}

/// A path as a file writes it.
struct Written {
    /// How many inline modules deep it stands.
    depth: usize,
    /// Its segments.
    path: Vec<String>,
    /// Whether a `pub use` (or `pub(crate) use`) of the file's module hands it on.
    public_use: bool,
}

/// The paths a file's text writes that may name a module of its crate, each with how many
/// inline modules deep it stands: every `use` tree's paths (braces expanded) and every inline
/// path that starts with `crate::`, `super::` or `self::`.
fn paths_in(text: &str) -> Vec<Written> {
    let mut found = Vec::new();
    let lines: Vec<&str> = text
        .lines()
        .map(|line| match line.find("//") {
            // a comment, unless the slashes are a URL's inside a string
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect();
    // the indentations of the inline modules open at each line
    let mut open: Vec<String> = Vec::new();
    let mut statement = String::new();
    let mut statement_depth = 0;
    let mut statement_public = false;
    for line in &lines {
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let code = line.trim();
        if open.last().is_some_and(|i| *i == indent) && code.starts_with('}') {
            open.pop();
        }
        let depth = open.len();
        if let Some(rest) = use_statement(code) {
            statement = rest.to_owned();
            statement_depth = depth;
            statement_public = code.starts_with("pub");
        } else if !statement.is_empty() {
            statement.push_str(code);
        } else {
            for path in inline_paths(code) {
                found.push(Written {
                    depth,
                    path,
                    public_use: false,
                });
            }
        }
        if !statement.is_empty() && statement.contains(';') {
            let tree = statement.split(';').next().unwrap_or_default();
            for path in expand(tree) {
                found.push(Written {
                    depth: statement_depth,
                    path,
                    public_use: statement_public && statement_depth == 0,
                });
            }
            statement.clear();
        }
        if is_inline_module(code) {
            open.push(indent);
        }
    }
    found
}

/// The tree of a `use` statement that starts on this line, without `use`.
fn use_statement(code: &str) -> Option<&str> {
    let code = code
        .strip_prefix("pub(crate) ")
        .or_else(|| code.strip_prefix("pub(super) "))
        .or_else(|| code.strip_prefix("pub "))
        .unwrap_or(code);
    code.strip_prefix("use ")
}

fn is_inline_module(code: &str) -> bool {
    let code = code
        .strip_prefix("pub(crate) ")
        .or_else(|| code.strip_prefix("pub "))
        .unwrap_or(code);
    code.starts_with("mod ") && code.ends_with('{')
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e` (`self` in braces is the prefix).
fn expand(tree: &str) -> Vec<Vec<String>> {
    // an alias (`a as b`) names nothing more: kept apart by `@` before the spaces go
    let tree: String = tree
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" as ", "@")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut out = Vec::new();
    expand_into(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand_into(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let (head, group) = match tree.find('{') {
        Some(open) => (
            &tree[..open],
            Some(&tree[open + 1..tree.rfind('}').unwrap_or(tree.len())]),
        ),
        None => (tree, None),
    };
    let added: Vec<String> = head
        .split("::")
        .filter(|s| !s.is_empty())
        .map(|s| s.split('@').next().unwrap_or(s).to_owned())
        .collect();
    let before = prefix.len();
    prefix.extend(added);
    match group {
        None => out.push(prefix.clone()),
        Some(group) => {
            for item in top_level_items(group) {
                if item == "self" {
                    out.push(prefix.clone());
                } else {
                    expand_into(item, prefix, out);
                }
            }
        }
    }
    prefix.truncate(before);
}

/// The comma-separated items of a brace group, nested groups kept whole.
fn top_level_items(group: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items.into_iter().filter(|s| !s.is_empty()).collect()
}

/// The `crate::`/`super::`/`self::` paths written in a line of code outside `use`.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            let preceded = at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':');
            if preceded {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |i| i + at);
            let path: Vec<String> = code[at..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            out.push(path);
        }
    }
    out
}

/// The circles of an import graph: every set of two or more modules that import each other,
/// directly or through others (Tarjan's strongly connected components), each sorted.
pub fn circles(imports: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        imports: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            let imports = self.imports;
            for w in imports.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        imports,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in imports.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

/// The imports that run upwards: `(from, to)` where `to`'s layer is above `from`'s. `layer_of`
/// gives a module's layer (higher = nearer the caller), or `None` for a module no layer holds,
/// which is reported as `(module, "")`.
pub fn upward_imports(
    imports: &BTreeMap<String, BTreeSet<String>>,
    layer_of: impl Fn(&str) -> Option<usize>,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (from, targets) in imports {
        let Some(low) = layer_of(from) else {
            found.push((from.clone(), String::new()));
            continue;
        };
        for to in targets {
            if layer_of(to).is_some_and(|high| high > low) {
                found.push((from.clone(), to.clone()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(files: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        let mut sources = Sources::default();
        for (path, text) in files {
            sources.insert(path, *text);
        }
        sources.imports()
    }

    #[test]
    fn use_trees_inline_paths_and_test_modules_resolve_to_files() {
        let imports = graph(&[
            (
                "lib.rs",
                "pub mod model;\npub mod store;\npub use store::Store;\n",
            ),
            ("model.rs", "pub mod value;\n"),
            ("model/value.rs", "pub struct Value;\n"),
            (
                "store.rs",
                "pub mod sqlite;\nuse crate::model::{value::Value, self};\nfn f() { crate::model::value::Value; }\n\
                 #[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
            ),
            (
                "store/sqlite.rs",
                "use super::Store;\nuse crate::{\n    model::value::Value,\n};\n",
            ),
        ]);
        let names = |m: &str| imports[m].iter().cloned().collect::<Vec<_>>();
        assert_eq!(names(""), ["store"]);
        assert_eq!(names("store"), ["model", "model::value"]);
        assert_eq!(names("store::sqlite"), ["model::value", "store"]);
        assert!(names("model::value").is_empty());
    }

    #[test]
    fn a_name_the_crate_root_hands_on_resolves_to_the_module_that_defines_it() {
        let imports = graph(&[
            (
                "lib.rs",
                "mod error;\nmod store;\npub use error::{Error, Result};\n",
            ),
            ("error.rs", "pub enum Error {}\n"),
            (
                "store.rs",
                "use crate::{Error, Result};\nfn f() -> crate::Result<()> {}\n",
            ),
        ]);
        assert_eq!(imports["store"].iter().collect::<Vec<_>>(), ["error"]);
        assert_eq!(imports[""].iter().collect::<Vec<_>>(), ["error"]);
    }

    #[test]
    fn a_circle_is_found_and_an_upward_import_is_reported() {
        let imports = graph(&[
            ("lib.rs", ""),
            ("model.rs", "use crate::facade::Identity;\n"),
            ("facade.rs", "use crate::model::Value;\n"),
            ("rules.rs", "use crate::model::Value;\n"),
        ]);
        assert_eq!(
            circles(&imports),
            vec![vec!["facade".to_owned(), "model".to_owned()]]
        );
        let layer = |m: &str| match m {
            "" | "facade" => Some(3),
            "rules" => Some(1),
            "model" => Some(0),
            _ => None,
        };
        assert_eq!(
            upward_imports(&imports, layer),
            vec![("model".to_owned(), "facade".to_owned())]
        );
    }
}
