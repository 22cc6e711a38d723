//! How to reach one host: address, credentials, host-key policy, and the path there (directly, through jump
//! hosts, or through a local proxy command), resolved from the inventory and ~/.ssh/config as OpenSSH would.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::become_handshake::Become;
pub use super::host_key_policy::HostKeyPolicy;
use super::jump_chain::{JumpHop, parse_jump_chain};
use super::jump_pool::JumpPool;

/// ProxyJump chains in ~/.ssh/config may point at hosts that have their own ProxyJump: a loop in them must end.
const MAX_JUMP_DEPTH: usize = 8;

/// Where `resolve` is: how deep in a ProxyJump chain, and which ssh config file it reads (ssh's `-F`, kept
/// for the hops of the chain as ssh passes it on).
#[derive(Debug, Clone, Default)]
struct Lookup {
    depth: usize,
    ssh_config: Option<PathBuf>,
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
    /// Run everything as `become_.user` (root by default) through sudo.
    pub become_root: bool,
    /// Whom to become and the sudo password, if any.
    pub become_: Become,
    /// The hop before this host (ProxyJump): the host is reached through a direct-tcpip channel of that
    /// hop's connection. A chain `a,b` is b with a as b's jump.
    pub jump: Option<Box<ConnectOptions>>,
    /// A local command whose stdin and stdout carry the connection (ProxyCommand; %h %p %r %% expanded).
    pub proxy_command: Option<String>,
    /// Transient connect failures (refused, no route, timeout) retried this many times, with backoff.
    pub connect_retries: u32,
    /// The run's jump connections, shared by every host behind the same hop.
    pub jumps: JumpPool,
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
        Self::resolve_in(host_name, address, user, port, key, known_hosts, &Lookup::default())
    }

    /// As [`Self::resolve`], reading `ssh_config` (ssh's `-F`; `/dev/null` for none) instead of ~/.ssh/config.
    pub fn resolve_with_ssh_config(
        host_name: &str,
        address: &str,
        user: Option<&str>,
        port: Option<u16>,
        key: Option<PathBuf>,
        known_hosts: Option<PathBuf>,
        ssh_config: &Path,
    ) -> ConnectOptions {
        let lookup = Lookup { depth: 0, ssh_config: Some(ssh_config.to_path_buf()) };
        Self::resolve_in(host_name, address, user, port, key, known_hosts, &lookup)
    }

    fn resolve_in(
        host_name: &str,
        address: &str,
        user: Option<&str>,
        port: Option<u16>,
        key: Option<PathBuf>,
        known_hosts: Option<PathBuf>,
        lookup: &Lookup,
    ) -> ConnectOptions {
        let depth = lookup.depth;
        let ssh_config = match &lookup.ssh_config {
            Some(path) => russh_config::parse_path(path, address).ok(),
            None => russh_config::parse_home(address).ok(),
        };
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

        let mut options = ConnectOptions {
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
            become_: Become::default(),
            jump: None,
            proxy_command: None,
            connect_retries: 2,
            jumps: JumpPool::default(),
        };
        // OpenSSH uses the first of ProxyJump and ProxyCommand it reads; russh-config keeps both, so ProxyJump
        // wins here (the newer and more common spelling). A chain that does not parse is left to fail loudly
        // at connect time rather than be silently skipped.
        if let Some(chain) = &host_config.proxy_jump {
            match parse_jump_chain(chain) {
                Ok(hops) if depth < MAX_JUMP_DEPTH => {
                    let inherit = options.clone();
                    let next = Lookup { depth: depth + 1, ssh_config: lookup.ssh_config.clone() };
                    let hops = hops.iter().map(|hop| ConnectOptions::for_hop_in(hop, &inherit, &next)).collect();
                    options = options.through(hops);
                }
                Ok(_) => options.proxy_command = Some(format!("false # ProxyJump nested deeper than {MAX_JUMP_DEPTH}")),
                Err(why) => options.proxy_command = Some(format!("false # ~/.ssh/config ProxyJump: {why}")),
            }
        } else if let Some(command) = &host_config.proxy_command
            && !command.trim().eq_ignore_ascii_case("none")
        {
            options.proxy_command = Some(command.clone());
        }
        options
    }

    /// A jump host that is not an inventory host, reached as ssh would: ~/.ssh/config for its name, then the
    /// target's own key and known_hosts files (a lab or a site usually keeps one of each for all its hosts).
    pub fn for_hop(hop: &JumpHop, target: &ConnectOptions) -> ConnectOptions {
        Self::for_hop_in(hop, target, &Lookup::default())
    }

    fn for_hop_in(hop: &JumpHop, target: &ConnectOptions, lookup: &Lookup) -> ConnectOptions {
        let mut options =
            Self::resolve_in(&hop.to_string(), &hop.host, hop.user.as_deref(), hop.port, None, None, lookup);
        for key in &target.keys {
            if !options.keys.contains(key) {
                options.keys.push(key.clone());
            }
        }
        for file in &target.known_hosts {
            if !options.known_hosts.contains(file) {
                options.known_hosts.push(file.clone());
            }
        }
        options.inherit_policy(target);
        options
    }

    /// Takes the run-wide settings (host-key policy, timeouts, retries, the jump pool) from `other`, down the
    /// whole chain of jumps.
    pub fn inherit_policy(&mut self, other: &ConnectOptions) {
        self.host_key_policy = other.host_key_policy;
        self.connect_timeout = other.connect_timeout;
        self.connect_retries = other.connect_retries;
        self.jumps = other.jumps.clone();
        if let Some(jump) = &mut self.jump {
            jump.inherit_policy(other);
        }
    }

    /// This host reached through `hops` (the first the one the controller connects to), replacing any
    /// ProxyJump or ProxyCommand from ~/.ssh/config, as `ssh -J` does. The first hop keeps its own jump.
    pub fn through(mut self, hops: Vec<ConnectOptions>) -> ConnectOptions {
        let mut previous: Option<Box<ConnectOptions>> = None;
        for mut hop in hops {
            if previous.is_some() {
                hop.jump = previous.take();
                hop.proxy_command = None;
            }
            previous = Some(Box::new(hop));
        }
        self.jump = previous;
        self.proxy_command = None;
        self
    }

    /// How messages name this host: `name (user@address:port)`, or just the latter when they are the same.
    pub fn label(&self) -> String {
        let target = format!("{}@{}:{}", self.user, self.address, self.port);
        if self.host_name == target || self.host_name.is_empty() {
            target
        } else {
            format!("{} ({target})", self.host_name)
        }
    }

    /// Identifies one connection: who, where, and by which path. Hosts behind the same hop share its key.
    pub(crate) fn route_key(&self) -> String {
        let mut key = format!("{}@{}:{}", self.user, self.address, self.port);
        if let Some(jump) = &self.jump {
            key.push_str(" via ");
            key.push_str(&jump.route_key());
        } else if let Some(command) = &self.proxy_command {
            key.push_str(" by ");
            key.push_str(command);
        }
        key
    }

    /// The ProxyCommand with OpenSSH's tokens filled in: %h host, %p port, %r user, %n the name as given.
    pub(crate) fn expanded_proxy_command(&self) -> Option<String> {
        let command = self.proxy_command.as_ref()?;
        let mut out = String::new();
        let mut chars = command.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('h') => out.push_str(&self.address),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(&self.user),
                Some('n') => out.push_str(&self.host_name),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(name: &str) -> ConnectOptions {
        let mut options = ConnectOptions::resolve(name, name, Some("ops"), Some(22), None, None);
        options.jump = None;
        options.proxy_command = None;
        options
    }

    #[test]
    fn a_chain_is_nested_first_hop_innermost() {
        let target = plain("target").through(vec![plain("a"), plain("b")]);
        let b = target.jump.as_ref().unwrap();
        assert_eq!(b.address, "b");
        assert_eq!(b.jump.as_ref().unwrap().address, "a");
        assert!(b.jump.as_ref().unwrap().jump.is_none());
        assert_eq!(target.route_key(), "ops@target:22 via ops@b:22 via ops@a:22");
    }

    #[test]
    fn proxy_command_tokens() {
        let mut options = plain("web1");
        options.address = "10.0.0.5".into();
        options.proxy_command = Some("ssh -W %h:%p %r@gw 100%% %x".into());
        assert_eq!(options.expanded_proxy_command().unwrap(), "ssh -W 10.0.0.5:22 ops@gw 100% %x");
    }

    #[test]
    fn a_hop_inherits_the_targets_files_and_policy() {
        let mut target = plain("t");
        target.known_hosts = vec![PathBuf::from("/lab/known_hosts")];
        target.keys = vec![PathBuf::from("/lab/id")];
        target.host_key_policy = HostKeyPolicy::AcceptNew;
        let hop =
            ConnectOptions::for_hop(&JumpHop { user: Some("j".into()), host: "gw".into(), port: Some(2) }, &target);
        assert_eq!((hop.user.as_str(), hop.address.as_str(), hop.port), ("j", "gw", 2));
        assert!(hop.known_hosts.contains(&PathBuf::from("/lab/known_hosts")));
        assert!(hop.keys.contains(&PathBuf::from("/lab/id")));
        assert_eq!(hop.host_key_policy, HostKeyPolicy::AcceptNew);
        assert_eq!(hop.label(), "j@gw:2");
    }
}
