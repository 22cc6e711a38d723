//! The run's module resolver: evaluates an imported module once per run, where the analysis' locator finds it,
//! and remembers which sources are modules so an error raised inside one is reported at the user's call.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

use crate::analysis::module_locator::ModuleLocator;

/// Resolves a playbook's `import`s where [`ModuleLocator`] finds them; modules are evaluated once per run.
pub struct StdlibResolver {
    locator: ModuleLocator,
    cache: Mutex<HashMap<String, Shared<Module>>>,
}

impl StdlibResolver {
    pub fn new(playbook_dir: &Path) -> StdlibResolver {
        StdlibResolver { locator: ModuleLocator::new(playbook_dir), cache: Mutex::default() }
    }
}

/// Sources of the modules loaded so far in this process: an error raised in one of them is reported at the
/// user's call first (see `script_error`).
static MODULE_SOURCES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Whether `source` (an AST's source name) is an imported module rather than a playbook or included stage.
pub fn is_module_source(source: &str) -> bool {
    MODULE_SOURCES.lock().unwrap().iter().any(|known| known == source)
}

pub fn remember_module_source(name: &str) {
    let mut known = MODULE_SOURCES.lock().unwrap();
    if !known.iter().any(|k| k == name) {
        known.push(name.to_string());
    }
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        position: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let Some(found) = self.locator.locate(path) else {
            return Err(EvalAltResult::ErrorModuleNotFound(path.to_string(), position).into());
        };
        let name = found.name();
        if let Some(module) = self.cache.lock().unwrap().get(&name) {
            return Ok(module.clone());
        }
        let text = found.text().map_err(|e| EvalAltResult::ErrorSystem(format!("cannot read {name}"), Box::new(e)))?;
        let mut ast = engine
            .compile(&text)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(name.clone(), e.into(), position)))?;
        ast.set_source(name.as_str());
        remember_module_source(&name);
        let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(name.clone(), e, position)))?;
        module.build_index();
        let module: Shared<Module> = module.into();
        self.cache.lock().unwrap().insert(name, module.clone());
        Ok(module)
    }
}
