//! The documentation's links: every relative link in the repository's Markdown files points at a file that
//! exists and, when it names an anchor, at a heading that file has (GitHub's anchor rules). Docs are split by
//! reader across README.md, docs/ and the folders' READMEs; a moved section must not leave a dead link behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files the project writes (not the fixtures, not build output).
fn markdown_files() -> Vec<PathBuf> {
    let root = repo();
    let skip = ["target", ".git", "tests", ".runbook", "node_modules", ".venv"];
    walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !skip.iter().any(|name| entry.file_name() == *name) && !entry.path().ends_with("bench/.out")
        })
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "md"))
        .map(|entry| entry.into_path())
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks), with GitHub's `-1`, `-2` for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading);
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// `(target)` of every `[text](target)` outside code blocks and inline code, with its line number.
fn links(text: &str) -> Vec<(usize, String)> {
    let pattern = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut found = Vec::new();
    let mut in_code = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Drop inline code spans: `[x](y)` inside backticks is an example, not a link.
        let outside: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        for capture in pattern.captures_iter(&outside) {
            found.push((index + 1, capture[1].to_string()));
        }
    }
    found
}

#[test]
fn every_relative_link_in_the_docs_reaches_a_file_and_heading_that_exist() {
    let files = markdown_files();
    assert!(files.iter().any(|f| f.ends_with("README.md")), "no README.md found under {}", repo().display());
    let mut dead = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target.as_str(), ""));
            let resolved = if path.is_empty() { file.clone() } else { file.parent().unwrap().join(path) };
            let shown = format!("{}:{line}: {target}", file.strip_prefix(repo()).unwrap_or(file).display());
            if !resolved.exists() {
                dead.push(format!("{shown} (no such file)"));
                continue;
            }
            if !anchor.is_empty() && resolved.extension().is_some_and(|ext| ext == "md") {
                let target_text = std::fs::read_to_string(&resolved).unwrap();
                if !anchors(&target_text).contains(anchor) {
                    dead.push(format!("{shown} (no heading with that anchor in {})", display(&resolved)));
                }
            }
        }
    }
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
}

fn display(path: &Path) -> String {
    path.strip_prefix(repo()).unwrap_or(path).display().to_string()
}

#[test]
fn anchors_follow_githubs_rules() {
    assert_eq!(
        slug("Past one machine: `--shard I/N` and `recap merge`"),
        "past-one-machine---shard-in-and-recap-merge"
    );
    assert_eq!(slug("Quickstart (5 minutes)"), "quickstart-5-minutes");
    let text = "# A\n## Rules\n```\n# not a heading\n```\n### Rules\n";
    let found = anchors(text);
    assert!(found.contains("rules") && found.contains("rules-1") && !found.contains("not-a-heading"), "{found:?}");
}
