//! Everything that can stop a lab command, each with what the user can do about it.

use std::path::PathBuf;

/// A lab failure. The message says what went wrong and, where there is one, the command that fixes it.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("`runbook lab` needs Linux (it runs hosts with systemd-nspawn)")]
    NotLinux,
    #[error(
        "`runbook lab {0}` must run as root (it creates a bridge, cgroups and containers); try `sudo runbook lab {0}`"
    )]
    NotRoot(&'static str),
    #[error("`{tool}` was not found on PATH; install it with `apt-get install {package}`")]
    ToolMissing { tool: &'static str, package: &'static str },
    #[error("invalid lab name `{0}`: use 1 to 10 characters from a-z, 0-9 and `-` (the bridge is named rb-<name>)")]
    BadName(String),
    #[error("invalid subnet `{0}`: expected an IPv4 network such as 10.250.0.0/24 (prefix /8 to /28)")]
    BadSubnet(String),
    #[error(
        "subnet {subnet} is already routed on interface {interface}; pick another with `--subnet`, e.g. 10.251.0.0/24"
    )]
    SubnetInUse { subnet: String, interface: String },
    #[error("subnet {subnet} has room for {room} hosts, the lab needs {needed}")]
    SubnetTooSmall { subnet: String, room: usize, needed: usize },
    #[error("nothing to boot: give an inventory (`-i FILE`) or a number of hosts (`--hosts N`)")]
    NoHosts,
    #[error("{path}: {message}")]
    Inventory { path: PathBuf, message: String },
    /// The inventory loader's own error, `file:line:col: message`, as `runbook run` reports it.
    #[error("{0}")]
    Loader(crate::inventory::InventoryError),
    #[error(
        "lab `{0}` does not exist (no state under /var/lib/runbook/labs/{0}); start it with `runbook lab up --name {0} ...`"
    )]
    NoSuchLab(String),
    #[error("lab `{lab}` has no host `{host}`; its hosts: {known}")]
    NoSuchHost { lab: String, host: String, known: String },
    #[error(
        "could not build the base image with debootstrap from {mirror} (exit {status}).\n\
         The lab needs a reachable Debian mirror the first time (the image is cached afterwards).\n\
         Check the network or set RUNBOOK_LAB_MIRROR to a reachable mirror; debootstrap's log: {log}"
    )]
    Debootstrap { mirror: String, status: String, log: PathBuf },
    #[error("the base image is in use by running lab(s) {0}; stop them first with `runbook lab down --all`")]
    BaseInUse(String),
    #[error(
        "lab `{lab}` is running, but its key is gone from {user_dir} (where it was started from): \
         `runbook lab down --name {lab}`, then bring it up again"
    )]
    KeyGone { lab: String, user_dir: PathBuf },
    #[error("host(s) did not come up within {seconds} s: {hosts}\n{hint}")]
    NotReady { seconds: u64, hosts: String, hint: String },
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl LabError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io { context: context.into(), source }
    }
}

pub type LabResult<T> = Result<T, LabError>;
