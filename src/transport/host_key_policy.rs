//! The run's rule for host keys, in its own file because both the options a host is reached with and the
//! verifier that applies it during the handshake read it, and neither should have to name the other for it.

/// What to do with a host key that known_hosts does not vouch for. A key that differs from a recorded one is
/// refused under every policy: that is the case host-key checking exists for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Unknown keys are refused.
    Strict,
    /// Unknown keys are recorded in the first known_hosts file and accepted.
    AcceptNew,
    /// Every key is accepted (only by an explicit flag; the run warns).
    Off,
}
