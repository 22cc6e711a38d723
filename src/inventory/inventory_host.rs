//! One host as a playbook sees it: its name, its variables with every layer merged, its groups, how to reach it.

use indexmap::IndexMap;

use super::connection_settings::ConnectionSettings;

/// A host with everything resolved. Built by [`super::Inventory`]; cheap to clone and hand to host closures.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryHost {
    pub name: String,
    /// Merged in Ansible's order: `all` < group vars (parent before child, then name) < `group_vars/` files < host vars
    /// < `host_vars/` files < extra vars.
    pub vars: IndexMap<String, serde_json::Value>,
    /// Every group the host is in, ancestors included, `all` excluded, in inventory order.
    pub groups: Vec<String>,
    pub connection: ConnectionSettings,
    /// Where each variable's winning value was written (`path:line`, or `-e`): what an error in resolving the
    /// value points at.
    pub origins: std::collections::HashMap<String, String>,
}

impl InventoryHost {
    /// Whether the host is in `group` (directly or through a child group). Every host is in `all`.
    pub fn in_group(&self, group: &str) -> bool {
        group == "all" || self.groups.iter().any(|name| name == group)
    }
}
