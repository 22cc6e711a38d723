//! Embeds stdlib/*.rhai in the binary, so `import "stdlib/x"` works with no files beside the playbook, and
//! records the commit the binary was built from, so `runbook --version` says exactly which code a user runs.

use std::fmt::Write as _;
use std::process::Command;

fn main() {
    embed_stdlib();
    record_commit();
}

/// Sets `RUNBOOK_VERSION` ("0.1.0 (commit 1a2b3c4d5e6f, 2026-11-29)") for clap's `--version`, and
/// `RUNBOOK_COMMIT` (the full hash, empty when unknown) for `runbook init`'s CI file.
///
/// The commit comes from `git rev-parse` at build time; a build from a source tarball (no git, or not a
/// repository) falls back to `RUNBOOK_COMMIT` in the environment, which packagers set, and else says
/// "commit unknown" rather than failing the build.
fn record_commit() {
    println!("cargo:rerun-if-env-changed=RUNBOOK_COMMIT");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap();
    let from_git = git(&["rev-parse", "HEAD"]).filter(|hash| hash.len() >= 40);
    let commit = from_git.clone().or_else(|| std::env::var("RUNBOOK_COMMIT").ok().filter(|c| !c.is_empty()));
    if from_git.is_some() {
        rerun_when_head_moves();
    }
    let text = match &commit {
        Some(commit) => {
            let short = &commit[..commit.len().min(12)];
            match git(&["show", "-s", "--format=%cs", commit]) {
                Some(date) => format!("{version} (commit {short}, {date})"),
                None => format!("{version} (commit {short})"),
            }
        }
        None => format!("{version} (commit unknown: built without git)"),
    };
    println!("cargo:rustc-env=RUNBOOK_VERSION={text}");
    println!("cargo:rustc-env=RUNBOOK_COMMIT={}", commit.unwrap_or_default());
}

/// HEAD, the branch it points to and packed-refs: a commit or a checkout changes one of them. Paths come
/// from git itself, so worktrees (where `.git` is a file) are covered.
fn rerun_when_head_moves() {
    let mut refs = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        refs.push(branch);
    }
    for name in refs {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name])
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// One line of `git ARGS` run in the crate's folder, or None when git is missing or fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).current_dir(std::env::var("CARGO_MANIFEST_DIR").ok()?).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

fn embed_stdlib() {
    println!("cargo:rerun-if-changed=stdlib");
    let mut names: Vec<String> = std::fs::read_dir("stdlib")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".rhai"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from(
        "/// `(import path, source)` of every embedded stdlib module.\npub static EMBEDDED_STDLIB: &[(&str, &str)] = &[\n",
    );
    for name in names {
        let stem = name.trim_end_matches(".rhai");
        writeln!(
            out,
            "    (\"stdlib/{stem}\", include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/stdlib/{name}\"))),"
        )
        .unwrap();
    }
    out.push_str("];\n");
    let path = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded_stdlib.rs");
    std::fs::write(path, out).unwrap();
}
