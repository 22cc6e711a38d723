//! Why `ansible.cfg` or an `ANSIBLE_*` variable could not be used, each naming the file and line, or the
//! variable, as Ansible's own configuration errors do.

use std::path::PathBuf;

use super::config_file::ConfigError;

/// Why `ansible.cfg` or an `ANSIBLE_*` variable cannot be used: each names the file (and line) or the variable.
/// A diagnostic with no source to show: `runbook inventory` draws it as it draws the inventory's errors.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AnsibleConfigError {
    #[error("{}: unsupported configuration file extension (Ansible reads an INI file named *.cfg or *.ini)", .0.display())]
    Extension(PathBuf),
    #[error("{}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    /// A line the INI parser refuses.
    #[error("{}:{}: {source}", path.display(), source.line)]
    Malformed { path: PathBuf, source: ConfigError },
    /// A value of the wrong kind; `origin` is `file:line: `key`` or the variable's name.
    #[error("{origin} must be {expected}, found {value:?}")]
    Invalid { origin: String, expected: &'static str, value: String },
    #[error("no inventory: pass -i INVENTORY, or set `inventory` in ansible.cfg ([defaults]) or ANSIBLE_INVENTORY")]
    NoInventory,
    /// `origin`: the file, or `ANSIBLE_BECOME_METHOD`.
    #[error("{origin}: `become_method = {method}` is not supported: runbook becomes another user with sudo or su only")]
    BecomeMethod { origin: String, method: String },
}
