//! Why the playbook's script stopped before its end, as the engine hands it to the cli: a `fatal` task that
//! stopped the run on purpose, or an error — so the exit code is chosen from the kind, never from the text.

use super::playbook_error::PlaybookError;

/// Why the script stopped before its end.
#[derive(Debug)]
pub enum ScriptStop {
    /// A `fatal` task (or `any_errors_fatal`) failed a host and stopped the run, as it asked.
    Fatal(PlaybookError),
    /// The script raised an error, or could not be read or compiled.
    Error(PlaybookError),
}

impl ScriptStop {
    pub fn error(&self) -> &PlaybookError {
        match self {
            ScriptStop::Fatal(error) | ScriptStop::Error(error) => error,
        }
    }

    pub fn is_fatal(&self) -> bool {
        matches!(self, ScriptStop::Fatal(_))
    }
}
