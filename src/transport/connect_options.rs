use std::path::PathBuf;
use std::time::Duration;

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

/// Everything needed to reach one host.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Name shown in messages (the inventory host name).
    pub host_name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Private keys to try, in order, after the ssh-agent's identities.
    pub keys: Vec<PathBuf>,
    /// Password for first contact (from RUNBOOK_SSH_PASSWORD), tried after keys.
    pub password: Option<String>,
    /// known_hosts files, in order; the first is where accept-new records keys.
    pub known_hosts: Vec<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    pub connect_timeout: Duration,
    /// Run everything as root through `sudo -n`.
    pub become_root: bool,
}

impl ConnectOptions {
    /// Fills the gaps from ~/.ssh/config (HostName, User, Port, IdentityFile, UserKnownHostsFile) and the usual
    /// default key and known_hosts locations, as OpenSSH would.
    pub fn resolve(
        host_name: &str,
        address: &str,
        user: Option<&str>,
        port: Option<u16>,
        key: Option<PathBuf>,
        known_hosts: Option<PathBuf>,
    ) -> ConnectOptions {
        let ssh_config = russh_config::parse_home(address).ok();
        let host_config = ssh_config.as_ref().map(|c| c.host_config.clone()).unwrap_or_default();
        let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/root"));

        let mut keys = Vec::new();
        keys.extend(key);
        keys.extend(host_config.identity_file.clone().unwrap_or_default());
        for default in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let path = home.join(".ssh").join(default);
            if path.exists() && !keys.contains(&path) {
                keys.push(path);
            }
        }

        let mut known = Vec::new();
        known.extend(known_hosts);
        known.extend(host_config.user_known_hosts_file.clone());
        known.push(home.join(".ssh/known_hosts"));
        known.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));

        ConnectOptions {
            host_name: host_name.to_string(),
            address: host_config.hostname.clone().unwrap_or_else(|| address.to_string()),
            port: port.or(host_config.port).unwrap_or(22),
            user: user
                .map(str::to_string)
                .or(host_config.user.clone())
                .unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "root".to_string())),
            keys,
            password: std::env::var("RUNBOOK_SSH_PASSWORD").ok().filter(|p| !p.is_empty()),
            known_hosts: known,
            host_key_policy: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(10),
            become_root: false,
        }
    }
}
