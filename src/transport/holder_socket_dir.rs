//! Where the connection holder listens, and the check that makes its socket private: a folder owned by the
//! user with mode 0700. The folder's permissions are the whole of the access control a Unix socket has on
//! Linux for `connect` (the holder checks the peer's uid too), so a folder anyone else could enter, or one
//! owned by someone else, or a symlink, is refused, never repaired.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::holder_error::HolderError;

/// The folder: RUNBOOK_HOLDER_DIR, else $XDG_RUNTIME_DIR/runbook (per user, on tmpfs, gone at logout),
/// else /tmp/runbook-holder-<uid>.
pub fn location() -> PathBuf {
    if let Some(dir) = std::env::var_os("RUNBOOK_HOLDER_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("runbook"),
        None => std::env::temp_dir().join(format!("runbook-holder-{}", uid())),
    }
}

pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Creates the folder (mode 0700) if it is missing, then checks it: a real folder, owned by this user,
/// no access for group or others.
pub fn prepare(dir: &Path) -> Result<(), HolderError> {
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .map_err(|source| HolderError::CreateFolder { dir: dir.to_path_buf(), source })?;
    }
    check(dir)
}

pub fn check(dir: &Path) -> Result<(), HolderError> {
    let meta =
        std::fs::symlink_metadata(dir).map_err(|source| HolderError::Inspect { path: dir.to_path_buf(), source })?;
    let refuse = |why: String| Err(HolderError::UnsafeFolder { dir: dir.to_path_buf(), why, uid: uid() });
    if !meta.file_type().is_dir() {
        return refuse("it is not a folder (a symlink or a file)".into());
    }
    if meta.uid() != uid() {
        return refuse(format!("it is owned by uid {}", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return refuse(format!("its mode is {:04o}, open to others", meta.mode() & 0o7777));
    }
    Ok(())
}

pub fn socket(dir: &Path) -> PathBuf {
    dir.join("holder.sock")
}

pub fn lock_file(dir: &Path) -> PathBuf {
    dir.join("holder.lock")
}

pub fn pid_file(dir: &Path) -> PathBuf {
    dir.join("holder.pid")
}

pub fn log_file(dir: &Path) -> PathBuf {
    dir.join("holder.log")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_private_folder_is_made_and_an_open_one_refused() {
        let base = std::env::temp_dir().join(format!("rb-holder-dir-{}", rand::random::<u64>()));
        std::fs::create_dir(&base).unwrap();
        let private = base.join("private");
        prepare(&private).unwrap();
        assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o700);

        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = prepare(&open).unwrap_err();
        assert!(error.to_string().contains("mode is 0755"), "{error}");

        let link = base.join("link");
        std::os::unix::fs::symlink(&private, &link).unwrap();
        assert!(prepare(&link).unwrap_err().to_string().contains("not a folder"));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
