//! The variables Ansible gives every template (`inventory_hostname`, `group_names`, `groups`, `hostvars`,
//! `ansible_managed`, `omit`, `ansible_facts` and the `ansible_*` fact names), computed from runbook's view of
//! the inventory and the facts it gathered, so templates from Ansible roles find the names they read.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// Names every template context has, whatever the host (what the pre-flight may assume).
pub const CONTEXT_NAMES: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "host",
    "groups",
    "group_names",
    "hostvars",
    "facts",
    "ansible_managed",
    "omit",
    "playbook_dir",
    "template_host",
    "template_path",
    "template_fullpath",
    "template_destpath",
];

/// Ansible's `omit` placeholder: fixed for a run, never a plausible value.
pub fn omit() -> &'static str {
    static OMIT_VALUE: OnceLock<String> = OnceLock::new();
    OMIT_VALUE.get_or_init(|| {
        use sha2::Digest;
        let seed: [u8; 32] = rand::random();
        format!("__omit_place_holder__{}", &hex::encode(sha2::Sha256::digest(seed))[..40])
    })
}

/// What one host looks like to the variables below.
pub struct HostView<'a> {
    pub name: &'a str,
    /// Group name → members, in inventory order (`all` included).
    pub groups: &'a indexmap::IndexMap<String, Vec<String>>,
    /// Every host's vars, by name (what `hostvars[name]` shows).
    pub hostvars: Map<String, Value>,
    /// runbook's gathered facts (`h.facts()`), if gathered.
    pub facts: Option<Value>,
}

/// Ansible's variables for a host; the caller adds them under its own vars (a var of the same name wins for
/// `ansible_managed`, as in Ansible).
pub fn ansible_variables(view: &HostView) -> Map<String, Value> {
    let mut vars = Map::new();
    vars.insert("inventory_hostname".into(), json!(view.name));
    vars.insert("inventory_hostname_short".into(), json!(view.name.split('.').next().unwrap_or(view.name)));
    let mut group_names: Vec<&String> = view
        .groups
        .iter()
        .filter(|(group, members)| {
            group.as_str() != "all" && group.as_str() != "ungrouped" && members.iter().any(|m| m == view.name)
        })
        .map(|(group, _)| group)
        .collect();
    group_names.sort();
    vars.insert("group_names".into(), json!(group_names));
    let mut groups: Map<String, Value> = view.groups.iter().map(|(g, members)| (g.clone(), json!(members))).collect();
    if !groups.contains_key("all") {
        groups.insert("all".into(), json!(view.hostvars.keys().collect::<Vec<_>>()));
    }
    vars.insert("groups".into(), Value::Object(groups));
    vars.insert("hostvars".into(), Value::Object(view.hostvars.clone()));
    vars.insert("ansible_managed".into(), json!("Ansible managed"));
    vars.insert("omit".into(), json!(omit()));
    if let Some(Value::Object(facts)) = &view.facts {
        let ansible_facts = ansible_facts(facts);
        for (key, value) in &ansible_facts {
            vars.insert(format!("ansible_{key}"), value.clone());
        }
        vars.insert("ansible_facts".into(), Value::Object(ansible_facts));
    }
    vars
}

/// runbook's facts under Ansible's fact names (`distribution`, `os_family`, `default_ipv4`, ...), with the values
/// Ansible's `setup` reports: where its rules differ from runbook's own facts, gathering keeps Ansible's value
/// under `ansible` (see `primitives::facts`), and that one is used.
pub fn ansible_facts(facts: &Map<String, Value>) -> Map<String, Value> {
    let text = |key: &str| facts.get(key).map(value_text).unwrap_or_default();
    let own = facts.get("ansible").and_then(Value::as_object);
    let ansible = |key: &str| own.and_then(|own| own.get(key)).cloned();
    let mut out = Map::new();
    let os_id = text("os_id");
    let distribution = match os_id.as_str() {
        "debian" => "Debian".to_string(),
        "ubuntu" => "Ubuntu".to_string(),
        "centos" => "CentOS".to_string(),
        "rocky" => "Rocky".to_string(),
        "rhel" => "RedHat".to_string(),
        "almalinux" => "AlmaLinux".to_string(),
        "fedora" => "Fedora".to_string(),
        "ol" => "OracleLinux".to_string(),
        other => capitalize(other),
    };
    // Ansible's OS_FAMILY map; a distribution it does not list is its own family.
    let family = match text("os_family").as_str() {
        "debian" => "Debian".to_string(),
        "redhat" => "RedHat".to_string(),
        _ => distribution.clone(),
    };
    let version = ansible("distribution_version").map(|v| value_text(&v)).unwrap_or_else(|| text("os_version"));
    out.insert("distribution".into(), json!(distribution));
    out.insert("distribution_version".into(), json!(version));
    out.insert("distribution_major_version".into(), json!(version.split('.').next().unwrap_or_default()));
    out.insert("distribution_release".into(), ansible("distribution_release").unwrap_or_else(|| json!("NA")));
    out.insert("os_family".into(), json!(family));
    out.insert("system".into(), json!("Linux"));
    out.insert("kernel".into(), json!(text("kernel")));
    out.insert("architecture".into(), json!(text("arch")));
    out.insert("hostname".into(), json!(text("hostname").split('.').next().unwrap_or_default()));
    out.insert("nodename".into(), json!(text("hostname")));
    out.insert("fqdn".into(), json!(text("fqdn")));
    out.insert("pkg_mgr".into(), json!(text("pkg_mgr")));
    out.insert("service_mgr".into(), json!(text("init")));
    out.insert("virtualization_type".into(), ansible("virtualization_type").unwrap_or_else(|| json!(text("virt"))));
    out.insert(
        "processor_vcpus".into(),
        ansible("processor_vcpus").or_else(|| facts.get("cpus").cloned()).unwrap_or(json!(1)),
    );
    out.insert("memtotal_mb".into(), facts.get("mem_mb").cloned().unwrap_or(json!(0)));
    let default_ipv4 = ansible("default_ipv4")
        .unwrap_or_else(|| json!({ "address": text("default_ipv4"), "interface": text("default_iface") }));
    out.insert("default_ipv4".into(), default_ipv4);
    out
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_sees_its_groups_sorted_and_its_short_name() {
        let mut groups = indexmap::IndexMap::new();
        groups.insert("all".to_string(), vec!["web1.example.com".to_string(), "db1".to_string()]);
        groups.insert("web".to_string(), vec!["web1.example.com".to_string()]);
        groups.insert("ungrouped".to_string(), vec![]);
        groups.insert("app".to_string(), vec!["web1.example.com".to_string()]);
        let facts = json!({"os_id": "ubuntu", "os_family": "debian", "os_version": "22.04", "default_ipv4": "10.0.0.5",
            "default_iface": "eth0"});
        let view = HostView { name: "web1.example.com", groups: &groups, hostvars: Map::new(), facts: Some(facts) };
        let vars = ansible_variables(&view);
        assert_eq!(vars["inventory_hostname_short"], "web1");
        assert_eq!(vars["group_names"], json!(["app", "web"]));
        assert_eq!(vars["ansible_distribution"], "Ubuntu");
        assert_eq!(vars["ansible_os_family"], "Debian");
        assert_eq!(vars["ansible_distribution_major_version"], "22");
        assert_eq!(vars["ansible_facts"]["default_ipv4"]["address"], "10.0.0.5");
        assert!(vars["omit"].as_str().unwrap().starts_with("__omit_place_holder__"));
    }
}
