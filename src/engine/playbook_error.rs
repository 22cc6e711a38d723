//! Why a playbook run stopped with an error: its file unreadable, its text not compiling, or the script
//! raising an error — each carrying the place (`file:line:col`) apart from the message, so callers need not
//! take the text apart to know what stopped the run.

use std::path::PathBuf;

/// A message at a place in a playbook (`site.rhai:12:5`, or just the file when Rhai gave no position).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{place}: {message}")]
pub struct LocatedError {
    pub place: String,
    pub message: String,
}

/// Why the playbook's script ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("{}: {source}", file.display())]
    Read { file: PathBuf, source: std::io::Error },
    /// The text does not compile (a syntax error).
    #[error(transparent)]
    Compile(LocatedError),
    /// The script raised an error while it ran (or a handler did, at the end of the play).
    #[error(transparent)]
    Script(LocatedError),
    #[error("internal error: the playbook thread panicked")]
    Panicked,
}

impl From<PlaybookError> for Box<rhai::EvalAltResult> {
    fn from(error: PlaybookError) -> Box<rhai::EvalAltResult> {
        error.to_string().into()
    }
}
