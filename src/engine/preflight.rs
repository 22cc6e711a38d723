//! Pre-flight: what can be known to be wrong with a playbook before any host is contacted.
//!
//! The script is compiled before it runs (syntax errors, and undefined script variables under strict
//! variables), but some mistakes only show when a task reaches them: a template or upload file that is not
//! there, a template that does not compile or that reads a variable nobody defines, an included stage with a
//! syntax error. Found then, they fail the run half-way, after earlier tasks changed hosts. This pass walks
//! the compiled playbook (closures and included stages too) for calls whose file argument is a literal
//! string and checks those files now, so such a run stops with exit 1 and no host touched.
//!
//! It only judges what is certain: a computed path, or template variables passed as a computed map, are left
//! to run time. A template variable counts as undefined only if no inventory host, no `all` var, no literal
//! vars map at the call and no built-in context name provides it, and the template does not test it
//! (`is defined`, `default`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rhai::{AST, ASTNode, Engine, Expr, Position, Stmt};

use super::playbook::{compile, standard_scope};
use super::runtime::Runtime;

/// Included stages deeper than this are not followed (a loop of includes is caught by `visited` anyway).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Checks `ast` (compiled from `file`) and the stages it includes; the error lists every problem found, each
/// as `file:line:col: message`.
pub fn check(engine: &Engine, runtime: &Runtime, ast: &AST, file: &Path) -> Result<(), String> {
    let mut preflight = Preflight { engine, runtime, visited: HashSet::new(), problems: Vec::new() };
    preflight.visited.insert(file.to_path_buf());
    preflight.check_ast(ast, file, 0);
    if preflight.problems.is_empty() { Ok(()) } else { Err(preflight.problems.join("\n")) }
}

struct Preflight<'a> {
    engine: &'a Engine,
    runtime: &'a Runtime,
    visited: HashSet<PathBuf>,
    problems: Vec<String>,
}

/// A call found in the script: its name, its arguments (without the object of a method call), where it is.
struct Call {
    name: String,
    args: Vec<Expr>,
    position: Position,
    method: bool,
}

