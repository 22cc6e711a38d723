//! Which inventory hosts a task's code runs on, as the template and variable checks both need to know (each
//! checks a template or a read against those hosts' variables). Its own file so neither check imports the other.

use super::script_checks::HostSet;
use crate::inventory::{Inventory, InventoryHost};

/// The hosts a task's code says it runs on, whether each of them must satisfy a check (`every`: the target is
/// known) or only some (an unknown target: any inventory host might run it), and how to name them.
pub struct Targets<'i> {
    pub hosts: Vec<&'i InventoryHost>,
    pub every: bool,
    pub who: String,
}

/// One rule for templates and variable reads alike: `hosts()` is every host (after --limit), `group("x")` its
/// hosts (after --limit), `host("x")` that host (reachable outside --limit, as at run time). `None` when the
/// target names nothing the inventory has (reported by the unknown-group/host rules) or is empty.
pub fn targets<'i>(inventory: &'i Inventory, selected: Option<&[String]>, set: &HostSet) -> Option<Targets<'i>> {
    let limited = |host: &&InventoryHost| selected.is_none_or(|names| names.contains(&host.name));
    let (hosts, every, who): (Vec<&InventoryHost>, bool, String) = match set {
        HostSet::All => (inventory.hosts().filter(limited).collect(), true, "the hosts of `hosts()`".to_string()),
        HostSet::Group(group) => (
            inventory.group_hosts(group)?.into_iter().filter(limited).collect(),
            true,
            format!("the hosts of group `{group}`"),
        ),
        HostSet::Host(name) => (vec![inventory.host(name)?], true, format!("host `{name}`")),
        HostSet::Unknown => (inventory.hosts().collect(), false, "any host".to_string()),
    };
    (!hosts.is_empty()).then_some(Targets { hosts, every, who })
}
