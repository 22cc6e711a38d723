//! How to reach a host, read from its merged variables under Ansible's names or runbook's short ones.
//!
//! Both spellings are accepted so an existing Ansible inventory works unchanged; when both are set the short
//! runbook name wins, because it can only have been written for runbook.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ssh_args::SshArgs;
use super::yaml_source::Vars;
use crate::transport::{BecomeMethod, HostKeyPolicy};

/// A connection variable with an unusable value: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionError {
    pub variable: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn wrong(variable: &'static str, message: String) -> ConnectionError {
    ConnectionError { variable, message }
}

/// Where and as whom to connect to one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// `address` | `ansible_host` | else the host name.
    pub address: String,
    /// `user` | `ansible_user`, else `User`/`-l` in the ssh arguments, else ansible.cfg's `remote_user`.
    pub user: Option<String>,
    /// `port` | `ansible_port`, else `Port`/`-p` in the ssh arguments.
    pub port: Option<u16>,
    /// `key` | `ansible_ssh_private_key_file`; relative to the inventory's folder, `~/` expanded; else
    /// ansible.cfg's `private_key_file`.
    pub key: Option<PathBuf>,
    /// Further keys: `-i` / `IdentityFile` in the ssh arguments, tried after `key`.
    pub identity_files: Vec<PathBuf>,
    /// `known_hosts` | `ansible_ssh_known_hosts_file`; resolved like `key`.
    pub known_hosts: Option<PathBuf>,
    /// Further known_hosts files: `UserKnownHostsFile` / `GlobalKnownHostsFile` in the ssh arguments.
    pub known_hosts_files: Vec<PathBuf>,
    /// `-F FILE` in the ssh arguments: read FILE (`/dev/null`: nothing) instead of ~/.ssh/config.
    pub ssh_config: Option<PathBuf>,
    /// How to treat this host's key when the run does not say: `ansible_host_key_checking`, ansible.cfg's
    /// `host_key_checking`, `StrictHostKeyChecking` in the ssh arguments (`None`: the run's policy).
    pub host_key_policy: Option<HostKeyPolicy>,
    /// `become` | `ansible_become`: run commands through `sudo -n`.
    pub become_: bool,
    /// `become_user` | `ansible_become_user`.
    pub become_user: Option<String>,
    /// `become_method` | `ansible_become_method`: `sudo` (the default) or `su`.
    pub become_method: BecomeMethod,
    /// Jump hosts, `[user@]host[:port]` separated by commas: `jump`, else `ProxyJump` / `-J` in
    /// `ansible_ssh_args`, `ansible_ssh_common_args` then `ansible_ssh_extra_args` (the first one wins, as in ssh).
    /// A hop named like an inventory host is reached as that host.
    pub jump: Option<String>,
    /// `proxy_command`, else `ProxyCommand` in the ssh args: a local command that carries the connection.
    pub proxy_command: Option<String>,
    /// `become_password_secret`: the name of the secret (RUNBOOK_SECRET_<NAME> or `-e NAME=`) holding the
    /// sudo password. The password itself never belongs in an inventory.
    pub become_password_secret: Option<String>,
}

/// Connection settings that apply where the inventory says nothing: `ansible.cfg` and `ANSIBLE_*` variables
/// (`remote_user`, `private_key_file`, `[privilege_escalation]`, `host_key_checking`), and the run's
/// `--host-key-checking`, which wins over every host's own setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionDefaults {
    pub user: Option<String>,
    pub key: Option<PathBuf>,
    pub become_: Option<bool>,
    pub become_user: Option<String>,
    pub become_method: Option<BecomeMethod>,
    /// Ansible's `host_key_checking` boolean from the config or environment (a host's
    /// `ansible_host_key_checking` wins over it).
    pub host_key_checking: Option<bool>,
    /// The command line's `--host-key-checking`: the operator's explicit word, over everything.
    pub host_key_policy: Option<HostKeyPolicy>,
}

/// The ssh-argument variables, in the order Ansible puts them on ssh's command line (the first value wins).
const SSH_ARG_VARIABLES: [&str; 3] = ["ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args"];

