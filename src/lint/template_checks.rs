//! Templates: each compiles in the environment `template` renders with (errors at template:line:col), and,
//! with an inventory, every variable a literal `h.template(...)` call's template uses is defined for the
//! hosts that render it — from the inventory, the vars map passed at the call, or the names `template` adds.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use regex::Regex;

use super::lint_finding::Finding;
use super::rules::Rule;
use super::script_checks::{HostSet, TemplateCall};
use crate::inventory::Inventory;

/// Names `template` puts in every context, whatever the inventory says (the primitive's own list).
const BUILT_INS: &[&str] = crate::primitives::TEMPLATE_CONTEXT_NAMES;

/// What a template needs, once compiled.
struct Compiled {
    /// Top-level variables the template reads without setting them.
    variables: BTreeSet<String>,
    source: String,
}

#[derive(Default)]
pub struct TemplateChecker {
    compiled: HashMap<PathBuf, Option<Compiled>>,
    findings: Vec<Finding>,
}

impl TemplateChecker {
    /// Compiles `path` (once); a syntax error becomes a finding.
    pub fn check_file(&mut self, path: &Path) {
        if self.compiled.contains_key(path) {
            return;
        }
        let compiled = match std::fs::read_to_string(path) {
            Ok(source) => self.compile(path, source),
            Err(error) => {
                self.findings.push(Finding::new(
                    path,
                    0,
                    0,
                    Rule::TemplateMissing,
                    format!("cannot read template: {error}"),
                ));
                None
            }
        };
        self.compiled.insert(path.to_path_buf(), compiled);
    }

    fn compile(&mut self, path: &Path, source: String) -> Option<Compiled> {
        let environment = crate::primitives::template_environment();
        let name = path.display().to_string();
        let compiled_source = crate::primitives::template_source(&source);
        let template = match environment.template_from_named_str(&name, &compiled_source) {
            Ok(template) => template,
            Err(error) => {
                let line = error.line().unwrap_or(0);
                let column = error.range().map(|range| column_of(&source, range.start)).unwrap_or(0);
                let message = match error.detail() {
                    Some(detail) => format!("{}: {detail}", error.kind()),
                    None => error.kind().to_string(),
                };
                self.findings.push(Finding::new(path, line, column, Rule::TemplateSyntax, message));
                return None;
            }
        };
        let globals: BTreeSet<&str> = environment.globals().map(|(name, _)| name).collect();
        let guarded = guarded_names(&source);
        // The names a render needs, as the template module computes them for run (a `{% set %}` in a branch and
        // `a.b | default()` chains are the template's own business), so lint and run agree.
        let variables = crate::primitives::template_undeclared_names(&name, &source)
            .unwrap_or_else(|_| template.undeclared_variables(false))
            .into_iter()
            .filter(|name| {
                // `ansible_facts` and the `ansible_*` facts: `template` gathers the facts on first use.
                !globals.contains(name.as_str())
                    && !guarded.contains(name)
                    && !BUILT_INS.contains(&name.as_str())
                    && !name.starts_with("ansible_")
            })
            .collect();
        Some(Compiled { variables, source })
    }

    /// A literal template call: every variable its template uses must be defined for its hosts (of those
    /// `selected` by run's --limit, when given).
    pub fn check_call(
        &mut self,
        playbook: &Path,
        call: &TemplateCall,
        inventory: &Inventory,
        selected: Option<&[String]>,
    ) {
        self.check_file(&call.path);
        let Some(passed) = &call.passed else { return };
        let Some(Some(compiled)) = self.compiled.get(&call.path) else {
            return;
        };
        let Some(Targets { hosts, every, who }) = targets(inventory, selected, &call.hosts) else {
            return;
        };
        if hosts.is_empty() {
            return;
        }
        let mut findings = Vec::new();
        for variable in &compiled.variables {
            if passed.contains(variable) {
                continue;
            }
            let missing: Vec<&str> =
                hosts.iter().filter(|host| !host.vars.contains_key(variable)).map(|host| host.name.as_str()).collect();
            let undefined = if every { !missing.is_empty() } else { missing.len() == hosts.len() };
            if !undefined {
                continue;
            }
            let (line, column) = first_use(&compiled.source, variable);
            let whom = if every && missing.len() < hosts.len() {
                format!("{} (one of {who})", missing[0])
            } else {
                who.clone()
            };
            findings.push(
                Finding::new(
                    &call.path,
                    line,
                    column,
                    Rule::TemplateUndefinedVariable,
                    format!("`{variable}` is not defined for {whom}"),
                )
                .hint(format!(
                    "{}rendered by {}:{}:{}; pass it in the vars map there or define it in the inventory",
                    crate::did_you_mean::did_you_mean(
                        variable,
                        passed
                            .iter()
                            .map(String::as_str)
                            .chain(hosts.iter().flat_map(|h| h.vars.keys().map(String::as_str)))
                    )
                    .map(|near| format!("did you mean `{near}`? "))
                    .unwrap_or_default(),
                    playbook.display(),
                    call.line,
                    call.column
                )),
            );
        }
        self.findings.extend(findings);
    }

    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }
}

