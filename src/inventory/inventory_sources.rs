//! What one `-i` names, as Ansible's inventory manager reads it: a file, a folder of inventory files (every
//! file in it, subfolders too, in name order, skipping what Ansible skips), or a comma-separated host list.
//!
//! Kept apart from the parsing so the folder rules — Ansible's `IGNORED_ALWAYS` names and its
//! `INVENTORY_IGNORE_EXTS` default — live in one place and can be checked against ansible-core.

use std::path::{Path, PathBuf};

use super::inventory_error::InventoryError;

/// File names ending so are skipped in a folder: ansible-core's `REJECT_EXTS` + `['.orig', '.cfg', '.retry']`.
const IGNORED_ENDINGS: &[&str] =
    &[".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry"];

/// Names skipped in a folder whatever their ending (`IGNORED_ALWAYS`): hidden files and the vars folders.
const IGNORED_NAMES: &[&str] = &["group_vars", "host_vars", "vars_plugins"];

/// A folder nested deeper than this is a link loop, not an inventory.
const MAX_DEPTH: usize = 16;

/// One `-i` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    /// Inventory files, in the order Ansible reads them, and the folder whose `group_vars/`/`host_vars/` apply
    /// (the folder itself for a folder source, the file's folder for a file).
    Files { files: Vec<PathBuf>, vars_folder: PathBuf },
    /// `web1,web2:2222,`: hosts in `ungrouped`, with no vars folder (Ansible's `host_list` plugin).
    HostList(Vec<String>),
}

impl Source {
    pub(super) fn of(path: &Path) -> Result<Source, InventoryError> {
        let text = path.to_string_lossy();
        if text.contains(',') && !path.exists() {
            let hosts = text.split(',').map(str::trim).filter(|host| !host.is_empty()).map(str::to_string).collect();
            return Ok(Source::HostList(hosts));
        }
        let metadata = std::fs::metadata(path)
            .map_err(|error| InventoryError::new(format!("cannot read inventory: {error}")).in_file(path))?;
        if !metadata.is_dir() {
            let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
            return Ok(Source::Files { files: vec![path.to_path_buf()], vars_folder: parent.to_path_buf() });
        }
        let mut files = Vec::new();
        walk(path, 0, &mut files)?;
        Ok(Source::Files { files, vars_folder: path.to_path_buf() })
    }
}

/// Whether Ansible skips `name` in an inventory folder.
pub(super) fn ignored(name: &str) -> bool {
    name.starts_with('.') || IGNORED_NAMES.contains(&name) || IGNORED_ENDINGS.iter().any(|end| name.ends_with(end))
}

fn walk(folder: &Path, depth: usize, files: &mut Vec<PathBuf>) -> Result<(), InventoryError> {
    if depth > MAX_DEPTH {
        return Err(InventoryError::new(format!("inventory folders nested deeper than {MAX_DEPTH}")).in_file(folder));
    }
    let entries = std::fs::read_dir(folder)
        .map_err(|error| InventoryError::new(format!("cannot read inventory folder: {error}")).in_file(folder))?;
    let mut names: Vec<std::ffi::OsString> = entries.filter_map(|entry| entry.ok().map(|e| e.file_name())).collect();
    // Python's sorted(os.listdir()) on bytes.
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        if ignored(&name.to_string_lossy()) {
            continue;
        }
        let path = folder.join(&name);
        if path.is_dir() {
            walk(&path, depth + 1, files)?;
        } else {
            refuse_script(&path)?;
            files.push(path);
        }
    }
    Ok(())
}

/// An executable with a `#!` line is a dynamic inventory script to Ansible; runbook reads static inventories
/// only, and saying so beats a parse error about its first line.
fn refuse_script(path: &Path) -> Result<(), InventoryError> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0);
    let mut start = [0u8; 2];
    let shebang = executable
        && std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut start)).is_ok()
        && &start == b"#!";
    if shebang {
        return Err(InventoryError::new(
            "an executable with a #! line is a dynamic inventory script to Ansible; runbook reads static \
             inventories only (write its output to a YAML file, or move it out of the folder)",
        )
        .in_file(path));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_ansible_skips_in_a_folder() {
        for name in [
            ".hidden",
            "group_vars",
            "host_vars",
            "vars_plugins",
            "hosts~",
            "hosts.bak",
            "notes.md",
            "README.txt",
            "x.retry",
            "ansible.cfg",
            "hosts.orig",
            "a.swp",
            "x.rst",
            "y.pyc",
        ] {
            assert!(ignored(name), "{name}");
        }
        for name in ["hosts", "hosts.ini", "prod.yaml", "prod.yml", "x.json", "README", "hosts.ini.j2"] {
            assert!(!ignored(name), "{name}");
        }
    }

    #[test]
    fn a_folder_lists_its_files_in_name_order_subfolders_included() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        for file in ["b.yaml", "a.ini", "notes.md", "group_vars/all.yaml", "sub/c", ".git/config"] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let Source::Files { files, vars_folder } = Source::of(root).unwrap() else { panic!("a folder") };
        let names: Vec<_> = files.iter().map(|f| f.strip_prefix(root).unwrap().display().to_string()).collect();
        assert_eq!(names, ["a.ini", "b.yaml", "sub/c"]);
        assert_eq!(vars_folder, root);
    }

    #[test]
    fn host_lists_and_scripts() {
        assert_eq!(
            Source::of(Path::new("web1, web2:2222,")).unwrap(),
            Source::HostList(vec!["web1".into(), "web2:2222".into()])
        );
        let temp = tempfile::tempdir().unwrap();
        let script = temp.path().join("ec2.py");
        std::fs::write(&script, "#!/usr/bin/env python3\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = Source::of(temp.path()).unwrap_err().to_string();
        assert!(error.contains("ec2.py: an executable with a #! line"), "{error}");
    }
}