impl ConnectionSettings {
    /// Reads the connection fields of host `name` from its merged `vars`; paths resolve against `base_dir`.
    /// The error says which variable is wrong and why (the caller adds the host and file).
    pub fn from_vars(name: &str, vars: &Vars, base_dir: &Path) -> Result<ConnectionSettings, ConnectionError> {
        Self::from_vars_with(name, vars, base_dir, &ConnectionDefaults::default())
    }

    /// As [`Self::from_vars`], with `defaults` where the variables say nothing.
    pub fn from_vars_with(
        name: &str,
        vars: &Vars,
        base_dir: &Path,
        defaults: &ConnectionDefaults,
    ) -> Result<ConnectionSettings, ConnectionError> {
        let mut ssh = SshArgs::default();
        let mut jump_source = "jump";
        for variable in SSH_ARG_VARIABLES {
            // An empty value (a common group_vars default) passes nothing, as in Ansible.
            let Some(args) = string(vars, &[variable]).or_else(|error| match vars.get(variable) {
                Some(Value::String(text)) if text.is_empty() => Ok(None),
                _ => Err(error),
            })?
            else {
                continue;
            };
            let had_path = ssh.jump.is_some() || ssh.proxy_command.is_some();
            ssh.add(&args).map_err(|why| wrong(variable, format!("`{variable}`: {why}")))?;
            if !had_path && (ssh.jump.is_some() || ssh.proxy_command.is_some()) {
                jump_source = variable;
            }
        }
        let mut jump = string(vars, &["jump"])?;
        let mut proxy_command = string(vars, &["proxy_command"])?;
        if jump.is_none() && proxy_command.is_none() {
            (jump, proxy_command) = (ssh.jump.clone(), ssh.proxy_command.clone());
        } else {
            jump_source = "jump";
        }
        if let Some(chain) = &jump {
            crate::transport::parse_jump_chain(chain)
                .map_err(|why| wrong(jump_source, format!("`{jump_source}`: {why}")))?;
        }
        // Only sudo and su are built; saying so beats running commands as the wrong user.
        let become_method = match string(vars, &["become_method", "ansible_become_method"])? {
            None => defaults.become_method.unwrap_or(BecomeMethod::Sudo),
            Some(method) => BecomeMethod::parse(&method).ok_or_else(|| {
                let name = if vars.contains_key("become_method") { "become_method" } else { "ansible_become_method" };
                wrong(
                    name,
                    format!("`{name}: {method}` is not supported: runbook becomes another user with sudo or su only"),
                )
            })?,
        };
        // Ansible's order: the command line's word, else the host's `ansible_host_key_checking`, else the
        // config's; `False` there means no checking whatever the ssh arguments say (Ansible passes its
        // `StrictHostKeyChecking=no` first), else the ssh arguments' StrictHostKeyChecking.
        let checking = boolean(vars, &["ansible_host_key_checking", "ansible_ssh_host_key_checking"])?
            .or(defaults.host_key_checking);
        let host_key_policy = match (defaults.host_key_policy, checking) {
            (Some(policy), _) => Some(policy),
            (None, Some(false)) => Some(HostKeyPolicy::AcceptNew),
            (None, _) => ssh.host_key_policy,
        };
        // Paths in ssh's own arguments are ssh's: relative to the current folder, as ssh opens them.
        let ssh_dir = std::env::current_dir().unwrap_or_else(|_| base_dir.to_path_buf());
        // ssh refuses to start without its -F file; so does the inventory, before any host is touched.
        let ssh_config = ssh.ssh_config.as_deref().map(|file| resolve_path(file, &ssh_dir));
        if let Some(file) =
            ssh_config.as_ref().filter(|file| !file.is_file() && file.as_path() != Path::new("/dev/null"))
        {
            let variable = SSH_ARG_VARIABLES
                .iter()
                .rev()
                .find(|v| vars.contains_key(**v))
                .copied()
                .unwrap_or("ansible_ssh_common_args");
            return Err(wrong(variable, format!("`{variable}`: `-F {}`: no such ssh config file", file.display())));
        }
        let key = string(vars, &["key", "ansible_ssh_private_key_file", "ansible_private_key_file"])?
            .map(|p| resolve_path(&p, base_dir))
            .or_else(|| defaults.key.clone());
        Ok(ConnectionSettings {
            jump,
            proxy_command,
            become_password_secret: string(vars, &["become_password_secret"])?,
            address: string(vars, &["address", "ansible_host"])?.unwrap_or_else(|| name.to_string()),
            user: string(vars, &["user", "ansible_user"])?.or(ssh.user).or_else(|| defaults.user.clone()),
            port: port(vars)?.or(ssh.port),
            key,
            identity_files: ssh.identity_files.iter().map(|p| resolve_path(p, &ssh_dir)).collect(),
            known_hosts: string(vars, &["known_hosts", "ansible_ssh_known_hosts_file"])?
                .map(|p| resolve_path(&p, base_dir)),
            known_hosts_files: ssh.known_hosts_files.iter().map(|p| resolve_path(p, &ssh_dir)).collect(),
            host_key_policy,
            ssh_config,
            become_: boolean(vars, &["become", "ansible_become"])?.or(defaults.become_).unwrap_or(false),
            become_user: string(vars, &["become_user", "ansible_become_user"])?
                .or_else(|| defaults.become_user.clone()),
            become_method,
        })
    }