/// The hosts a task's code says it runs on, whether each of them must satisfy a check (`every`: the target is
/// known) or only some (an unknown target: any inventory host might run it), and how to name them.
pub struct Targets<'i> {
    pub hosts: Vec<&'i crate::inventory::Host>,
    pub every: bool,
    pub who: String,
}

/// One rule for templates and variable reads alike: `hosts()` is every host (after --limit), `group("x")` its
/// hosts (after --limit), `host("x")` that host (reachable outside --limit, as at run time). `None` when the
/// target names nothing the inventory has (reported by the unknown-group/host rules) or is empty.
pub fn targets<'i>(inventory: &'i Inventory, selected: Option<&[String]>, set: &HostSet) -> Option<Targets<'i>> {
    let limited = |host: &&crate::inventory::Host| selected.is_none_or(|names| names.contains(&host.name));
    let (hosts, every, who): (Vec<&crate::inventory::Host>, bool, String) = match set {
        HostSet::All => (inventory.hosts().filter(limited).collect(), true, "the hosts of `hosts()`".to_string()),
        HostSet::Group(group) => (
            inventory.group_hosts(group)?.into_iter().filter(limited).collect(),
            true,
            format!("the hosts of group `{group}`"),
        ),
        HostSet::Host(name) => (vec![inventory.host(name)?], true, format!("host `{name}`")),
        HostSet::Unknown => (inventory.hosts().collect(), false, "any host".to_string()),
    };
    (!hosts.is_empty()).then_some(Targets { hosts, every, who })
}

/// Names the template itself tests (`x is defined`, `x | default(...)`): an absent value is handled.
fn guarded_names(source: &str) -> BTreeSet<String> {
    let pattern = Regex::new(
        r"\b([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_.]+)?\s*(?:is\s+(?:not\s+)?defined|\|\s*(?:default|d)\b)",
    )
    .expect("a valid regex");
    pattern.captures_iter(source).map(|captures| captures[1].to_string()).collect()
}

/// Line and column of the first use of `name` inside a `{{ }}` or `{% %}` tag.
fn first_use(source: &str, name: &str) -> (usize, usize) {
    let tags = Regex::new(r"(?s)\{\{.*?\}\}|\{%.*?%\}").expect("a valid regex");
    let word = Regex::new(&format!(r"\b{}\b", regex::escape(name))).expect("a valid regex");
    for tag in tags.find_iter(source) {
        if let Some(found) = word.find(tag.as_str()) {
            let offset = tag.start() + found.start();
            let line = source[..offset].matches('\n').count() + 1;
            return (line, column_of(source, offset));
        }
    }
    (0, 0)
}

/// 1-based column (in characters) of a byte offset.
pub fn column_of(source: &str, offset: usize) -> usize {
    let offset = offset.min(source.len());
    let line_start = source[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    source[line_start..offset].chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_and_first_use() {
        let source = "a\n{% if x is defined %}{{ x }}{% endif %}\n{{ y | default(1) }} {{ zz }}\n";
        let guarded = guarded_names(source);
        assert!(guarded.contains("x") && guarded.contains("y") && !guarded.contains("zz"));
        assert_eq!(first_use(source, "zz"), (3, 25));
    }
}
