//! How a primitive call ended when it did not succeed, typed so the engine decides what happens to the host
//! (unreachable, failed with an exit code, or a playbook mistake) without reading the message.
//!
//! There is deliberately no conversion from a string: each place that fails says which kind of failure it is,
//! so a host's odd answer cannot turn into "the playbook's mistake" by accident.

use super::host_error::HostError;
use super::malformed_reply::MalformedReply;

/// How a primitive call ended when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PrimitiveError {
    /// The host stopped answering: the host is unreachable for the rest of the run.
    #[error("{0}")]
    Unreachable(String),
    /// The step failed on the host; `rc` is the exit code of the command that failed it, if one did.
    #[error("{message}")]
    Failed { message: String, rc: Option<i32> },
    /// The host answered with output its script cannot have printed: the host failed, not the playbook.
    #[error(transparent)]
    Malformed(#[from] MalformedReply),
    /// The call itself is wrong (an unknown option, a value of the wrong type): the playbook's mistake.
    #[error("{0}")]
    Usage(String),
}

impl PrimitiveError {
    /// A mistake in how the playbook called the primitive.
    pub fn usage(message: impl Into<String>) -> PrimitiveError {
        PrimitiveError::Usage(message.into())
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
