//! Why `wait_port` gave up: a port number that is not one (the playbook's), or a port that stayed closed, or
//! the host it was watched from failing — typed so the caller decides, not the text.

use super::host_error::HostError;

/// Why waiting for a TCP port ended without it opening.
#[derive(Debug, thiserror::Error)]
pub enum PortWaitError {
    #[error("wait_port: {0} is not a TCP port")]
    NotAPort(i64),
    /// `from` is the host it was watched from, or `None` for the controller; `reason` is the last refusal.
    #[error("{address}:{port} did not accept connections{} within {secs}s{}",
        from.as_ref().map(|from| format!(" from {from}")).unwrap_or_default(),
        reason.as_ref().map(|reason| format!(" ({reason})")).unwrap_or_default())]
    Closed { address: String, port: i64, secs: u64, from: Option<String>, reason: Option<String> },
    /// The host the port was watched from could not run the check.
    #[error(transparent)]
    Host(#[from] HostError),
}
