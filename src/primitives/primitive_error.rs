//! How a primitive call ended when it did not succeed, typed so the engine decides what happens to the host
//! (unreachable, failed with an exit code, or a playbook mistake) without reading the message.

use super::host_error::HostError;

/// How a primitive call ended when it did not succeed.
#[derive(Debug)]
pub enum PrimitiveError {
    /// The host stopped answering: the host is unreachable for the rest of the run.
    Unreachable(String),
    /// The step failed on the host; `rc` is the exit code of the command that failed it, if one did.
    Failed { message: String, rc: Option<i32> },
    /// The call itself is wrong (an unknown option, a value of the wrong type): the playbook's mistake.
    Usage(String),
}

impl PrimitiveError {
    pub fn message(&self) -> &str {
        match self {
            PrimitiveError::Unreachable(message)
            | PrimitiveError::Failed { message, .. }
            | PrimitiveError::Usage(message) => message,
        }
    }
}

impl From<HostError> for PrimitiveError {
    fn from(error: HostError) -> PrimitiveError {
        match error {
            HostError::Unreachable(message) => PrimitiveError::Unreachable(message),
            HostError::Failed(message) => PrimitiveError::Failed { message, rc: None },
        }
    }
}

impl From<String> for PrimitiveError {
    fn from(message: String) -> PrimitiveError {
        PrimitiveError::Usage(message)
    }
}

impl From<&str> for PrimitiveError {
    fn from(message: &str) -> PrimitiveError {
        PrimitiveError::Usage(message.to_string())
    }
}
