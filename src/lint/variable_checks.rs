//! Strict variables, before the run: a literal `h.vars.NAME` that the hosts running the code do not all
//! define, or a `vars.NAME` that neither the inventory's `all` vars nor `-e` define, would fail those hosts at
//! run time (a missing key is an error, see `engine::VarsMap`). Judged by the same rule as template variables
//! (`template_checks::targets`); a read the code guards itself (the name also appears as a string in the same
//! closure or at the top level: `"x" in h.vars`, `h.vars.get("x", ...)`) is left alone.

use std::path::Path;

use super::lint_finding::{Finding, did_you_mean_hint};
use super::rules::Rule;
use super::script_checks::{HostSet, VarRead};
use super::template_checks::{Targets, targets};
use crate::inventory::Inventory;

pub fn check(file: &Path, reads: &[VarRead], inventory: &Inventory, selected: Option<&[String]>) -> Vec<Finding> {
    let global = inventory.global_vars();
    let mut findings = Vec::new();
    for read in reads {
        let finding = match &read.hosts {
            None => (!global.contains_key(&read.name)).then(|| {
                Finding::new(
                    file,
                    read.line,
                    read.column,
                    Rule::UndefinedInventoryVariable,
                    format!("`vars.{}` is not defined: no `all` var or -e sets it", read.name),
                )
                .hint(
                    did_you_mean_hint(&read.name, global.keys().map(String::as_str))
                        .map(|near| format!("{near} (an optional value: `vars.get(\"{}\", default)`)", read.name))
                        .unwrap_or_else(|| {
                            format!("an optional value is read with `vars.get(\"{}\", default)`", read.name)
                        }),
                )
            }),
            Some(set) => host_read(file, read, inventory, selected, set),
        };
        findings.extend(finding);
    }
    findings
}

fn host_read(
    file: &Path,
    read: &VarRead,
    inventory: &Inventory,
    selected: Option<&[String]>,
    set: &HostSet,
) -> Option<Finding> {
    // Ansible's names for a host are in every h.vars (the `ansible_*` facts gathered on first read).
    if read.name.starts_with("ansible_")
        || ["inventory_hostname", "inventory_hostname_short", "group_names"].contains(&read.name.as_str())
    {
        return None;
    }
    let Targets { hosts, every, who } = targets(inventory, selected, set)?;
    let missing: Vec<&str> =
        hosts.iter().filter(|host| !host.vars.contains_key(&read.name)).map(|host| host.name.as_str()).collect();
    let undefined = if every { !missing.is_empty() } else { missing.len() == hosts.len() };
    if !undefined {
        return None;
    }
    let whom = if every && missing.len() < hosts.len() { format!("{} (one of {who})", missing[0]) } else { who };
    let near = did_you_mean_hint(&read.name, hosts.iter().flat_map(|host| host.vars.keys().map(String::as_str)));
    let optional = format!("an optional value is read with `h.vars.get(\"{}\", default)`", read.name);
    Some(
        Finding::new(
            file,
            read.line,
            read.column,
            Rule::UndefinedInventoryVariable,
            format!("`{}` is not defined for {whom}", read.name),
        )
        .hint(match near {
            Some(near) => format!("{near} ({optional})"),
            None => optional,
        }),
    )
}