impl Preflight<'_> {
    fn check_ast(&mut self, ast: &AST, file: &Path, depth: usize) {
        let mut calls = Vec::new();
        ast.walk(&mut |path: &[ASTNode]| {
            {
                // A call is an expression, or a statement of its own (`include("x.rhai");` at the top level).
                let (call, position, method) = match path.last() {
                    Some(ASTNode::Expr(Expr::MethodCall(call, position))) => (call, *position, true),
                    Some(ASTNode::Expr(Expr::FnCall(call, position))) => (call, *position, false),
                    Some(ASTNode::Stmt(Stmt::FnCall(call, position))) => (call, *position, false),
                    _ => return true,
                };
                if matches!(call.name.as_str(), "template" | "upload" | "include") {
                    calls.push(Call {
                        name: call.name.to_string(),
                        args: call.args.iter().cloned().collect(),
                        position,
                        method,
                    });
                }
            }
            true
        });
        for call in calls {
            let Some(Expr::StringConstant(source, _)) = call.args.first() else {
                continue;
            };
            let at = place(file, call.position);
            let path = self.runtime.playbook_dir.join(source.as_str());
            match (call.name.as_str(), call.method) {
                ("template", true) if (2..=4).contains(&call.args.len()) => {
                    self.check_template(&at, source, &path, call.args.get(1..))
                }
                ("upload", true) if (2..=3).contains(&call.args.len()) && !path.is_file() => {
                    self.problems.push(format!("{at}: upload source {source}: no such file ({})", path.display()));
                }
                ("include", false) if (1..=2).contains(&call.args.len()) => self.check_include(&at, &path, depth),
                _ => {}
            }
        }
    }

    fn check_template(&mut self, at: &str, source: &str, path: &Path, rest: Option<&[Expr]>) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                self.problems.push(format!("{at}: template {source}: cannot read {}: {error}", path.display()));
                return;
            }
        };
        let undeclared = match crate::primitives::template_undeclared_names(source, &text) {
            Ok(names) => names,
            Err(error) => {
                self.problems.push(format!("{at}: template {error}"));
                return;
            }
        };
        // rest = [dest, vars?, opts?]: only a literal map of vars (or none) says for sure what is passed.
        let mut known: HashSet<String> =
            crate::primitives::TEMPLATE_CONTEXT_NAMES.iter().map(|s| s.to_string()).collect();
        match rest.and_then(|rest| rest.get(1)) {
            None => {}
            Some(Expr::Map(map, _)) => known.extend(map.0.iter().map(|(ident, _)| ident.name.to_string())),
            // A map of constants is folded into one value by the optimizer.
            Some(Expr::DynamicConstant(value, _)) if value.is_map() => {
                let map = value.clone().cast::<rhai::Map>();
                known.extend(map.keys().map(|key| key.to_string()));
            }
            Some(_) => return,
        }
        known.extend(self.runtime.global_vars.keys().cloned());
        for host in self.runtime.hosts.values() {
            known.extend(host.vars.keys().cloned());
        }
        let mut missing: Vec<&String> =
            undeclared.iter().filter(|name| !known.contains(*name) && !tested(&text, name)).collect();
        if missing.is_empty() {
            return;
        }
        missing.sort();
        let lines: Vec<String> = missing
            .iter()
            .map(|name| match first_use(&text, name) {
                Some(line) => format!("{name} ({source}:{line})"),
                None => name.to_string(),
            })
            .collect();
        self.problems.push(format!(
            "{at}: template {source} uses undefined variable{} {}: no host, inventory var or vars map defines it",
            if lines.len() == 1 { "" } else { "s" },
            lines.join(", ")
        ));
    }

    fn check_include(&mut self, at: &str, path: &Path, depth: usize) {
        if depth >= MAX_INCLUDE_DEPTH || !self.visited.insert(path.to_path_buf()) {
            return;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                self.problems.push(format!("{at}: include: cannot read {}: {error}", path.display()));
                return;
            }
        };
        let scope = standard_scope(self.runtime);
        match compile(self.engine, &scope, &text, path) {
            Ok(ast) => self.check_ast(&ast, path, depth + 1),
            Err(error) => self.problems.push(format!("{error}\n  (included at {at})")),
        }
    }
}

fn place(file: &Path, position: Position) -> String {
    match (position.line(), position.position()) {
        (Some(line), Some(column)) => format!("{}:{line}:{column}", file.display()),
        (Some(line), None) => format!("{}:{line}", file.display()),
        _ => file.display().to_string(),
    }
}

/// Whether the template guards the name itself (`x is defined`, `x is not defined`, `x | default(...)`).
fn tested(text: &str, name: &str) -> bool {
    let name = regex::escape(name);
    let pattern = format!(r"\b{name}\s+is\s+(not\s+)?(defined|undefined|none)\b|\b{name}\s*\|\s*(default|d)\b");
    regex::Regex::new(&pattern).map(|re| re.is_match(text)).unwrap_or(true)
}

/// The first line of the template that mentions the name, for the message.
fn first_use(text: &str, name: &str) -> Option<usize> {
    let re = regex::Regex::new(&format!(r"\b{}\b", regex::escape(name))).ok()?;
    text.lines().position(|line| line.contains("{") && re.is_match(line)).map(|index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::{first_use, tested};

    #[test]
    fn guarded_names_are_not_undefined() {
        assert!(tested("{% if proxy is defined %}{{ proxy }}{% endif %}", "proxy"));
        assert!(tested("{{ port | default(80) }}", "port"));
        assert!(tested("{% if x is not defined %}", "x"));
        assert!(!tested("{{ proxy }}", "proxy"));
        assert!(!tested("{{ proxy_is_defined }}", "proxy"));
    }

    #[test]
    fn the_first_use_is_found_by_line() {
        assert_eq!(first_use("a\n{{ b }}\n{{ bb }}\n", "bb"), Some(3));
        assert_eq!(first_use("nothing here\n", "b"), None);
    }
}
