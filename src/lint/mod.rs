//! `runbook lint`: finds what would break a playbook run — syntax, calls that cannot work, options the
//! engine would refuse, templates that would not render, inventory names that do not exist — before a host
//! is touched, and points at the exact file:line:col. Meant for CI, so it must be fast and never connect
//! anywhere: scripts are compiled by the run engine but never evaluated, modules are compiled to list their
//! functions, templates are compiled, and the inventory is loaded by the run loader.
//!
//! The rules, with a bad and a good example each, are in docs/lint.md.
//!
//! This is also `runbook run`'s pre-flight: before it connects to any host, `run` calls [`preflight`] on the
//! playbook with its inventory (after `-e`), its `--limit` and its `--tags`, and refuses to start on any
//! error-level finding, printed exactly as lint prints it. One analysis, one rule set: what lint reports as an
//! error for a playbook, run refuses, and nothing else. It lives here, beside the engine rather than inside
//! it, because it needs no run: the cli calls it first, then the engine (no layer imports one above it).

mod analysis_engine;
mod inventory_checks;
mod lint_finding;
mod lint_output;
mod map_entry;
mod module_table;
mod option_checks;
pub mod rules;
mod sarif_output;
mod script_checks;
mod secret_names;
mod severity;
mod sysctl_checks;
mod task_targets;
mod template_checks;
mod variable_checks;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

pub use lint_finding::Finding;
pub use lint_output::{Format, render, summary};
pub use rules::Rule;
pub use severity::Severity;

use analysis_engine::AnalysisEngine;
use module_table::ModuleTable;
use script_checks::ScriptFacts;
use template_checks::TemplateChecker;

/// Tags `--tags` accepts without any task having them (Ansible's special tags).
const SPECIAL_TAGS: &[&str] = &["all", "untagged", "tagged", "always", "never"];

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
            match inventory_checks::load(path, &playbook_dir(&request.paths), &request.extra_vars) {
                Ok(inventory) => {
                    report.findings.extend(inventory_checks::check(&inventory));
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
    let (findings, files) = analyse(&analysis);
    report.findings.extend(findings);
    report.files += files;

    let mut unique = HashSet::new();
    report.findings.retain(|f| unique.insert((f.file.clone(), f.line, f.column, f.rule, f.message.clone())));
    report.findings.sort_by(|a, b| (&a.file, a.line, a.column, a.rule).cmp(&(&b.file, b.line, b.column, b.rule)));
    Ok(report)
}

/// What one analysis looks at: lint's files and folders, or the one playbook `run` is about to run.
struct Analysis<'a> {
    scripts: Vec<PathBuf>,
    templates: Vec<PathBuf>,
    inventory: Option<&'a crate::inventory::Inventory>,
    /// run's hosts after --limit: `hosts()` and `group("x")` mean these.
    selected: Option<&'a [String]>,
    tags: &'a [String],
    /// run's --start-at-task: a task of this name must exist.
    start_at_task: Option<&'a str>,
}

