//! `runbook init [DIR]`: a new site repository that works as written — an inventory, a playbook using the
//! stdlib, a template, a `.gitignore` for runbook's state and a CI job running `runbook lint` — so a user starts
//! from something that lints clean and runs (as `ansible-galaxy init` gives Ansible users a role to fill in).
//!
//! The files live in `skeleton/` at the repository root and are embedded in the binary; the CI job pins the
//! commit this binary was built from. Existing files are never overwritten: if any target exists, nothing is
//! written.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::exit_code;
use super::init_error::InitError;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Folder of the new site (created if missing; may already hold other files).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Which CI system's lint job to write.
    #[arg(long, value_enum, default_value_t = CiSystem::Github)]
    pub ci: CiSystem,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiSystem {
    /// .github/workflows/runbook-lint.yml (annotations on the pull request).
    Github,
    /// .gitlab-ci.yml.
    Gitlab,
    /// No CI file.
    None,
}

/// `(path in the new site, content)` of every file `init` writes.
pub fn skeleton(ci: CiSystem) -> Vec<(&'static str, String)> {
    let mut files = vec![
        ("inventory.yaml", include_str!("../../skeleton/inventory.yaml").to_string()),
        ("site.rhai", include_str!("../../skeleton/site.rhai").to_string()),
        ("templates/motd.j2", include_str!("../../skeleton/templates/motd.j2").to_string()),
        (".gitignore", include_str!("../../skeleton/gitignore").to_string()),
    ];
    let ci_file = match ci {
        CiSystem::Github => {
            Some((".github/workflows/runbook-lint.yml", include_str!("../../skeleton/github-workflow.yml")))
        }
        CiSystem::Gitlab => Some((".gitlab-ci.yml", include_str!("../../skeleton/gitlab-ci.yml"))),
        CiSystem::None => None,
    };
    if let Some((path, text)) = ci_file {
        files.push((path, text.replace("@REV@", &pinned_revision())));
    }
    files
}

/// ` --rev <commit>` for `cargo install --git`, so CI lints with the runbook that wrote the site; empty when
/// this binary does not know its commit.
fn pinned_revision() -> String {
    let commit = env!("RUNBOOK_COMMIT");
    if commit.is_empty() { String::new() } else { format!(" --rev {commit}") }
}

pub fn run(args: InitArgs) -> i32 {
    match init(&args.dir, args.ci) {
        Ok(written) => {
            println!("Wrote a new site in {}:", args.dir.display());
            for path in &written {
                println!("  {path}");
            }
            let cd = if args.dir == Path::new(".") { String::new() } else { format!("cd {} && ", args.dir.display()) };
            println!("Next: {cd}runbook lint . -i inventory.yaml");
            println!("      runbook lab up -i inventory.yaml   # throwaway hosts to try it on (as root)");
            println!("      runbook run site.rhai -i .runbook/lab/inventory.yaml");
            exit_code::OK
        }
        Err(message) => {
            eprintln!("runbook init: {message}");
            exit_code::USAGE
        }
    }
}

/// Writes the skeleton into `dir`; returns the paths written. Refuses (writing nothing) when any exists.
pub fn init(dir: &Path, ci: CiSystem) -> Result<Vec<&'static str>, InitError> {
    let files = skeleton(ci);
    let existing: Vec<PathBuf> =
        files.iter().map(|(path, _)| dir.join(path)).filter(|path| path.symlink_metadata().is_ok()).collect();
    if !existing.is_empty() {
        return Err(InitError::Exists(existing));
    }
    let mut written = Vec::new();
    for (path, text) in &files {
        if let Err(source) = write_new(&dir.join(path), text) {
            // Leave no half-made site: take back what this run wrote.
            for done in &written {
                let _ = std::fs::remove_file(dir.join(done));
            }
            return Err(InitError::Write { path: dir.join(path), source });
        }
        written.push(*path);
    }
    Ok(written)
}

/// Creates the file (and its folders); fails if it appeared since the check rather than replace it.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.rhai"), "// mine\n").unwrap();
        let error = init(dir.path(), CiSystem::Github).unwrap_err();
        assert!(matches!(&error, InitError::Exists(paths) if paths == &[dir.path().join("site.rhai")]), "{error}");
        assert!(error.to_string().starts_with(&format!("not overwriting {}/site.rhai (", dir.path().display())));
        assert_eq!(std::fs::read_to_string(dir.path().join("site.rhai")).unwrap(), "// mine\n");
        assert!(!dir.path().join("inventory.yaml").exists());
        assert!(!dir.path().join(".github").exists());
    }

    #[test]
    fn writes_every_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let written = init(&dir.path().join("site"), CiSystem::Gitlab).unwrap();
        assert_eq!(written, ["inventory.yaml", "site.rhai", "templates/motd.j2", ".gitignore", ".gitlab-ci.yml"]);
        let ci = std::fs::read_to_string(dir.path().join("site/.gitlab-ci.yml")).unwrap();
        assert!(!ci.contains("@REV@"), "{ci}");
        assert!(init(&dir.path().join("site"), CiSystem::Gitlab).is_err(), "a second init must refuse");
    }
}
