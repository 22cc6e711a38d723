use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

include!(concat!(env!("OUT_DIR"), "/embedded_stdlib.rs"));

/// Resolves `import "stdlib/files"`: a file next to the playbook or in one of its parent folders wins (users
/// fork and edit the stdlib), then the copy embedded in the binary. Modules are evaluated once per run.
pub struct StdlibResolver {
    search_dirs: Vec<PathBuf>,
    cache: Mutex<HashMap<String, Shared<Module>>>,
}

impl StdlibResolver {
    pub fn new(playbook_dir: &Path) -> StdlibResolver {
        let start = std::fs::canonicalize(playbook_dir).unwrap_or_else(|_| playbook_dir.to_path_buf());
        StdlibResolver { search_dirs: start.ancestors().map(Path::to_path_buf).collect(), cache: Mutex::default() }
    }

    /// Where `path` would be loaded from, if anywhere.
    pub fn locate(&self, path: &str) -> Option<ModuleSource> {
        let file_name = if path.ends_with(".rhai") { path.to_string() } else { format!("{path}.rhai") };
        if Path::new(&file_name).is_absolute() {
            return Path::new(&file_name).exists().then(|| ModuleSource::File(PathBuf::from(&file_name)));
        }
        for dir in &self.search_dirs {
            let candidate = dir.join(&file_name);
            if candidate.is_file() {
                return Some(ModuleSource::File(candidate));
            }
        }
        EMBEDDED_STDLIB
            .iter()
            .find(|(name, _)| *name == path.trim_end_matches(".rhai"))
            .map(|(name, source)| ModuleSource::Embedded(name, source))
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

pub enum ModuleSource {
    File(PathBuf),
    Embedded(&'static str, &'static str),
}

impl ModuleSource {
    pub fn name(&self) -> String {
        match self {
            ModuleSource::File(path) => path.display().to_string(),
            // As the user would find it in the repository (errors say `in stdlib/packages.rhai:44:11`).
            ModuleSource::Embedded(name, _) => format!("{name}.rhai"),
        }
    }

    pub fn text(&self) -> std::io::Result<String> {
        match self {
            ModuleSource::File(path) => std::fs::read_to_string(path),
            ModuleSource::Embedded(_, source) => Ok(source.to_string()),
        }
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
        let Some(found) = self.locate(path) else {
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
