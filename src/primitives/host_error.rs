//! Why a primitive could not do its work on a host, as types the engine branches on (unreachable hosts leave
//! the run differently from failed ones), never as text to match.

use crate::transport::TransportError;

/// A command could not be run to the end on a host.
#[derive(Debug)]
pub enum HostError {
    /// The host stopped answering (or never did): it is unreachable, not failed.
    Unreachable(String),
    /// The host answered, but the command could not do its work.
    Failed(String),
}

impl HostError {
    pub fn message(&self) -> &str {
        match self {
            HostError::Unreachable(message) | HostError::Failed(message) => message,
        }
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for HostError {}

impl From<TransportError> for HostError {
    fn from(error: TransportError) -> HostError {
        if error.is_unreachable() {
            HostError::Unreachable(error.to_string())
        } else {
            HostError::Failed(error.to_string())
        }
    }
}
