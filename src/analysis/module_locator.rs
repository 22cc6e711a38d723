//! Where `import "stdlib/files"` finds its module: a file next to the playbook or in one of its parent folders
//! wins (users fork and edit the stdlib), then the copy embedded in the binary. The run's module resolver and
//! the analysis look modules up here, so lint reads the module the run would load.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded_stdlib.rs"));

/// The folders an import is searched in, for one playbook.
pub struct ModuleLocator {
    search_dirs: Vec<PathBuf>,
}

impl ModuleLocator {
    pub fn new(playbook_dir: &Path) -> ModuleLocator {
        let start = std::fs::canonicalize(playbook_dir).unwrap_or_else(|_| playbook_dir.to_path_buf());
        ModuleLocator { search_dirs: start.ancestors().map(Path::to_path_buf).collect() }
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
