//! Strict variables, before the run: a literal `h.vars.NAME` that the hosts running the code do not all
//! define, or a `vars.NAME` that neither the inventory's `all` vars nor `-e` define, would fail those hosts at
//! run time (a missing key is an error, see `engine::VarsMap`). Judged by the same rule as template variables
//! (`template_checks::targets`); a read the code guards itself (the name also appears as a string in the same
//! closure or at the top level: `"x" in h.vars`, `h.vars.get("x", ...)`) is left alone.

use std::path::Path;

use super::finding::{Finding, did_you_mean_hint};
use super::rules::Rule;
use super::script_checks::{HostSet, VarRead};
use super::task_targets::{Targets, targets};
use crate::inventory::{Inventory, InventoryHost};

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
        return hosts.iter().find_map(|host| {
            let (missing, holder) = undefined_reference(inventory, host, &read.name)?;
            let at = host.origins.get(&holder).map(|at| format!(", defined at {at}")).unwrap_or_default();
            Some(
                Finding::new(
                    file,
                    read.line,
                    read.column,
                    Rule::UndefinedInventoryVariable,
                    format!(
                        "`{}` refers to `{missing}`, which is not defined for {} (in the value of `{holder}`{at})",
                        read.name, host.name
                    ),
                )
                .hint(format!("define `{missing}` for the host, or give the reference a default: `{{{{ {missing} | default(...) }}}}`")),
            )
        });
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

/// The first name the value of `name` reads on every render (following references to other variables of the
/// host) that the host does not define, with the variable whose value reads it: what would fail when the
/// playbook reads `name`. Ansible's names for a host and its `ansible_*` facts are always there.
pub(super) fn undefined_reference(inventory: &Inventory, host: &InventoryHost, name: &str) -> Option<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut pending = vec![name.to_string()];
    while let Some(current) = pending.pop() {
        if !seen.insert(current.clone()) {
            continue;
        }
        let Some(value) = host.vars.get(&current) else { continue };
        let mut texts = Vec::new();
        template_strings(value, &mut texts);
        for text in texts.into_iter().filter(|text| !inventory.is_inline_vault_value(text)) {
            for read in always_read(text) {
                if host.vars.contains_key(&read) {
                    pending.push(read.clone());
                } else if !read.starts_with("ansible_")
                    && !crate::template::CONTEXT_NAMES.contains(&read.as_str())
                    && read != "vars"
                {
                    return Some((read, current));
                }
            }
        }
    }
    None
}

/// The names a value's template reads on every render. The same text is usually every host's (a group_vars
/// value): compiled once per run, not once per host.
fn always_read(text: &str) -> Vec<String> {
    static KNOWN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>> =
        std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(names) = known.lock().expect("template cache").get(text) {
        return names.clone();
    }
    let names: Vec<String> = crate::template::usage("value", text)
        .map(|usage| {
            usage.variables.into_iter().filter(|(_, used)| used.always.is_some()).map(|(name, _)| name).collect()
        })
        .unwrap_or_default();
    known.lock().expect("template cache").insert(text.to_string(), names.clone());
    names
}

fn template_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(text) if text.contains("{{") || text.contains("{%") => out.push(text),
        serde_json::Value::Array(items) => items.iter().for_each(|item| template_strings(item, out)),
        serde_json::Value::Object(map) => map.values().for_each(|item| template_strings(item, out)),
        _ => {}
    }
}
