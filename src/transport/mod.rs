//! SSH to the hosts: one connection per host for the whole run, and on it a small pool of long-lived remote
//! shells that run command after command.
//!
//! Why shells and not one exec channel per command: on OpenSSH each exec channel costs a round trip to open and a
//! fork of the login shell on the host (~20-90 ms), which dominates a playbook of many small steps. A shell that
//! is already running answers the next command in one round trip. Commands are framed with a random end marker,
//! run in a subshell with stdin from /dev/null, so a command can neither eat the protocol nor end the shell.
//! Exec channels remain for what a shell cannot carry well: large uploads streamed from a file.
//!
//! A host is reached directly, through jump hosts (ProxyJump: a direct-tcpip channel of the jump host's one
//! shared connection), or through a local ProxyCommand; see `ssh_session` and `jump_pool`.

mod become_handshake;
mod connect_options;
mod connect_pacer;
mod connection;
mod connection_holder;
mod held_connection;
mod holder_error;
mod holder_protocol;
mod holder_socket_dir;
mod host_key_policy;
mod host_key_verifier;
mod jump_chain;
mod jump_chain_error;
mod jump_pool;
mod known_hosts_file;
mod remote_command;
mod remote_shell;
mod shell_quote;
mod ssh_session;
mod transport_error;

pub use become_handshake::{Become, BecomeMethod};
pub use connect_options::ConnectOptions;
pub use connection::Connection;
pub use connection_holder::serve as serve_connection_holder;
pub use held_connection::{enable as enable_connection_holder, parse_persist};
pub use holder_error::{BadPersist, HolderError};
pub use holder_socket_dir::location as connection_holder_dir;
pub use host_key_policy::HostKeyPolicy;
pub use jump_chain::{JumpHop, parse_jump_chain};
pub use jump_chain_error::{BadHop, JumpChainError};
pub use jump_pool::JumpPool;
pub use remote_command::{CommandOutput, RemoteCommand};
pub use shell_quote::quote;
pub use transport_error::{ConnectError, TransportError};
