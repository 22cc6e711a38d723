//! SSH to the hosts: one connection per host for the whole run, and on it a small pool of long-lived remote
//! shells that run command after command.
//!
//! Why shells and not one exec channel per command: on OpenSSH each exec channel costs a round trip to open and a
//! fork of the login shell on the host (~20-90 ms), which dominates a playbook of many small steps. A shell that
//! is already running answers the next command in one round trip. Commands are framed with a random end marker,
//! run in a subshell with stdin from /dev/null, so a command can neither eat the protocol nor end the shell.
//! Exec channels remain for what a shell cannot carry well: large uploads streamed from a file.

mod connect_options;
mod connection;
mod host_key_verifier;
mod remote_command;
mod remote_shell;
mod shell_quote;
mod transport_error;

pub use connect_options::{ConnectOptions, HostKeyPolicy};
pub use connection::Connection;
pub use remote_command::{CommandOutput, RemoteCommand};
pub use shell_quote::quote;
pub use transport_error::{ConnectError, TransportError};
