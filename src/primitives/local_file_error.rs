//! Why a primitive could not put a file on the controller (`fetch`'s copy and its pruning): the controller's
//! own disk, never the host's, so it stays apart from what a host said.

use std::path::PathBuf;

/// A file or folder on the controller that could not be written, listed or removed.
#[derive(Debug, thiserror::Error)]
pub enum LocalFileError {
    #[error("cannot create {}: {source}", dir.display())]
    CreateFolder { dir: PathBuf, source: std::io::Error },
    #[error("the folder {} does not exist (pass `mkdir: true` to create it)", dir.display())]
    NoFolder { dir: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot list {}: {source}", dir.display())]
    List { dir: PathBuf, source: std::io::Error },
    #[error("cannot remove {}: {source}", path.display())]
    Remove { path: PathBuf, source: std::io::Error },
}
