//! What a playbook's text says before any of it runs: the one analysis behind `runbook lint` and `run`'s
//! pre-flight. It compiles scripts with the engine's own parse settings and constants ([`script_language`],
//! which the engine imports too: one definition), follows `include` and `import` as the run would
//! ([`module_locator`]), checks calls against the primitives' catalog, templates against the inventory and
//! variables against what each host will have, and says where: every result is a [`Finding`] at file:line:col.
//!
//! It evaluates nothing, so no primitive runs and no host is contacted. It sits below the engine (the engine
//! reads its parse settings and tag selection from here) and above the primitives' catalog, the inventory and the
//! template layer. `lint` prints its findings; `run` refuses to start on an error-level one.

mod analysis_engine;
mod finding;
mod inventory_checks;
mod map_entry;
pub mod module_locator;
mod module_table;
mod option_checks;
pub mod rules;
mod script_checks;
pub mod script_language;
mod secret_names;
mod severity;
mod sysctl_checks;
pub mod tag_selection;
mod task_results_use;
mod task_targets;
mod template_checks;
mod variable_checks;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

pub use finding::Finding;
pub use inventory_checks::{check as check_inventory, load as load_inventory};
pub use rules::Rule;
pub use severity::Severity;

use analysis_engine::AnalysisEngine;
use module_table::ModuleTable;
use script_checks::ScriptFacts;
use tag_selection::{SPECIAL_TAGS, selected_by_tags};
use template_checks::TemplateChecker;

/// What one analysis looks at: lint's files and folders, or the one playbook `run` is about to run.
pub struct Analysis<'a> {
    pub scripts: Vec<PathBuf>,
    pub templates: Vec<PathBuf>,
    pub inventory: Option<&'a crate::inventory::Inventory>,
    /// run's hosts after --limit: `hosts()` and `group("x")` mean these.
    pub selected: Option<&'a [String]>,
    pub tags: &'a [String],
    /// run's --start-at-task: a task of this name must exist.
    pub start_at_task: Option<&'a str>,
}

/// The scripts (and the files they include), the templates, the names and variables they use against the
/// inventory; returns the findings and how many files were read.
/// What one analysis found.
pub struct Analysed {
    pub findings: Vec<Finding>,
    /// Playbooks, modules and templates read.
    pub files: usize,
    /// Some file reached may call `results(task)`: the run must keep the closures' values.
    pub may_read_task_results: bool,
}

pub fn analyse(analysis: &Analysis) -> Analysed {
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
    let may_read_task_results = facts.values().any(|file_facts| file_facts.may_read_task_results);
    Analysed { findings, files, may_read_task_results }
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
                if !selected_by_tags(&all, only, skip) {
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
            let hint = finding::did_you_mean_hint(&notified.name, declared.iter().copied()).unwrap_or_else(|| {
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
        finding::did_you_mean_hint(start, known.iter().copied())
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
            let near = finding::did_you_mean_hint(tag, known.iter().copied());
            finding.hint = match (near, dynamic) {
                (Some(near), _) => Some(near),
                (None, true) => Some("some tasks compute their tags; only literal tags were checked".to_string()),
                (None, false) => None,
            };
            finding
        })
        .collect()
}
