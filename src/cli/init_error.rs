//! Why `runbook init` wrote no site: a file it would write is there already, or one could not be written (what
//! it had written is taken back).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(
        "not overwriting {} (nothing was written; move {} away or choose another folder)",
        .0.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", "),
        if .0.len() == 1 { "it" } else { "them" }
    )]
    Exists(Vec<PathBuf>),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}