    /// The fields under runbook's names, as `runbook inventory --host` shows them.
    pub fn to_vars(&self) -> Vars {
        let mut vars = Vars::new();
        vars.insert("address".into(), Value::from(self.address.clone()));
        if let Some(user) = &self.user {
            vars.insert("user".into(), Value::from(user.clone()));
        }
        if let Some(port) = self.port {
            vars.insert("port".into(), Value::from(port));
        }
        if let Some(key) = &self.key {
            vars.insert("key".into(), Value::from(key.display().to_string()));
        }
        if let Some(known_hosts) = &self.known_hosts {
            vars.insert("known_hosts".into(), Value::from(known_hosts.display().to_string()));
        }
        let paths = |paths: &[PathBuf]| Value::from(paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>());
        if !self.identity_files.is_empty() {
            vars.insert("identity_files".into(), paths(&self.identity_files));
        }
        if !self.known_hosts_files.is_empty() {
            vars.insert("known_hosts_files".into(), paths(&self.known_hosts_files));
        }
        if let Some(file) = &self.ssh_config {
            vars.insert("ssh_config".into(), Value::from(file.display().to_string()));
        }
        if let Some(policy) = self.host_key_policy {
            let name = match policy {
                HostKeyPolicy::Strict => "strict",
                HostKeyPolicy::AcceptNew => "accept-new",
                HostKeyPolicy::Off => "off",
            };
            vars.insert("host_key_checking".into(), Value::from(name));
        }
        vars.insert("become".into(), Value::from(self.become_));
        if let Some(become_user) = &self.become_user {
            vars.insert("become_user".into(), Value::from(become_user.clone()));
        }
        if self.become_method != BecomeMethod::Sudo {
            vars.insert("become_method".into(), Value::from(self.become_method.name()));
        }
        if let Some(jump) = &self.jump {
            vars.insert("jump".into(), Value::from(jump.clone()));
        }
        if let Some(command) = &self.proxy_command {
            vars.insert("proxy_command".into(), Value::from(command.clone()));
        }
        vars
    }
}

fn first<'a>(vars: &'a Vars, names: &[&'static str]) -> Option<(&'static str, &'a Value)> {
    names.iter().find_map(|name| vars.get(*name).filter(|value| !value.is_null()).map(|value| (*name, value)))
}

