//! The architecture as a test: which layer may name which (ARCHITECTURE.md's arrows), and that the files of one
//! folder import each other without circles, so each folder reads bottom-up. Read from the source text: a
//! `crate::LAYER` or `super::FILE` path anywhere in a file (tests excluded) is an arrow.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::repo_root;

/// Every layer and the layers it may name. Anything else is an arrow pointing the wrong way.
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "cli",
        &["analysis", "engine", "inventory", "lab", "lint", "report", "transport", "vault", "template", "primitives"],
    ),
    ("engine", &["analysis", "inventory", "primitives", "report", "template", "transport", "vault"]),
    ("lint", &["analysis", "inventory"]),
    ("analysis", &["inventory", "primitives", "template"]),
    ("lab", &["inventory", "vault"]),
    ("primitives", &["report", "template", "transport"]),
    ("inventory", &["transport", "vault"]),
    ("report", &[]),
    ("template", &[]),
    ("transport", &[]),
    ("vault", &[]),
];

/// A file's text without its unit tests (they may reach anywhere in their own layer).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect()
}

/// Identifiers that follow `prefix` in `text`, also inside a `prefix{a, b::c}` group.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let word = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for (at, _) in text.match_indices(prefix) {
        let rest = &text[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            names.extend(group.split(',').map(|item| word(item.trim())).filter(|name| !name.is_empty()));
        } else {
            names.insert(word(rest));
        }
    }
    names
}

#[test]
fn no_layer_names_a_layer_above_it() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (layer, may) in &allowed {
        for path in rust_files(&repo_root().join("src").join(layer)) {
            for named in names_after(&code_of(&path), "crate::") {
                let is_layer = allowed.contains_key(named.as_str());
                if is_layer && named != *layer && !may.contains(&named.as_str()) {
                    wrong.push(format!("{} names crate::{named}", path.strip_prefix(repo_root()).unwrap().display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports pointing the wrong way (ARCHITECTURE.md):\n{}", wrong.join("\n"));
}

/// The strongly connected groups of more than one file (Tarjan's algorithm).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, node: &'g str) {
            let at = self.index.len();
            self.index.insert(node, at);
            self.low.insert(node, at);
            self.stack.push(node);
            for next in &self.graph[node] {
                if !self.index.contains_key(next.as_str()) {
                    self.visit(next);
                    let low = self.low[next.as_str()].min(self.low[node]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next.as_str()) {
                    let low = self.index[next.as_str()].min(self.low[node]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut group = Vec::new();
                while let Some(top) = self.stack.pop() {
                    group.push(top.to_string());
                    if top == node {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.found.push(group);
                }
            }
        }
    }
    let mut walk = Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.found
}

#[test]
fn the_files_of_a_folder_import_each_other_without_circles() {
    let mut found = Vec::new();
    for (layer, _) in ALLOWED {
        let dir = repo_root().join("src").join(layer);
        let files: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
            .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|name| name != "mod")
            .collect();
        let mut graph = BTreeMap::new();
        for file in &files {
            let code = code_of(&dir.join(format!("{file}.rs")));
            let mut named = names_after(&code, "super::");
            named.extend(names_after(&code, &format!("crate::{layer}::")));
            let edges = named.into_iter().filter(|name| files.contains(name) && name != file).collect();
            graph.insert(file.clone(), edges);
        }
        found.extend(circles(&graph).into_iter().map(|circle| (layer.to_string(), circle)));
    }
    found.sort();
    assert!(found.is_empty(), "files of one folder that import each other in a circle (layer, files): {found:?}");
}

#[test]
fn a_circle_is_found_and_a_straight_line_is_not() {
    let graph = |edges: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            graph.entry(from.to_string()).or_default().insert(to.to_string());
            graph.entry(to.to_string()).or_default();
        }
        graph
    };
    assert!(circles(&graph(&[("a", "b"), ("b", "c")])).is_empty());
    assert_eq!(circles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        names_after("use super::{x::Y, z};\nsuper::w::f()", "super::"),
        ["w", "x", "z"].map(String::from).into()
    );
}
