//! Templates: each compiles in the environment `template` renders with (errors at template:line:col), calls
//! only filters and tests that environment has, and, with an inventory, every variable a literal
//! `h.template(...)` call's template reads is defined for the hosts that render it — from the inventory, the
//! vars map passed at the call, or the names `template` adds.
//!
//! What is an error follows what Ansible fails on: an undefined variable only where it is evaluated, so a read
//! every render makes is an error, and a read only in an `{% if %}` body, a loop body, a macro or the right
//! side of `and`/`or` is a warning (`template-conditional-undefined`); an unknown filter or test wherever
//! Jinja2 refuses it when compiling the template (anywhere but inside an `{% if %}`), or where every render
//! evaluates it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use regex::Regex;

use super::finding::Finding;
use super::rules::Rule;
use super::script_checks::TemplateCall;
use super::task_targets::{Targets, targets};
use crate::inventory::Inventory;
use crate::template::{Place, Use};

/// Names `template` puts in every context, whatever the inventory says (the primitive's own list).
const BUILT_INS: &[&str] = crate::primitives::TEMPLATE_CONTEXT_NAMES;

/// What a template needs, once compiled.
struct Compiled {
    /// Top-level variables the template reads without setting them, and how.
    variables: BTreeMap<String, Use>,
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
        drop(template);
        let usage = match crate::template::usage(&name, &source) {
            Ok(usage) => usage,
            Err(_) => return None,
        };
        for (kind, unknown, used) in crate::template::unknown_filters_and_tests(&usage) {
            let (rule, at, when) = match used.always {
                Some(at) => (Rule::TemplateUnknownFilter, at, ""),
                None => (
                    Rule::TemplateConditionalUndefined,
                    used.first,
                    " (called only where the render may not evaluate it: it fails if that code runs)",
                ),
            };
            let (line, column) = position(&source, at, &unknown);
            self.findings.push(
                Finding::new(path, line, column, rule, format!("{kind} `{unknown}` is unknown{when}")).maybe_hint(
                    crate::did_you_mean::did_you_mean(&unknown, known_names(kind).iter().map(String::as_str))
                        .map(|near| format!("did you mean `{near}`?")),
                ),
            );
        }
        // `ansible_facts` and the `ansible_*` facts: `template` gathers the facts on first use.
        let variables = usage
            .variables
            .into_iter()
            .filter(|(name, _)| !BUILT_INS.contains(&name.as_str()) && !name.starts_with("ansible_"))
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
        for (variable, used) in &compiled.variables {
            if passed.contains(variable) {
                continue;
            }
            let missing: Vec<&str> =
                hosts.iter().filter(|host| !host.vars.contains_key(variable)).map(|host| host.name.as_str()).collect();
            let undefined = if every { !missing.is_empty() } else { missing.len() == hosts.len() };
            if !undefined {
                // Defined, but its value (a template) may read a name the host lacks: the render fails there.
                let reference = used.always.and_then(|at| {
                    hosts.iter().find_map(|host| {
                        super::variable_checks::undefined_reference(inventory, host, variable)
                            .map(|found| (at, host, found))
                    })
                });
                if let Some((at, host, (missing, holder))) = reference {
                    let (line, column) = position(&compiled.source, at, variable);
                    let defined = host.origins.get(&holder).map(|at| format!(", defined at {at}")).unwrap_or_default();
                    findings.push(
                        Finding::new(
                            &call.path,
                            line,
                            column,
                            Rule::TemplateUndefinedVariable,
                            format!(
                                "`{variable}` refers to `{missing}`, which is not defined for {} (in the value of \
                                 `{holder}`{defined})",
                                host.name
                            ),
                        )
                        .hint(format!(
                            "rendered by {}:{}:{}; define `{missing}` for the host or give the reference a default",
                            playbook.display(),
                            call.line,
                            call.column
                        )),
                    );
                }
                continue;
            }
            let (rule, at, when) = match used.always {
                Some(at) => (Rule::TemplateUndefinedVariable, at, ""),
                None => (
                    Rule::TemplateConditionalUndefined,
                    used.first,
                    " (read only in a branch, loop or macro: the render fails if that code runs)",
                ),
            };
            let (line, column) = position(&compiled.source, at, variable);
            let whom = if every && missing.len() < hosts.len() {
                format!("{} (one of {who})", missing[0])
            } else {
                who.clone()
            };
            findings.push(
                Finding::new(&call.path, line, column, rule, format!("`{variable}` is not defined for {whom}{when}"))
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

/// Line and column of `name` at `at` in the template's own text: the line is the parser's (the rewrites keep
/// lines), the column the last whole-word `name` on that line at or before where the parser saw it (the
/// rewrites only insert text, so they may have moved it right), else the first on the line, else the parser's.
fn position(source: &str, at: Place, name: &str) -> (usize, usize) {
    let Some(line) = source.split('\n').nth(at.line.saturating_sub(1)) else { return (at.line, at.column) };
    let word = Regex::new(&format!(r"\b{}\b", regex::escape(name))).expect("a valid regex");
    let found = word.find_iter(line).map(|m| line[..m.start()].chars().count() + 1).collect::<Vec<_>>();
    let column = found.iter().rev().find(|c| **c <= at.column).or(found.first());
    (at.line, column.copied().unwrap_or(at.column))
}

/// The filter or test names the template environment has, for did-you-mean hints.
fn known_names(kind: &str) -> Vec<String> {
    let environment = crate::template::environment();
    let mut state = environment.empty_state();
    KNOWN_CANDIDATES
        .iter()
        .filter(|name| {
            if kind == "filter" {
                crate::template::has_filter(&mut state, name)
            } else {
                crate::template::has_test(&mut state, name)
            }
        })
        .map(|name| name.to_string())
        .collect()
}

/// Filter and test names worth suggesting (those of Jinja2 and Ansible that templates use most).
const KNOWN_CANDIDATES: &[&str] = &[
    "abs",
    "attr",
    "b64decode",
    "b64encode",
    "basename",
    "batch",
    "bool",
    "capitalize",
    "center",
    "checksum",
    "combine",
    "comment",
    "count",
    "d",
    "default",
    "defined",
    "dict2items",
    "dictsort",
    "difference",
    "dirname",
    "divisibleby",
    "e",
    "equalto",
    "escape",
    "eq",
    "even",
    "extract",
    "falsy",
    "filesizeformat",
    "first",
    "flatten",
    "float",
    "format",
    "from_json",
    "from_yaml",
    "ge",
    "groupby",
    "gt",
    "hash",
    "in",
    "indent",
    "int",
    "intersect",
    "ipaddr",
    "ipv4",
    "ipv6",
    "ipwrap",
    "items",
    "items2dict",
    "iterable",
    "join",
    "last",
    "le",
    "length",
    "list",
    "lower",
    "lt",
    "mandatory",
    "map",
    "mapping",
    "match",
    "max",
    "md5",
    "min",
    "ne",
    "none",
    "number",
    "odd",
    "password_hash",
    "quote",
    "random",
    "regex",
    "regex_escape",
    "regex_findall",
    "regex_replace",
    "regex_search",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "search",
    "select",
    "selectattr",
    "sequence",
    "sha1",
    "slice",
    "sort",
    "split",
    "string",
    "striptags",
    "sum",
    "symmetric_difference",
    "ternary",
    "title",
    "to_json",
    "to_nice_json",
    "to_nice_yaml",
    "to_yaml",
    "tojson",
    "trim",
    "truncate",
    "truthy",
    "type_debug",
    "undefined",
    "union",
    "unique",
    "upper",
    "urlencode",
    "urlsplit",
    "version",
    "version_compare",
    "wordcount",
    "zip",
];

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
    fn a_position_is_found_on_the_parsers_line_in_the_templates_own_text() {
        let source = "a\n{{ x.y | default(1) }} {{ zz }} {{ zz }}\n";
        assert_eq!(position(source, Place { line: 2, column: 27 }, "zz"), (2, 27));
        // The rewritten text put the name further right than in the template.
        assert_eq!(position(source, Place { line: 2, column: 40 }, "zz"), (2, 36));
        assert_eq!(position(source, Place { line: 2, column: 30 }, "zz"), (2, 27));
        assert_eq!(position(source, Place { line: 2, column: 4 }, "x"), (2, 4));
    }

    #[test]
    fn unknown_filters_are_errors_and_conditional_reads_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.j2");
        std::fs::write(
            &path,
            "{{ a | to_yml }}\n{% if b %}{{ c | nosuch }}{{ d }}{% endif %}\n{{ e is mtach('x') }}\n",
        )
        .unwrap();
        let mut checker = TemplateChecker::default();
        checker.check_file(&path);
        let findings: Vec<(usize, usize, Rule, String)> =
            checker.into_findings().into_iter().map(|f| (f.line, f.column, f.rule, f.message)).collect();
        assert_eq!(
            findings,
            [
                (2, 18, Rule::TemplateConditionalUndefined, "filter `nosuch` is unknown (called only where the render may not evaluate it: it fails if that code runs)".to_string()),
                (1, 8, Rule::TemplateUnknownFilter, "filter `to_yml` is unknown".to_string()),
                (3, 9, Rule::TemplateUnknownFilter, "test `mtach` is unknown".to_string()),
            ]
        );
    }
}
