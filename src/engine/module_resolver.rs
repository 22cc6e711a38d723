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

pub enum ModuleSource {
    File(PathBuf),
    Embedded(&'static str, &'static str),
}

impl ModuleSource {
    pub fn name(&self) -> String {
        match self {
            ModuleSource::File(path) => path.display().to_string(),
            ModuleSource::Embedded(name, _) => format!("<embedded>/{name}.rhai"),
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
        let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(name.clone(), e, position)))?;
        module.build_index();
        let module: Shared<Module> = module.into();
        self.cache.lock().unwrap().insert(name, module.clone());
        Ok(module)
    }
}
