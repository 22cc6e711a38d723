//! Why a host could not be reached, typed: each variant names the cause and what an operator does about it, and
//! the engine counts the host unreachable (not failed) from the type, not from the text.

use std::time::Duration;

/// Why a host could not be reached. Each variant says what to do about it: these are read by operators at 3 am.
#[derive(Debug, thiserror::Error, Clone, serde::Serialize, serde::Deserialize)]
pub enum ConnectError {
    #[error("connection to {address}:{port} refused (is sshd running?)")]
    Refused { address: String, port: u16 },
    #[error("no answer from {address}:{port} within {timeout:?}")]
    Timeout { address: String, port: u16, timeout: Duration },
    #[error("cannot resolve or reach {address}:{port}: {reason}")]
    Network { address: String, port: u16, reason: String },
    #[error(
        "host key of {address}:{port} is not known ({fingerprint}; looked in {searched}); accept it with \
         `--host-key-checking accept-new` or `ssh-keyscan -p {port} {address} >> {known_hosts}` after checking it"
    )]
    HostKeyUnknown { address: String, port: u16, fingerprint: String, known_hosts: String, searched: String },
    #[error(
        "HOST KEY CHANGED for {address}:{port}: it now presents {fingerprint}, but {known_hosts} line {line} \
         records another key. Refused. If the host was reinstalled, remove that line (ssh-keygen -R {address})"
    )]
    HostKeyChanged { address: String, port: u16, fingerprint: String, known_hosts: String, line: usize },
    #[error(
        "REVOKED HOST KEY for {address}:{port}: it presents {fingerprint}, which {known_hosts} line {line} marks          @revoked. Refused under every host key policy"
    )]
    HostKeyRevoked { address: String, port: u16, fingerprint: String, known_hosts: String, line: usize },
    #[error("authentication as {user} failed (tried: {tried})")]
    Auth { user: String, tried: String },
    #[error("`become` as {user} failed: {reason}")]
    Become { user: String, reason: String },
    #[error("the connection to {address}:{port} closed during the SSH handshake ({reason})")]
    Dropped { address: String, port: u16, reason: String },
    #[error("jump host {hop}: {error}")]
    Hop { hop: String, error: Box<ConnectError> },
    #[error("jump host {hop} cannot reach {address}:{port}: {reason}")]
    Tunnel { hop: String, address: String, port: u16, reason: String },
    #[error("ProxyCommand `{command}` failed: {reason}")]
    ProxyCommand { command: String, reason: String },
    #[error("ssh: {0}")]
    Protocol(String),
}

impl ConnectError {
    /// Whether trying again soon may succeed: the network or sshd was not ready, not a refusal by policy
    /// (host key, credentials, sudo), which a retry would only repeat.
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectError::Refused { .. }
            | ConnectError::Timeout { .. }
            | ConnectError::Network { .. }
            | ConnectError::Dropped { .. }
            | ConnectError::Tunnel { .. } => true,
            ConnectError::Hop { error, .. } => error.is_transient(),
            _ => false,
        }
    }
}

/// A failure after the connection was up: the host went away or the remote shell died.
#[derive(Debug, thiserror::Error, Clone)]
pub enum TransportError {
    #[error("connection lost: {0}")]
    Disconnected(String),
    #[error("no answer from the host within {0:?}")]
    Timeout(Duration),
    /// sudo refused or failed (wrong password, not allowed): the host is there, the run cannot go on on it.
    #[error("{0}")]
    Become(String),
    #[error("{0}")]
    Local(String),
}

impl TransportError {
    /// Whether the host should be counted as unreachable rather than failed.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TransportError::Disconnected(_) | TransportError::Timeout(_))
    }
}
