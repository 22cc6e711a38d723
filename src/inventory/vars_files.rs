//! `group_vars/` and `host_vars/` folders: variables kept beside the inventory (and beside the playbook) in files
//! named after a group or a host, the way every Ansible project is laid out.
//!
//! Which files count is Ansible's rule (`DataLoader.find_vars_files`): for `NAME`, the first of `NAME` (a file, or
//! a folder), `NAME.yml`, `NAME.yaml`, `NAME.json` that exists; a folder contributes every file in it (and in its
//! subfolders) with one of those extensions or none, in name order, skipping hidden files and `~` backups; a later
//! file's variable replaces an earlier one's. The files are read with the inventory's strict YAML rules; a file
//! vaulted as a whole is decrypted first (and every string in it is then a secret).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::inventory_error::InventoryError;
use super::yaml_source::{self, RawVars};

const EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// One vars file, read and parsed: its path and text (for errors) and its variables with their positions.
#[derive(Debug)]
pub(crate) struct VarsFile {
    pub path: PathBuf,
    pub source: Arc<String>,
    pub vars: RawVars,
}

/// The files that hold `name`'s variables under `folder` (`…/group_vars`), in the order they apply.
pub(crate) fn files_for(folder: &Path, name: &str) -> Vec<PathBuf> {
    let base = folder.join(name);
    let candidates = std::iter::once(base.clone())
        .chain(EXTENSIONS.iter().map(|ext| PathBuf::from(format!("{}.{ext}", base.display()))));
    for candidate in candidates {
        if candidate.is_dir() {
            let mut found = Vec::new();
            folder_files(&candidate, &mut found);
            return found;
        }
        if candidate.is_file() {
            return vec![candidate];
        }
    }
    Vec::new()
}

fn folder_files(folder: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    let mut names: Vec<String> =
        entries.filter_map(|entry| entry.ok()).map(|entry| entry.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = folder.join(&name);
        let extension = Path::new(&name).extension().map(|ext| ext.to_string_lossy().into_owned());
        if path.is_dir() && extension.is_none() {
            folder_files(&path, found);
        } else if path.is_file() && extension.as_deref().is_none_or(|ext| EXTENSIONS.contains(&ext)) {
            found.push(path);
        }
    }
}

/// Reads one vars file: a mapping of names to values (an empty file is no variables).
pub(crate) fn read(path: &Path) -> Result<VarsFile, InventoryError> {
    let metadata =
        std::fs::metadata(path).map_err(|error| InventoryError::new(format!("cannot read: {error}")).in_file(path))?;
    if metadata.len() > yaml_source::MAX_SOURCE_BYTES as u64 {
        return Err(InventoryError::new(format!(
            "vars file is {} bytes; the limit is {}",
            metadata.len(),
            yaml_source::MAX_SOURCE_BYTES
        ))
        .in_file(path));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|error| InventoryError::new(format!("cannot read: {error}")).in_file(path))?;
    let (text, vaulted) = yaml_source::open_file_text(text, path)?;
    let source = Arc::new(text);
    let vars: RawVars = yaml_source::from_file_text::<Option<RawVars>>(&source, path, vaulted)?.unwrap_or_default();
    if vaulted {
        vars.vars.values().for_each(yaml_source::record_vaulted);
        // Later errors about these variables (a bad `ansible_port`) show the masked text, not the plaintext.
        let source = Arc::new(yaml_source::masked(&source));
        return Ok(VarsFile { path: path.to_path_buf(), source, vars });
    }
    Ok(VarsFile { path: path.to_path_buf(), source, vars })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn names(files: Vec<PathBuf>, root: &Path) -> Vec<String> {
        files.iter().map(|f| f.strip_prefix(root).unwrap().display().to_string()).collect()
    }

    #[test]
    fn the_first_existing_spelling_wins_and_folders_are_read_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("web.yml"), "a: 1\n");
        touch(&root.join("web.yaml"), "a: 2\n");
        assert_eq!(names(files_for(root, "web"), root), ["web.yml"]);
        touch(&root.join("db/20-b.yaml"), "");
        touch(&root.join("db/10-a.yml"), "");
        touch(&root.join("db/nested/x.json"), "");
        touch(&root.join("db/notes.txt"), "");
        touch(&root.join("db/.hidden.yml"), "");
        touch(&root.join("db/old.yml~"), "");
        touch(&root.join("db/plain"), "");
        touch(&root.join("db.yml"), "ignored: because the folder comes first\n");
        assert_eq!(names(files_for(root, "db"), root), ["db/10-a.yml", "db/20-b.yaml", "db/nested/x.json", "db/plain"]);
        assert!(files_for(root, "nothing").is_empty());
    }

    #[test]
    fn files_are_strict_yaml_mappings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.yml");
        touch(&path, "mode: 0755\nflag: yes\n");
        let file = read(&path).unwrap();
        assert_eq!(file.vars.vars["mode"], "0755");
        assert_eq!(file.vars.vars["flag"], "yes");
        touch(&path, "- a\n");
        let error = read(&path).unwrap_err().to_string();
        assert!(error.starts_with(&format!("{}:1:1: ", path.display())), "{error}");
        touch(&path, "");
        assert!(read(&path).unwrap().vars.vars.is_empty());
        touch(&path, "$ANSIBLE_VAULT;1.1;AES256\n3131\n");
        let error = read(&path).unwrap_err().to_string();
        assert!(
            error.contains("all.yml: cannot decrypt this vaulted file: it is vault-encrypted, and no vault password"),
            "{error}"
        );
    }
}