/// The scripts (and the files they include), the templates, the names and variables they use against the
/// inventory; returns the findings and how many files were read.
fn analyse(analysis: &Analysis) -> (Vec<Finding>, usize) {
    let mut findings = Vec::new();
    let mut files = 0;
    let engine = AnalysisEngine::new();
    let mut modules = ModuleTable::default();
    let mut order: Vec<PathBuf> = Vec::new();
    let mut facts: HashMap<PathBuf, ScriptFacts> = HashMap::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    // Each file with, for an imported module, the folder of the playbook importing it (where it renders).
    let mut queue: std::collections::VecDeque<(PathBuf, Option<PathBuf>)> =
        analysis.scripts.iter().map(|script| (script.clone(), None)).collect();
    while let Some((file, playbook_dir)) = queue.pop_front() {
        if !seen.insert(canonical(&file)) {
            continue;
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) => {
                findings.push(Finding::new(&file, 0, 0, Rule::Syntax, format!("cannot read: {error}")));
                continue;
            }
        };
        let file_facts =
            script_checks::check_script_rendering_from(&engine, &mut modules, &file, &text, playbook_dir.as_deref());
        let own_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let renders_from = playbook_dir.clone().unwrap_or(own_dir);
        queue.extend(file_facts.includes.iter().map(|include| (include.clone(), playbook_dir.clone())));
        // Next, before the other files listed: a module read as its importer's (not as a file of the folder)
        // finds its functions' templates where the run does.
        for module in file_facts.imports.iter().rev() {
            queue.push_front((module.clone(), Some(renders_from.clone())));
        }
        order.push(file.clone());
        facts.insert(file, file_facts);
    }
    files += order.len();

    let mut templates_checker = TemplateChecker::default();
    for template in &analysis.templates {
        templates_checker.check_file(template);
    }
    let mut template_files: BTreeSet<PathBuf> = analysis.templates.iter().map(|t| canonical(t)).collect();
    for file in &order {
        let file_facts = &facts[file];
        findings.extend(file_facts.findings.iter().cloned());
        findings.extend(duplicate_tasks(file, &facts));
        for call in &file_facts.templates {
            template_files.insert(canonical(&call.path));
            match analysis.inventory {
                Some(inventory) => templates_checker.check_call(file, call, inventory, analysis.selected),
                None => templates_checker.check_file(&call.path),
            }
        }
        if let Some(inventory) = analysis.inventory {
            findings.extend(inventory_checks::check_names(file, &file_facts.groups, &file_facts.hosts, inventory));
            findings.extend(variable_checks::check(file, &file_facts.var_reads, inventory, analysis.selected));
        }
    }
    findings.extend(unknown_handlers(&order, &facts));
    files += template_files.len();
    findings.extend(templates_checker.into_findings());
    findings.extend(unknown_tags(analysis.tags, &facts));
    findings.extend(analysis.start_at_task.and_then(|start| unknown_start_task(start, &facts)));
    (findings, files)
}

