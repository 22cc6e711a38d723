//! The inventory: which hosts exist, how they are grouped, what variables each one sees and how to reach it.
//!
//! The file has Ansible's YAML-inventory shape (`all:` → `hosts:`, `children:`, `vars:`) so an existing
//! kubespray or kubeasz inventory loads as it is. Loading resolves everything up front — group membership,
//! variable precedence, connection settings — so the engine never re-derives them and every mistake in the
//! file is reported before any host is touched, with `file:line:col`.

mod connection;
mod extra_vars;
mod host;
mod host_key;
mod host_pattern;
#[allow(clippy::module_inception)]
mod inventory;
mod inventory_error;
mod yaml_source;

pub use connection::{Connection, ConnectionError};
pub use extra_vars::{merge_extra_vars, parse_extra_vars};
pub use host::Host;
pub use inventory::Inventory;
pub use inventory_error::{InventoryError, Position};
pub use yaml_source::Vars;

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
