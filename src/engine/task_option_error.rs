//! Why a task's options map (`#{ serial: 2, tags: [...] }`) is refused: the playbook's mistake, named by the
//! option, as a type so callers convert it at the Rhai boundary instead of passing text around.

use crate::primitives::catalog::TASK_OPTIONS as TASK_OPTION_NAMES;

/// A task option the engine cannot take.
#[derive(Debug, thiserror::Error)]
pub enum TaskOptionError {
    #[error("unknown task option `{0}` (known: {known})", known = TASK_OPTION_NAMES.join(", "))]
    Unknown(String),
    #[error("task option `{key}` must be true or false, not a {found}")]
    NotABool { key: String, found: String },
    #[error("task option `{key}` must be an array of strings, not a {found}")]
    NotStrings { key: String, found: String },
    #[error("task option `{key}` must hold strings, found a {found}")]
    NotAString { key: String, found: String },
    #[error("task option `max_fail_percentage` must be a number from 0 to 100, not {0}")]
    NotAPercentage(String),
    #[error("task option `serial` must be at least 1, not {0}")]
    SerialBelowOne(i64),
    #[error("task option `serial` must be a count (2) or a percentage (\"30%\"), not {0}")]
    NotASerial(String),
}

impl From<TaskOptionError> for Box<rhai::EvalAltResult> {
    fn from(error: TaskOptionError) -> Box<rhai::EvalAltResult> {
        error.to_string().into()
    }
}
