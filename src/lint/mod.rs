//! `runbook lint`: finds what would break a playbook run — syntax, calls that cannot work, options the
//! engine would refuse, templates that would not render, inventory names that do not exist — before a host
//! is touched, and points at the exact file:line:col. Meant for CI, so it must be fast and never connect
//! anywhere. The checks are the analysis (`crate::analysis`); this module picks the files, loads the inventory
//! the way `run` does, and prints what the analysis found as text, JSON or SARIF.
//!
//! The rules, with a bad and a good example each, are in docs/lint.md.
//!
//! This is also `runbook run`'s pre-flight: before it connects to any host, `run` calls [`preflight`] on the
//! playbook with its inventory (after `-e`), its `--limit` and its `--tags`, and refuses to start on any
//! error-level finding, printed exactly as lint prints it. One analysis, one rule set: what lint reports as an
//! error for a playbook, run refuses, and nothing else. It is not inside the engine because it needs no run:
//! the cli calls it first, then the engine.

mod lint_output;
mod sarif_output;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use crate::analysis::{Finding, Rule, Severity};
pub use lint_output::{Format, render, summary};

use crate::analysis::{Analysed, Analysis, analyse};

/// What to lint.
#[derive(Debug, Clone, Default)]
pub struct LintRequest {
    /// Files and folders; empty means `playbooks/` and `stdlib/` under the current folder.
    pub paths: Vec<PathBuf>,
    pub inventory: Option<PathBuf>,
    /// Tags the user will pass to `run --tags`.
    pub tags: Vec<String>,
    /// `-e` values the user will pass to `run`: they count as defined, as at run time.
    pub extra_vars: Vec<String>,
}

/// Where a run of these paths would look for playbook-adjacent `group_vars/`: the folder of the one playbook
/// given, the folder given, else `playbooks/` (lint's default), else the current folder.
fn playbook_dir(paths: &[PathBuf]) -> PathBuf {
    match paths {
        [one] if one.is_dir() => one.clone(),
        [one] => one.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
        [] if Path::new("playbooks").is_dir() => PathBuf::from("playbooks"),
        _ => PathBuf::from("."),
    }
}

/// What lint found, sorted by file, line and column.
#[derive(Debug, Default)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    /// Playbooks, modules, templates and inventories read.
    pub files: usize,
}

impl LintReport {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }
}

/// The command line asked for something lint cannot do (exit 2, no findings).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    #[error("nothing to lint: no playbooks/ or stdlib/ folder here; name the playbooks or folders to check")]
    NothingToLint,
    #[error("inventory {0}: no such file or folder")]
    MissingInventory(PathBuf),
}

pub fn lint(request: &LintRequest) -> Result<LintReport, UsageError> {
    let (scripts, templates) = collect_files(&request.paths)?;
    if let Some(inventory) = &request.inventory
        && !inventory.exists()
    {
        return Err(UsageError::MissingInventory(inventory.clone()));
    }
    let mut report = LintReport::default();
    let inventory = match &request.inventory {
        Some(path) => {
            report.files += 1;
            match crate::analysis::load_inventory(path, &playbook_dir(&request.paths), &request.extra_vars) {
                Ok(inventory) => {
                    report.findings.extend(crate::analysis::check_inventory(&inventory));
                    Some(inventory)
                }
                Err(finding) => {
                    report.findings.push(finding);
                    None
                }
            }
        }
        None => None,
    };

    let analysis = Analysis {
        scripts,
        templates,
        inventory: inventory.as_ref(),
        selected: None,
        tags: &request.tags,
        start_at_task: None,
    };
    let analysed = analyse(&analysis);
    report.findings.extend(analysed.findings);
    report.files += analysed.files;

    let mut unique = HashSet::new();
    report.findings.retain(|f| unique.insert((f.file.clone(), f.line, f.column, f.rule, f.message.clone())));
    report.findings.sort_by(|a, b| (&a.file, a.line, a.column, a.rule).cmp(&(&b.file, b.line, b.column, b.rule)));
    Ok(report)
}

/// Why run's pre-flight refuses to start: lint's errors for this playbook, inventory and selection.
#[derive(Debug, thiserror::Error)]
#[error("{rendered}")]
pub struct PreflightRefusal {
    pub findings: Vec<Finding>,
    /// The findings as lint prints them, with the summary line.
    pub rendered: String,
}

/// What a playbook that passed the pre-flight needs its run to keep.
#[derive(Debug, Clone, Copy)]
pub struct RunNeeds {
    /// Some file it reaches may call `results(task)`, so every task's closure values must be kept.
    pub task_values: bool,
}

/// run's pre-flight: the errors lint would report for `playbook` (and the stages it includes) with this
/// inventory, `--limit` and `--tags`, rendered as lint renders them. `Err` means: do not start.
pub fn preflight(
    playbook: &Path,
    inventory: &crate::inventory::Inventory,
    selected: &[String],
    tags: &[String],
    start_at_task: Option<&str>,
    color: bool,
) -> Result<RunNeeds, PreflightRefusal> {
    let analysis = Analysis {
        scripts: vec![playbook.to_path_buf()],
        templates: Vec::new(),
        inventory: Some(inventory),
        selected: Some(selected),
        tags,
        start_at_task,
    };
    let Analysed { mut findings, files, may_read_task_results } = analyse(&analysis);
    findings.extend(crate::analysis::check_inventory(inventory));
    findings.retain(|finding| finding.severity == Severity::Error);
    if findings.is_empty() {
        return Ok(RunNeeds { task_values: may_read_task_results });
    }
    let mut unique = HashSet::new();
    findings.retain(|f| unique.insert((f.file.clone(), f.line, f.column, f.rule, f.message.clone())));
    findings.sort_by(|a, b| (&a.file, a.line, a.column, a.rule).cmp(&(&b.file, b.line, b.column, b.rule)));
    let rendered = format!(
        "{}{}; nothing was run (`runbook lint` reports the same)",
        render(&findings, Format::Human { color }),
        summary(&findings, files + 1)
    );
    Err(PreflightRefusal { findings, rendered })
}

/// The playbooks (`*.rhai`) and templates (`*.j2`) to check, in a stable order.
fn collect_files(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>), UsageError> {
    let defaults: Vec<PathBuf>;
    let paths = if paths.is_empty() {
        defaults = ["playbooks", "stdlib"].iter().map(PathBuf::from).filter(|p| p.is_dir()).collect();
        if defaults.is_empty() {
            return Err(UsageError::NothingToLint);
        }
        &defaults[..]
    } else {
        paths
    };
    let mut scripts = Vec::new();
    let mut templates = Vec::new();
    for path in paths {
        if path.is_dir() {
            let walk = walkdir::WalkDir::new(path).sort_by_file_name().into_iter().filter_map(Result::ok);
            for entry in walk.filter(|e| e.file_type().is_file()) {
                // `runbook lint .` names files `x.rhai`, not `./x.rhai`.
                let file = entry.path().strip_prefix(".").unwrap_or(entry.path()).to_path_buf();
                match file.extension().and_then(|e| e.to_str()) {
                    Some("rhai") => scripts.push(file),
                    Some("j2") => templates.push(file),
                    _ => {}
                }
            }
        } else if path.is_file() {
            match path.extension().and_then(|e| e.to_str()) {
                Some("j2") => templates.push(path.clone()),
                _ => scripts.push(path.clone()),
            }
        } else {
            return Err(UsageError::Missing(path.clone()));
        }
    }
    Ok((scripts, templates))
}
