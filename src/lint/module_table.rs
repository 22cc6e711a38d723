//! What `import "stdlib/x" as x;` brings in: the module's public functions with their arities, found the
//! way `run` finds the module (next to the playbook or in a parent folder, then the embedded copy) and read by
//! compiling it — its top-level code is never evaluated.

use std::collections::HashMap;
use std::path::Path;

use rhai::FnAccess;

use super::analysis_engine::{AnalysisEngine, Arities};
use crate::engine::StdlibResolver;

/// Public functions of one module: name → arities.
#[derive(Debug, Clone, Default)]
pub struct ModuleFunctions {
    pub functions: HashMap<String, Arities>,
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
        let Some(found) = StdlibResolver::new(dir).locate(path) else {
            return Resolved::NotFound;
        };
        let key = found.name();
        let entry = self.cache.entry(key).or_insert_with(|| {
            let text = found.text().ok()?;
            let ast = engine.lax.compile(&text).ok()?;
            let mut functions: HashMap<String, Arities> = HashMap::new();
            for function in ast.iter_functions() {
                if function.access == FnAccess::Private || function.name.contains('$') {
                    continue;
                }
                let arities = Arities::Set([function.params.len()].into());
                functions.entry(function.name.to_string()).and_modify(|known| known.merge(&arities)).or_insert(arities);
            }
            Some(ModuleFunctions { functions })
        });
        match entry {
            Some(module) => Resolved::Module(module.clone()),
            None => Resolved::Broken,
        }
    }
}