fn string(vars: &Vars, names: &[&'static str]) -> Result<Option<String>, ConnectionError> {
    match first(vars, names) {
        None => Ok(None),
        Some((_, Value::String(text))) if !text.is_empty() => Ok(Some(text.clone())),
        Some((name, Value::String(_))) => Err(wrong(name, format!("`{name}` is empty"))),
        // A number is a fine user name or address (`user: 1000` is rare but not wrong).
        Some((_, Value::Number(number))) => Ok(Some(number.to_string())),
        Some((name, other)) => {
            Err(wrong(name, format!("`{name}` must be a string, found {}", super::describe_value(other))))
        }
    }
}

fn port(vars: &Vars) -> Result<Option<u16>, ConnectionError> {
    let Some((name, value)) = first(vars, &["port", "ansible_port"]) else {
        return Ok(None);
    };
    let number = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    match number {
        Some(port @ 1..=65535) => Ok(Some(port as u16)),
        _ => Err(wrong(name, format!("`{name}` must be a port number from 1 to 65535, found {value}"))),
    }
}

fn boolean(vars: &Vars, names: &[&'static str]) -> Result<Option<bool>, ConnectionError> {
    let Some((name, value)) = first(vars, names) else {
        return Ok(None);
    };
    match value {
        Value::Bool(flag) => Ok(Some(*flag)),
        Value::Number(number) if number.as_u64() == Some(1) => Ok(Some(true)),
        Value::Number(number) if number.as_u64() == Some(0) => Ok(Some(false)),
        // Ansible inventories often say `yes`; strict YAML keeps it a string, so accept it here.
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Some(true)),
            "false" | "no" | "off" | "0" | "" => Ok(Some(false)),
            _ => Err(wrong(name, format!("`{name}` must be true or false, found {value}"))),
        },
        other => Err(wrong(name, format!("`{name}` must be true or false, found {}", super::describe_value(other)))),
    }
}

