//! Why the connection holder (`--persist`) could not be used or run: its private folder refused or not
//! creatable, or the holder process not starting. A run falls back to connecting directly on these; `runbook
//! hold` stops with them.

use std::path::PathBuf;
use std::time::Duration;

/// The connection holder's folder or process failed.
#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    #[error("cannot create the connection holder's folder {}: {source}", dir.display())]
    CreateFolder { dir: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    Inspect { path: PathBuf, source: std::io::Error },
    /// The folder exists but others could reach it, or it is not ours: refused, with what to do about it.
    #[error(
        "refusing to use the connection holder's folder {}: {why}; it must be a folder owned by uid {uid} with \
         mode 0700 (fix or remove it, or set RUNBOOK_HOLDER_DIR)",
        dir.display()
    )]
    UnsafeFolder { dir: PathBuf, why: String, uid: u32 },
    #[error("cannot open {}: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {}: {source}", path.display())]
    Listen { path: PathBuf, source: std::io::Error },
    #[error("cannot find runbook's own program: {0}")]
    OwnProgram(#[source] std::io::Error),
    #[error("cannot start the connection holder: {0}")]
    Start(#[source] std::io::Error),
    #[error("the connection holder exited at start ({status}); see {}", log.display())]
    ExitedAtStart { status: std::process::ExitStatus, log: PathBuf },
    #[error("the connection holder did not listen within {0:?}")]
    NotListening(Duration),
}

/// Why the holder dropped one request: logged, never shown to a run.
#[derive(Debug, thiserror::Error)]
pub enum HolderRequestError {
    #[error("peer credentials: {0}")]
    PeerCredentials(#[source] std::io::Error),
    #[error("refused a request from uid {0}")]
    OtherUser(u32),
    #[error("{0}")]
    Frame(#[from] std::io::Error),
}

/// A `--persist` value that is not a duration.
#[derive(Debug, thiserror::Error)]
#[error("`{0}`: say how long, like 60, 60s, 10m or 1h")]
pub struct BadPersist(pub String);
