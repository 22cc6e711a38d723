//! What `import "stdlib/x" as x;` brings in: the module's public functions with their arities, found the
//! way `run` finds the module (next to the playbook or in a parent folder, then the embedded copy) and read by
//! compiling it — its top-level code is never evaluated.
//!
//! A module function declares the option names it takes by checking them first thing, with a literal list:
//! `check_options(opts, ["line", "regexp", ...], "files::lineinfile")` (any module's `check_options`, or the
//! stdlib's `files::check_options`). The run enforces that list and lint reads the same one, so a typo in a
//! caller's literal options map is refused before any host is touched, with no second list to keep in step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rhai::{ASTNode, Expr, FnAccess, Stmt};

use super::module_locator::{ModuleLocator, ModuleSource};

use super::analysis_engine::{AnalysisEngine, Arities};
use super::task_results_use::may_read_task_results;

/// Public functions of one module: name → arities.
#[derive(Debug, Clone, Default)]
pub struct ModuleFunctions {
    pub functions: HashMap<String, Arities>,
    /// (name, arity) → the options the function declares: which parameter holds them, and their names.
    pub options: HashMap<(String, usize), DeclaredOptions>,
    /// The module's file on disk (`None`: the copy built into runbook), for lint to check it too.
    pub file: Option<PathBuf>,
    /// The module may call `results(task)` (see `task_results_use`).
    pub may_read_task_results: bool,
}

/// `check_options(param, ["a", "b"], ...)` as a function's statement: the option names `param` may hold.
#[derive(Debug, Clone)]
pub struct DeclaredOptions {
    pub param: usize,
    pub names: Vec<String>,
}

/// Modules already read, by where they were found (one file may be imported by many playbooks).
#[derive(Default)]
pub struct ModuleTable {
    cache: HashMap<String, Option<ModuleFunctions>>,
}

pub enum Resolved {
    /// Found and compiled.
    Module(ModuleFunctions),
    /// Found, but it does not compile (the module's own lint reports why).
    Broken,
    NotFound,
}

impl ModuleTable {
    /// Resolves `path` as imported by a file in `dir`.
    pub fn resolve(&mut self, engine: &AnalysisEngine, dir: &Path, path: &str) -> Resolved {
        let Some(found) = ModuleLocator::new(dir).locate(path) else {
            return Resolved::NotFound;
        };
        let key = found.name();
        let entry = self.cache.entry(key).or_insert_with(|| {
            let text = found.text().ok()?;
            let ast = engine.lax.compile(&text).ok()?;
            let file = match &found {
                ModuleSource::File(path) => Some(path.clone()),
                ModuleSource::Embedded(..) => None,
            };
            let options = declared_options(&ast);
            let mut functions: HashMap<String, Arities> = HashMap::new();
            for function in ast.iter_functions() {
                if function.access == FnAccess::Private || function.name.contains('$') {
                    continue;
                }
                let arities = Arities::Set([function.params.len()].into());
                functions.entry(function.name.to_string()).and_modify(|known| known.merge(&arities)).or_insert(arities);
            }
            Some(ModuleFunctions { functions, options, file, may_read_task_results: may_read_task_results(&ast) })
        });
        match entry {
            Some(module) => Resolved::Module(module.clone()),
            None => Resolved::Broken,
        }
    }
}

/// The option declarations of every function of `ast`: a call in its body of `check_options` (unqualified or
/// from a module) on one of its parameters with a literal array of strings.
pub fn declared_options(ast: &rhai::AST) -> HashMap<(String, usize), DeclaredOptions> {
    let mut declared = HashMap::new();
    let functions: Vec<(String, Vec<String>)> =
        ast.iter_functions().map(|f| (f.name.to_string(), f.params.iter().map(|p| p.to_string()).collect())).collect();
    for (name, params) in functions {
        // (`clone_functions_only_filtered` does not filter into an empty module in rhai 1.27: retain instead.)
        let mut single = ast.clone_functions_only();
        single.retain_functions(|_, _, n, p| n == name && p == params.len());
        single.walk(&mut |nodes: &[ASTNode]| {
            let call = match nodes.last() {
                Some(ASTNode::Stmt(Stmt::FnCall(call, _))) | Some(ASTNode::Expr(Expr::FnCall(call, _))) => call,
                _ => return true,
            };
            if call.name != "check_options" || call.args.len() < 2 {
                return true;
            }
            let (Expr::Variable(variable, ..), Expr::Array(items, _)) = (&call.args[0], &call.args[1]) else {
                return true;
            };
            let Some(param) = params.iter().position(|p| p.as_str() == variable.1.as_str()) else { return true };
            let names: Option<Vec<String>> = items
                .iter()
                .map(|item| match item {
                    Expr::StringConstant(text, _) => Some(text.to_string()),
                    _ => None,
                })
                .collect();
            if let Some(names) = names {
                declared.insert((name.clone(), params.len()), DeclaredOptions { param, names });
            }
            true
        });
    }
    declared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_functions_check_options_list_declares_its_options() {
        let engine = AnalysisEngine::new();
        let ast = engine
            .lax
            .compile(
                r#"
                fn lineinfile(h, path, opts) { check_options(opts, ["line", "regexp"], "files::lineinfile"); }
                fn site(h, o) { files::check_options(o, ["port"], "web::site"); }
                fn computed(h, opts) { check_options(opts, known_names(), "x"); }
                fn other(h, opts) { check_options(h, ["a"], "x"); }
                "#,
            )
            .unwrap();
        let declared = declared_options(&ast);
        let lineinfile = &declared[&("lineinfile".to_string(), 3)];
        assert_eq!((lineinfile.param, lineinfile.names.clone()), (2, vec!["line".to_string(), "regexp".to_string()]));
        assert_eq!(declared[&("site".to_string(), 2)].names, vec!["port".to_string()]);
        // A computed list declares nothing; checking another parameter declares that parameter's options.
        assert!(!declared.contains_key(&("computed".to_string(), 2)));
        assert_eq!(declared[&("other".to_string(), 2)].param, 0);
    }
}
