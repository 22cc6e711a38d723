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

impl PlaybookError {
    /// The error as output may show it: the script's messages can hold a secret's value (`throw` of a vaulted
    /// variable); the place and the cause of an unreadable file cannot.
    pub fn redacted(self, redactor: &crate::report::Redactor) -> PlaybookError {
        let redact =
            |located: LocatedError| LocatedError { place: located.place, message: redactor.redact(&located.message) };
        match self {
            PlaybookError::Compile(located) => PlaybookError::Compile(redact(located)),
            PlaybookError::Script(located) => PlaybookError::Script(redact(located)),
            other => other,
        }
    }
}

impl From<PlaybookError> for Box<rhai::EvalAltResult> {
    fn from(error: PlaybookError) -> Box<rhai::EvalAltResult> {
        error.to_string().into()
    }
}

#[cfg(test)]
mod tests {
    use super::{LocatedError, PlaybookError};
    use crate::report::Redactor;

    #[test]
    fn a_script_error_reads_place_then_message_and_hides_a_secret_in_the_message() {
        let redactor = Redactor::new();
        redactor.add("hunter2-very-secret");
        let error = PlaybookError::Script(LocatedError {
            place: "site.rhai:12:5".into(),
            message: "bad password hunter2-very-secret".into(),
        });
        let shown = error.redacted(&redactor).to_string();
        assert!(shown.starts_with("site.rhai:12:5: bad password "), "{shown}");
        assert!(!shown.contains("hunter2-very-secret"), "{shown}");
    }
}