/// `~/x` → home/x; a relative path → against the inventory's folder; absolute stays.
pub(crate) fn resolve_path(path: &str, base_dir: &Path) -> PathBuf {
    if path == "~" {
        return dirs::home_dir().unwrap_or_else(|| PathBuf::from(path));
    }
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    let path = Path::new(path);
    if path.is_absolute() { path.to_path_buf() } else { base_dir.join(path) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(value: Value) -> Vars {
        value.as_object().unwrap().clone().into_iter().collect()
    }

    #[test]
    fn ansible_names_and_defaults() {
        let v = vars(json!({"ansible_host": "10.0.0.1", "ansible_user": "ops", "ansible_port": "2222",
            "ansible_ssh_private_key_file": "keys/id", "ansible_become": "yes"}));
        let c = ConnectionSettings::from_vars("m1", &v, Path::new("/inv")).unwrap();
        assert_eq!(c.address, "10.0.0.1");
        assert_eq!(c.user.as_deref(), Some("ops"));
        assert_eq!(c.port, Some(2222));
        assert_eq!(c.key, Some(PathBuf::from("/inv/keys/id")));
        assert!(c.become_);
        let c = ConnectionSettings::from_vars("m1", &Vars::new(), Path::new("/inv")).unwrap();
        assert_eq!(c.address, "m1");
        assert_eq!((c.user, c.port, c.become_), (None, None, false));
    }

    #[test]
    fn runbook_names_win_over_ansible_names() {
        let v = vars(json!({"ansible_host": "10.0.0.1", "address": "10.0.0.9", "port": 22, "ansible_port": 2222}));
        let c = ConnectionSettings::from_vars("m1", &v, Path::new("/")).unwrap();
        assert_eq!(c.address, "10.0.0.9");
        assert_eq!(c.port, Some(22));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err =
            ConnectionSettings::from_vars("m1", &vars(json!({"ansible_port": 70000})), Path::new("/")).unwrap_err();
        assert_eq!(err.message, "`ansible_port` must be a port number from 1 to 65535, found 70000");
        let err = ConnectionSettings::from_vars("m1", &vars(json!({"become": "maybe"})), Path::new("/")).unwrap_err();
        assert_eq!(err.message, "`become` must be true or false, found \"maybe\"");
        let err = ConnectionSettings::from_vars("m1", &vars(json!({"user": ["a"]})), Path::new("/")).unwrap_err();
        assert_eq!(err.message, "`user` must be a string, found a list");
    }

    #[test]
    fn jump_hosts_as_ansible_users_write_them() {
        let jump = |value: Value| ConnectionSettings::from_vars("m1", &vars(value), Path::new("/")).unwrap().jump;
        assert_eq!(jump(json!({"jump": "bastion"})).as_deref(), Some("bastion"));
        assert_eq!(
            jump(json!({"ansible_ssh_common_args": "-o ProxyJump=ops@gw:2222"})).as_deref(),
            Some("ops@gw:2222")
        );
        assert_eq!(jump(json!({"ansible_ssh_common_args": "-oProxyJump=a,b -o ProxyJump=c"})).as_deref(), Some("a,b"));
        assert_eq!(jump(json!({"ansible_ssh_extra_args": "-o 'ProxyJump gw' -v"})).as_deref(), Some("gw"));
        assert_eq!(jump(json!({"ansible_ssh_extra_args": "-J gw"})).as_deref(), Some("gw"));
        assert_eq!(jump(json!({"ansible_ssh_common_args": "-o StrictHostKeyChecking=no"})), None);
        // The runbook name wins over the ssh arguments.
        assert_eq!(jump(json!({"jump": "a", "ansible_ssh_common_args": "-J b"})).as_deref(), Some("a"));
        let c = ConnectionSettings::from_vars(
            "m1",
            &vars(json!({"ansible_ssh_common_args": "-o ProxyCommand=\"ssh -W %h:%p -q ops@gw\""})),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!((c.jump, c.proxy_command.as_deref()), (None, Some("ssh -W %h:%p -q ops@gw")));
    }

    #[test]
    fn a_bad_jump_names_the_variable() {
        let err = ConnectionSettings::from_vars("m1", &vars(json!({"jump": "a,,b"})), Path::new("/")).unwrap_err();
        assert_eq!(err.variable, "jump");
        assert!(err.message.contains("two commas"), "{}", err.message);
        let err = ConnectionSettings::from_vars(
            "m1",
            &vars(json!({"ansible_ssh_common_args": "-o 'ProxyJump=a"})),
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(err.message, "`ansible_ssh_common_args`: unbalanced quotes");
    }

    #[test]
    fn become_method_sudo_or_su() {
        let method =
            |value: Value| ConnectionSettings::from_vars("m1", &vars(value), Path::new("/")).map(|c| c.become_method);
        assert_eq!(method(json!({})), Ok(BecomeMethod::Sudo));
        assert_eq!(method(json!({"ansible_become_method": "su"})), Ok(BecomeMethod::Su));
        assert_eq!(method(json!({"become_method": "sudo", "ansible_become_method": "su"})), Ok(BecomeMethod::Sudo));
        let err = method(json!({"ansible_become_method": "doas"})).unwrap_err();
        assert_eq!(err.variable, "ansible_become_method");
        assert!(err.message.contains("sudo or su only"), "{}", err.message);
    }

    #[test]
    fn ssh_arguments_set_what_the_variables_leave_open() {
        let v = vars(json!({
            "ansible_ssh_common_args": "-o UserKnownHostsFile=kh -o StrictHostKeyChecking=yes -p 2200 -l ops",
            "ansible_ssh_extra_args": "-i keys/extra -o Port=2300",
            "ansible_ssh_private_key_file": "keys/main",
        }));
        let c = ConnectionSettings::from_vars("m1", &v, Path::new("/inv")).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(c.known_hosts_files, [cwd.join("kh")], "relative to the current folder, as ssh opens it");
        assert_eq!(c.host_key_policy, Some(HostKeyPolicy::Strict));
        assert_eq!((c.port, c.user.as_deref()), (Some(2200), Some("ops")));
        assert_eq!(c.key, Some(PathBuf::from("/inv/keys/main")));
        assert_eq!(c.identity_files, [cwd.join("keys/extra")]);
        // The inventory's own variables win over the ssh arguments.
        let v = vars(json!({"ansible_ssh_common_args": "-p 2200 -l ops", "ansible_port": 22, "ansible_user": "root"}));
        let c = ConnectionSettings::from_vars("m1", &v, Path::new("/inv")).unwrap();
        assert_eq!((c.port, c.user.as_deref()), (Some(22), Some("root")));
        // An empty value passes nothing.
        assert!(
            ConnectionSettings::from_vars("m1", &vars(json!({"ansible_ssh_common_args": ""})), Path::new("/")).is_ok()
        );
    }

    #[test]
    fn an_ssh_config_file_must_exist() {
        let c = ConnectionSettings::from_vars(
            "m1",
            &vars(json!({"ansible_ssh_common_args": "-F /dev/null"})),
            Path::new("/"),
        );
        assert_eq!(c.unwrap().ssh_config, Some(PathBuf::from("/dev/null")));
        let v = vars(json!({"ansible_ssh_extra_args": "-F /nonexistent/ssh.cfg"}));
        let err = ConnectionSettings::from_vars("m1", &v, Path::new("/")).unwrap_err();
        assert_eq!(err.variable, "ansible_ssh_extra_args");
        assert_eq!(err.message, "`ansible_ssh_extra_args`: `-F /nonexistent/ssh.cfg`: no such ssh config file");
    }

    #[test]
    fn an_option_runbook_cannot_honour_is_refused_naming_the_variable() {
        let v = vars(json!({"ansible_ssh_extra_args": "-o ServerAliveInterval=30 -o Ciphers=aes128-ctr"}));
        let err = ConnectionSettings::from_vars("m1", &v, Path::new("/")).unwrap_err();
        assert_eq!(err.variable, "ansible_ssh_extra_args");
        assert!(
            err.message.starts_with("`ansible_ssh_extra_args`: `-o Ciphers=aes128-ctr` cannot be honoured"),
            "{}",
            err.message
        );
    }

    #[test]
    fn defaults_fill_what_the_inventory_leaves_open() {
        let defaults = ConnectionDefaults {
            user: Some("deploy".into()),
            key: Some(PathBuf::from("/site/id")),
            become_: Some(true),
            become_user: Some("admin".into()),
            become_method: Some(BecomeMethod::Su),
            host_key_checking: Some(false),
            host_key_policy: None,
        };
        let c = ConnectionSettings::from_vars_with("m1", &Vars::new(), Path::new("/"), &defaults).unwrap();
        assert_eq!((c.user.as_deref(), c.key.as_deref()), (Some("deploy"), Some(Path::new("/site/id"))));
        assert!(c.become_);
        assert_eq!((c.become_user.as_deref(), c.become_method), (Some("admin"), BecomeMethod::Su));
        assert_eq!(c.host_key_policy, Some(HostKeyPolicy::AcceptNew));
        let v = vars(json!({"ansible_user": "root", "ansible_become": false, "ansible_host_key_checking": true,
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=yes"}));
        let c = ConnectionSettings::from_vars_with("m1", &v, Path::new("/"), &defaults).unwrap();
        assert_eq!(c.user.as_deref(), Some("root"));
        assert!(!c.become_);
        assert_eq!(c.host_key_policy, Some(HostKeyPolicy::Strict));
        // host_key_checking = False wins over the ssh arguments, as Ansible's own option comes first.
        let v = vars(json!({"ansible_ssh_common_args": "-o StrictHostKeyChecking=yes"}));
        let c = ConnectionSettings::from_vars_with("m1", &v, Path::new("/"), &defaults).unwrap();
        assert_eq!(c.host_key_policy, Some(HostKeyPolicy::AcceptNew));
        // The command line wins over everything.
        let forced = ConnectionDefaults { host_key_policy: Some(HostKeyPolicy::Strict), ..defaults };
        let c = ConnectionSettings::from_vars_with("m1", &Vars::new(), Path::new("/"), &forced).unwrap();
        assert_eq!(c.host_key_policy, Some(HostKeyPolicy::Strict));
    }

    #[test]
    fn home_is_expanded() {
        let home = dirs::home_dir().unwrap();
        assert_eq!(resolve_path("~/.ssh/id", Path::new("/inv")), home.join(".ssh/id"));
        assert_eq!(resolve_path("/abs/id", Path::new("/inv")), PathBuf::from("/abs/id"));
    }
}
