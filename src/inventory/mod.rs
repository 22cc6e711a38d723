//! The inventory: which hosts exist, how they are grouped, what variables each one sees and how to reach it.
//!
//! The file has Ansible's YAML-inventory shape (`all:` → `hosts:`, `children:`, `vars:`) so an existing
//! kubespray or kubeasz inventory loads as it is. Loading resolves everything up front — group membership,
//! variable precedence, connection settings — so the engine never re-derives them and every mistake in the
//! file is reported before any host is touched, with `file:line:col`.
//!
//! The rules, in one place:
//! - A group has only `hosts`, `children` and `vars`; anything else is an error at the key. Groups at the top
//!   level besides `all` are children of `all`. A group may be listed under several parents; cycles are errors.
//! - A host key may be `name`, `name:port`, `[v6addr]:port`, or a range `node[01:10]` / `db-[a:c]` / `h[0:9:2]`.
//!   A host listed in several groups is one host; its host-level vars are merged in file order.
//!   A host only under `all` is in `ungrouped` (as in Ansible).
//! - Variables, in Ansible's order: `all` < `group_vars/all` < other groups (by depth from `all`, parent before
//!   child, then `ansible_group_priority`, then name) < their `group_vars/` files < host < `host_vars/` < `-e`;
//!   the folders beside the playbook win over those beside the inventory at each step.
//! - INI inventories (`[group]`, `[group:vars]`, `[group:children]`) load into the same model, values typed as
//!   Ansible's INI plugin types them.
//! - YAML is read strictly: only `true`/`false` are booleans (`yes`, `on` stay strings), `0755` stays a
//!   string, duplicate keys are errors, alias expansion and document size are capped.
//! - Connection: `address`|`ansible_host`, `user`|`ansible_user`, `port`|`ansible_port`,
//!   `key`|`ansible_ssh_private_key_file`, `known_hosts`|`ansible_ssh_known_hosts_file`,
//!   `become`|`ansible_become`, `become_user`|`ansible_become_user` (runbook's name wins when both are set);
//!   OpenSSH options in `ansible_ssh_args`/`ansible_ssh_common_args`/`ansible_ssh_extra_args` are honoured or
//!   refused by name (`ssh_args`), never dropped.
//! - `-i` takes a file, a folder (every inventory file in it, as Ansible's directory source) or `a,b,` host
//!   lists, several times; the sources merge into one inventory (`inventory_sources`).

mod connection_settings;
mod extra_vars;
mod host_key;
mod host_pattern;
mod ini_source;
#[allow(clippy::module_inception)]
mod inventory;
mod inventory_error;
mod inventory_host;
mod inventory_sources;
mod shard;
mod ssh_args;
mod vars_files;
mod yaml_source;

pub use connection_settings::{ConnectionDefaults, ConnectionError, ConnectionSettings};
pub use extra_vars::{merge_extra_vars, parse_extra_vars};
pub use inventory::{Inventory, VarsStage};
pub use inventory_error::{InventoryError, Position};
pub use inventory_host::InventoryHost;
pub use shard::{BadShard, Shard, shard_of};
pub use yaml_source::{NOT_OPENED as VAULT_NOT_OPENED, Vars};

/// "a list", "a number", ...: for messages about a value of the wrong type.
pub(crate) fn describe_value(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "nothing (null)",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}
