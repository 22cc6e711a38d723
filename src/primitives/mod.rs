//! What a playbook can do to a host. Each primitive looks at the host first, decides, changes only what
//! differs (never in --check), and reports ok / changed / failed / skipped, with a diff when asked.
//!
//! Primitives see a host only through [`RemoteHost`], which the engine implements; the engine registers them
//! on the Rhai engine as methods of its `Host`. Each options map is checked against the names the primitive
//! accepts (the `*_OPTIONS` lists), so a typo in a playbook is an error rather than a silently ignored key.

pub mod catalog;
mod facts;
mod fetch;
mod file_writer;
mod host_error;
mod local_file_error;
mod malformed_reply;
mod port_wait_error;
mod primitive_error;
mod read;
mod reboot;
mod remote_host;
#[cfg(test)]
mod round_trip_tests;
mod run;
mod step;
mod sysctl;
mod template;
mod template_error;
mod upload;
mod wait_port;
mod write;

pub use facts::{derive as derive_facts, facts as gather_facts};
pub use fetch::{FETCH_OPTIONS, fetch};
pub use file_writer::{FILE_OPTIONS, WRITE_OPTIONS, unified_diff};
pub use host_error::HostError;
pub use local_file_error::LocalFileError;
pub use malformed_reply::MalformedReply;
pub use port_wait_error::PortWaitError;
pub use primitive_error::PrimitiveError;
pub use read::{READ_OPTIONS, exists, read, read_with};
pub use reboot::reboot;
pub use remote_host::{PeerHost, RemoteHost};
pub use run::{RUN_OPTIONS, run, run_result};
pub use sysctl::{SYSCTL_OPTIONS, sysctl};
pub use template::template;
pub use template_error::TemplateError;
// The template environment lives in `crate::template`; these names stay for the pre-flight and lint.
pub use crate::template::{
    CONTEXT_NAMES as TEMPLATE_CONTEXT_NAMES, environment as template_environment, minijinja_source as template_source,
    render_text, undeclared_names as template_undeclared_names,
};
pub use upload::upload;
pub use wait_port::{WAIT_PORT_OPTIONS, wait_from_controller, wait_port};
pub use write::write;