/// Why run's pre-flight refuses to start: lint's errors for this playbook, inventory and selection.
#[derive(Debug, thiserror::Error)]
#[error("{rendered}")]
pub struct PreflightRefusal {
    pub findings: Vec<Finding>,
    /// The findings as lint prints them, with the summary line.
    pub rendered: String,
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
) -> Result<(), PreflightRefusal> {
    let analysis = Analysis {
        scripts: vec![playbook.to_path_buf()],
        templates: Vec::new(),
        inventory: Some(inventory),
        selected: Some(selected),
        tags,
        start_at_task,
    };
    let (mut findings, files) = analyse(&analysis);
    findings.extend(inventory_checks::check(inventory));
    findings.retain(|finding| finding.severity == Severity::Error);
    if findings.is_empty() {
        return Ok(());
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

/// `run --list-tasks`, in ansible-playbook's layout: every task the playbook (and what it includes) would run
/// under --tags/--skip-tags, in source order, with its tags (an include's tags added). Read from the syntax
/// tree, so nothing runs and no host is contacted; a task whose name or tags are computed says so.
pub fn list_tasks(playbook: &Path, tags: &[String], skip_tags: &[String]) -> String {
    let engine = AnalysisEngine::new();
    let mut modules = ModuleTable::default();
    let mut out = format!("\nplaybook: {}\n\n  tasks:\n", playbook.display());
    let mut seen = HashSet::new();
    outline_into(&engine, &mut modules, playbook, &[], tags, skip_tags, &mut seen, &mut out);
    out
}

#[allow(clippy::too_many_arguments)]
fn outline_into(
    engine: &AnalysisEngine,
    modules: &mut ModuleTable,
    file: &Path,
    inherited: &[String],
    only: &[String],
    skip: &[String],
    seen: &mut HashSet<PathBuf>,
    out: &mut String,
) {
    if !seen.insert(canonical(file)) {
        return;
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
    };
    let facts = script_checks::check_script(engine, modules, file, &text);
    for item in facts.outline {
        match item {
            script_checks::OutlineItem::Task { name, tags } => {
                let mut all = tags;
                all.extend(inherited.iter().cloned());
                if !crate::engine::selected_by_tags(&all, only, skip) {
                    continue;
                }
                let name = name.unwrap_or_else(|| "(a name computed at run time)".to_string());
                out.push_str(&format!("    {name}\tTAGS: [{}]\n", all.join(", ")));
            }
            script_checks::OutlineItem::Include { path, tags } => {
                let mut all = inherited.to_vec();
                all.extend(tags);
                outline_into(engine, modules, &path, &all, only, skip, seen, out);
            }
        }
    }
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

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Task names used twice by one playbook, counting the files it includes (`--start-at-task` would stop at
/// the first).
fn duplicate_tasks(file: &Path, facts: &HashMap<PathBuf, ScriptFacts>) -> Vec<Finding> {
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    let mut stack = vec![file.to_path_buf()];
    while let Some(next) = stack.pop() {
        if !visited.insert(canonical(&next)) {
            continue;
        }
        if let Some(found) = facts.get(&next) {
            stack.extend(found.includes.iter().rev().cloned());
            files.push(next);
        }
    }
    let mut first: HashMap<&str, (&Path, usize)> = HashMap::new();
    let mut findings = Vec::new();
    for path in &files {
        for task in &facts[path].tasks {
            match first.get(task.name.as_str()) {
                Some((where_, line)) => {
                    let place = if *where_ == path.as_path() {
                        format!("line {line}")
                    } else {
                        format!("{}:{line}", where_.display())
                    };
                    findings.push(
                        Finding::new(
                            path,
                            task.line,
                            task.column,
                            Rule::DuplicateTaskName,
                            format!("task name \"{}\" is already used ({place})", task.name),
                        )
                        .hint("--start-at-task finds tasks by name: give each task its own"),
                    );
                }
                None => {
                    first.insert(&task.name, (path, task.line));
                }
            }
        }
    }
    findings
}

/// Literal notifications of a handler that no file of this lint declares. Declarations are pooled over every
/// file read (a stage file notifies what the playbook including it declares), so only a name declared nowhere
/// is reported.
fn unknown_handlers(order: &[PathBuf], facts: &HashMap<PathBuf, ScriptFacts>) -> Vec<Finding> {
    let declared: BTreeSet<&str> =
        order.iter().flat_map(|file| facts[file].handlers.iter().map(|handler| handler.name.as_str())).collect();
    let mut findings = Vec::new();
    for file in order {
        for notified in facts[file].notified.iter().filter(|n| !declared.contains(n.name.as_str())) {
            let hint = lint_finding::did_you_mean_hint(&notified.name, declared.iter().copied()).unwrap_or_else(|| {
                format!("declare it at the top level: handler(\"{}\", |h| {{ ... }});", notified.name)
            });
            findings.push(
                Finding::new(
                    file,
                    notified.line,
                    notified.column,
                    Rule::UnknownHandler,
                    format!("no handler \"{}\" is declared", notified.name),
                )
                .hint(hint),
            );
        }
    }
    findings
}

/// `--start-at-task NAME` that no literal task name matches (unless some task computes its name).
fn unknown_start_task(start: &str, facts: &HashMap<PathBuf, ScriptFacts>) -> Option<Finding> {
    let computed = facts
        .values()
        .flat_map(|f| &f.outline)
        .any(|item| matches!(item, script_checks::OutlineItem::Task { name: None, .. }));
    let known: BTreeSet<&str> = facts.values().flat_map(|f| f.tasks.iter().map(|task| task.name.as_str())).collect();
    if computed || known.contains(start) {
        return None;
    }
    let mut finding =
        Finding::without_file(Rule::UnknownStartAtTask, format!("--start-at-task: no task is named \"{start}\""));
    finding.hint = Some(
        lint_finding::did_you_mean_hint(start, known.iter().copied())
            .unwrap_or_else(|| "`runbook run PLAYBOOK --list-tasks` lists the task names".to_string()),
    );
    Some(finding)
}

fn unknown_tags(wanted: &[String], facts: &HashMap<PathBuf, ScriptFacts>) -> Vec<Finding> {
    let known: BTreeSet<&str> = facts.values().flat_map(|f| f.tags.iter().map(String::as_str)).collect();
    let dynamic = facts.values().any(|f| f.dynamic_tags);
    wanted
        .iter()
        .filter(|tag| !tag.is_empty() && !known.contains(tag.as_str()) && !SPECIAL_TAGS.contains(&tag.as_str()))
        .map(|tag| {
            let mut finding = Finding::without_file(Rule::UnknownTag, format!("no task has the tag `{tag}`"));
            let near = lint_finding::did_you_mean_hint(tag, known.iter().copied());
            finding.hint = match (near, dynamic) {
                (Some(near), _) => Some(near),
                (None, true) => Some("some tasks compute their tags; only literal tags were checked".to_string()),
                (None, false) => None,
            };
            finding
        })
        .collect()
}
