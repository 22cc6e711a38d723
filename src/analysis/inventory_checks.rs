//! The inventory given with `-i`: loaded by the same loader `run` uses (its errors carry line:col), then
//! checked for what loads fine but is probably wrong — hosts in no group, two hosts at one address, secrets
//! written into it — and used to check the group and host names playbooks spell out.

use std::collections::HashMap;
use std::path::Path;

use super::finding::{Finding, did_you_mean_hint};
use super::rules::Rule;
use super::script_checks::NameRef;
use super::secret_names::{is_literal_secret_value, is_secret_name};
use crate::inventory::{Inventory, Position};

/// Loads the inventory; on failure, the finding that says why.
/// The inventory as `run` sees it for a playbook in `playbook_dir`: with the group_vars/host_vars beside it
/// and `-e` on top (`Inventory::add_run_layers`, the same call run makes).
pub fn load(path: &Path, playbook_dir: &Path, extra_vars: &[String]) -> Result<Inventory, Finding> {
    let as_finding = |error: crate::inventory::InventoryError| {
        let (line, column) = error.position().map(|p| (p.line, p.column)).unwrap_or((0, 0));
        Finding::new(error.path().unwrap_or(path), line, column, Rule::InventoryError, error.message())
    };
    let mut inventory = Inventory::load(path).map_err(as_finding)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    inventory.add_run_layers(playbook_dir, extra_vars, &cwd).map_err(as_finding)?;
    Ok(inventory)
}

pub fn check(inventory: &Inventory) -> Vec<Finding> {
    let path = inventory.path();
    let at = |position: Option<Position>| position.map(|p| (p.line, p.column)).unwrap_or((0, 0));
    let mut findings = Vec::new();
    let mut addresses: HashMap<(String, Option<u16>), String> = HashMap::new();
    for host in inventory.hosts() {
        let (line, column) = at(inventory.host_position(&host.name));
        if host.groups.iter().all(|group| group == "ungrouped") {
            findings.push(
                Finding::new(path, line, column, Rule::UngroupedHost, format!("host `{}` is in no group", host.name))
                    .hint("only hosts() reaches it; list it under a group's `hosts:`"),
            );
        }
        let key = (host.connection.address.clone(), host.connection.port);
        match addresses.get(&key) {
            Some(first) => findings.push(
                Finding::new(
                    path,
                    line,
                    column,
                    Rule::DuplicateAddress,
                    format!(
                        "host `{}` has the same address ({}) as host `{first}`",
                        host.name,
                        match key.1 {
                            Some(port) => format!("{}:{port}", key.0),
                            None => key.0.clone(),
                        }
                    ),
                )
                .hint("two inventory names for one machine run every task on it twice"),
            ),
            None => {
                addresses.insert(key, host.name.clone());
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    // The first source's vars, then those of the other files of a folder or of further -i sources.
    let written = inventory.written_vars().into_iter().map(|(name, value, position)| (path, name, value, position));
    for (path, name, value, position) in written.chain(inventory.more_written_vars()) {
        if let serde_json::Value::String(text) = value
            && is_secret_name(name)
            && is_literal_secret_value(text)
            && !inventory.is_vault_secret(text)
            && seen.insert((path, name, position.map(|p| (p.line, p.column))))
        {
            let (line, column) = at(position);
            findings.push(
                Finding::new(path, line, column, Rule::LiteralSecret, format!("`{name}` is a secret written into the inventory"))
                    .hint(format!(
                        "keep it out of the file: `{name}_secret: {name}` and secret(vars.{name}_secret) in the playbook, with RUNBOOK_SECRET_{} set",
                        name.to_uppercase()
                    )),
            );
        }
    }
    findings
}

/// Literal `group("x")` / `h.in_group("x")` and `host("x")` names against the inventory.
pub fn check_names(file: &Path, groups: &[NameRef], hosts: &[NameRef], inventory: &Inventory) -> Vec<Finding> {
    let group_names = inventory.group_names();
    let mut findings = Vec::new();
    for group in groups {
        if !group_names.contains(&group.name.as_str()) {
            findings.push(
                Finding::new(
                    file,
                    group.line,
                    group.column,
                    Rule::UnknownGroup,
                    format!("no group `{}` in {}", group.name, inventory.path().display()),
                )
                .maybe_hint(did_you_mean_hint(&group.name, group_names.iter().copied())),
            );
        }
    }
    for host in hosts {
        if inventory.host(&host.name).is_none() {
            findings.push(
                Finding::new(
                    file,
                    host.line,
                    host.column,
                    Rule::UnknownHost,
                    format!("no host `{}` in {}", host.name, inventory.path().display()),
                )
                .maybe_hint(did_you_mean_hint(&host.name, inventory.hosts().map(|h| h.name.as_str()))),
            );
        }
    }
    findings
}
