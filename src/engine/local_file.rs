//! `local_exists(path)`: whether a file is on the controller, relative to the playbook's folder as an upload's
//! source is. A flow decides before touching a host, and the same way in `--check`, whether an artifact comes
//! from the offline bundle or has to be fetched: a bundle that lacks one file is not a broken bundle, and a plan
//! must not fail because a local file a real run would not read is absent.

use std::path::Path;

use super::runtime::Runtime;

pub fn register(engine: &mut rhai::Engine, runtime: &std::sync::Arc<Runtime>) {
    let rt = runtime.clone();
    engine.register_fn("local_exists", move |path: &str| resolve(&rt.playbook_dir, path).is_file());
}

/// An absolute path as written; a relative one under the playbook's folder (`site.rhai` has the folder "").
fn resolve(playbook_dir: &Path, path: &str) -> std::path::PathBuf {
    match playbook_dir.as_os_str().is_empty() {
        true => Path::new(".").join(path),
        false => playbook_dir.join(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_read_from_the_playbook_folder_and_absolute_ones_as_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("present.tgz"), b"x").unwrap();
        assert!(resolve(dir.path(), "present.tgz").is_file());
        assert!(!resolve(dir.path(), "absent.tgz").is_file());
        let absolute = dir.path().join("present.tgz");
        assert!(resolve(Path::new("/elsewhere"), absolute.to_str().unwrap()).is_file());
        // A folder is not a file an upload could send.
        assert!(!resolve(dir.path(), ".").is_file());
    }
}
