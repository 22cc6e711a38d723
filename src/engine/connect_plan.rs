//! How the engine turns an inventory host into the transport's [`ConnectOptions`]: the host's own variables,
//! the run's settings, and the path to it — jump hosts named in the inventory are reached as those hosts
//! (their address, user, port, key and known_hosts), any other hop as ssh would reach it.

use std::time::Duration;

use crate::inventory::{Inventory, InventoryHost};
use crate::report::Redactor;
use crate::transport::{Become, ConnectOptions, HostKeyPolicy, JumpPool, parse_jump_chain};

/// A chain of inventory hosts each naming the next as its jump host must end.
const MAX_DEPTH: usize = 8;

/// The run-wide part of every host's connection.
#[derive(Clone)]
pub struct ConnectSettings {
    pub host_key_policy: HostKeyPolicy,
    pub connect_timeout: Duration,
    pub connect_retries: u32,
    pub jumps: JumpPool,
    /// The login password (`--ask-pass`, else RUNBOOK_SSH_PASSWORD).
    pub ssh_password: Option<String>,
    /// The sudo password for hosts that name no secret of their own (`--ask-become-pass`,
    /// RUNBOOK_BECOME_PASSWORD).
    pub become_password: Option<String>,
    /// Every password used is added here, so no output, log or diff can show it.
    pub redactor: Redactor,
}

/// A secret by name, as `secret()` in a playbook finds it: RUNBOOK_SECRET_<NAME>, else a global variable.
fn named_secret(inventory: &Inventory, name: &str) -> Option<String> {
    let env_name = format!("RUNBOOK_SECRET_{}", name.to_uppercase().replace(['-', '.'], "_"));
    std::env::var(env_name).ok().filter(|value| !value.is_empty()).or_else(|| match inventory.global_vars().get(name) {
        Some(serde_json::Value::String(text)) if !text.is_empty() => Some(text.clone()),
        _ => None,
    })
}

pub fn connect_options(inventory: &Inventory, host: &InventoryHost, settings: &ConnectSettings) -> ConnectOptions {
    options_at_depth(inventory, host, settings, 0)
}

fn options_at_depth(
    inventory: &Inventory,
    host: &InventoryHost,
    settings: &ConnectSettings,
    depth: usize,
) -> ConnectOptions {
    let connection = &host.connection;
    let (address, user, key, known_hosts) =
        (&connection.address, connection.user.as_deref(), connection.key.clone(), connection.known_hosts.clone());
    let mut options = match &connection.ssh_config {
        // ssh's -F from the inventory's ssh arguments: that file instead of ~/.ssh/config.
        Some(file) => {
            ConnectOptions::resolve_with_ssh_config(&host.name, address, user, connection.port, key, known_hosts, file)
        }
        None => ConnectOptions::resolve(&host.name, address, user, connection.port, key, known_hosts),
    };
    // The ssh arguments' keys and known_hosts files come right after the inventory's own, as ssh orders them.
    let after_key = usize::from(connection.key.is_some());
    for (index, key) in connection.identity_files.iter().enumerate() {
        options.keys.insert(after_key + index, key.clone());
    }
    let after_known = usize::from(connection.known_hosts.is_some());
    for (index, file) in connection.known_hosts_files.iter().enumerate() {
        options.known_hosts.insert(after_known + index, file.clone());
    }
    options.host_key_policy = connection.host_key_policy.unwrap_or(settings.host_key_policy);
    options.connect_timeout = settings.connect_timeout;
    options.connect_retries = settings.connect_retries;
    options.jumps = settings.jumps.clone();
    options.become_root = connection.become_;
    let become_password = match &connection.become_password_secret {
        Some(name) => named_secret(inventory, name),
        None => settings.become_password.clone(),
    };
    options.become_ =
        Become { user: connection.become_user.clone(), password: become_password, method: connection.become_method };
    if let Some(password) = &settings.ssh_password {
        options.password = Some(password.clone());
    }
    for secret in [&options.become_.password, &options.password].into_iter().flatten() {
        settings.redactor.add(secret);
    }
    if let Some(chain) = &connection.jump {
        // Checked when the inventory was read; a chain that fails here has no hops.
        let hops = parse_jump_chain(chain).unwrap_or_default();
        let hops = hops
            .iter()
            .map(|hop| match inventory.host(&hop.host) {
                Some(jump_host) if jump_host.name != host.name && depth < MAX_DEPTH => {
                    let mut jump = options_at_depth(inventory, jump_host, settings, depth + 1);
                    jump.become_root = false;
                    if let Some(user) = &hop.user {
                        jump.user = user.clone();
                    }
                    if let Some(port) = hop.port {
                        jump.port = port;
                    }
                    jump
                }
                _ => ConnectOptions::for_hop(hop, &options),
            })
            .collect();
        options = options.through(hops);
    } else if let Some(command) = &connection.proxy_command {
        options.jump = None;
        options.proxy_command = Some(command.clone());
    }
    options.inherit_policy(&options.clone());
    options
}
