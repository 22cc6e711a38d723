//! The lab's view of an inventory: which hosts to boot, where each lands on the lab subnet, and the inventory
//! file a playbook run against the lab uses.
//!
//! The hosts, their groups and their addresses come from `crate::inventory`, the loader `runbook run` uses, so
//! host ranges, INI files, `group_vars/`/`host_vars/` and the `address`-over-`ansible_host` precedence are the
//! same in the lab as in a run, and a broken inventory fails with the loader's `file:line:col`. The lab only
//! moves the addresses onto its bridge.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::lab_error::LabError;
use super::lab_subnet::LabSubnet;
use crate::inventory::Inventory;

/// Connection variables the lab sets itself; a source inventory's own values would point at the real fleet.
const CONNECTION_VARS: &[&str] = &[
    "user",
    "ansible_user",
    "port",
    "ansible_port",
    "key",
    "ansible_ssh_private_key_file",
    "known_hosts",
    "ansible_ssh_known_hosts_file",
    "ansible_password",
    "ansible_ssh_pass",
];

/// The two names of a host's address; `runbook run` takes `address` when both are set.
const ADDRESS_VARS: &[&str] = &["address", "ansible_host"];

/// First host number used when a host's own host part cannot be kept.
const FIRST_ALLOCATED: u32 = 10;
/// Host numbers of anonymous hosts (`--hosts N`) start here: lab-h01 is .11, lab-h02 .12, ...
const FIRST_ANONYMOUS: u32 = 11;

/// One host of a source inventory, as the lab sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceHost {
    pub name: String,
    pub address: Option<Ipv4Addr>,
}

/// A source inventory as `runbook run` loads it, and its hosts in inventory order.
#[derive(Debug, Clone)]
pub struct SourceInventory {
    pub inventory: Inventory,
    pub hosts: Vec<SourceHost>,
}

impl SourceInventory {
    pub fn load(path: &Path) -> Result<Self, LabError> {
        // The lab inventory copies the variables into a file of its own: vaulted ones stay closed and are left
        // out (pass them to the run on the lab with `-e @vault.yml --vault-password-file ...`).
        let inventory = crate::vault::without_opening(|| Inventory::load(path)).map_err(LabError::Loader)?;
        Self::from_inventory(inventory)
            .map_err(|message| LabError::Inventory { path: path.to_path_buf(), message: message.into() })
    }

    pub fn from_inventory(inventory: Inventory) -> Result<Self, &'static str> {
        let hosts: Vec<SourceHost> = inventory
            .hosts()
            // The address `runbook run` connects to; a DNS name cannot be kept, so that host gets an allocated one.
            .map(|host| SourceHost { name: host.name.clone(), address: host.connection.address.parse().ok() })
            .collect();
        if hosts.is_empty() {
            return Err("the inventory has no hosts");
        }
        Ok(SourceInventory { inventory, hosts })
    }
}

/// Where each host lands on the lab subnet, and how any address of the source hosts' /24s maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressMap {
    /// Host name → lab address, in inventory order.
    pub hosts: Vec<(String, Ipv4Addr)>,
    /// Source address → lab address of each host that had one.
    by_source: BTreeMap<Ipv4Addr, Ipv4Addr>,
    /// The /24 prefixes (first three octets) of the source hosts' addresses.
    source_prefixes: HashSet<[u8; 3]>,
    subnet: LabSubnet,
}

impl AddressMap {
    /// Keeps each host's last octet where it is free and usable on the lab subnet; the others (no address, a
    /// clash, the bridge's .1) get free addresses from .10 up.
    pub fn new(hosts: &[SourceHost], subnet: LabSubnet) -> Result<Self, LabError> {
        if hosts.len() > subnet.room() {
            return Err(LabError::SubnetTooSmall {
                subnet: subnet.to_string(),
                room: subnet.room(),
                needed: hosts.len(),
            });
        }
        let mut taken: HashSet<u32> = HashSet::from([1]);
        let mut kept: Vec<Option<Ipv4Addr>> = Vec::with_capacity(hosts.len());
        for host in hosts {
            let wanted = host.address.map(|address| u32::from(address.octets()[3]));
            let lab = wanted.filter(|n| !taken.contains(n)).and_then(|n| subnet.host(n));
            if let Some(lab) = lab {
                taken.insert(host_number(subnet, lab));
            }
            kept.push(lab);
        }
        let mut next = FIRST_ALLOCATED;
        let mut mapped = Vec::with_capacity(hosts.len());
        let mut by_source = BTreeMap::new();
        for (host, lab) in hosts.iter().zip(kept) {
            let lab = match lab {
                Some(lab) => lab,
                None => {
                    while taken.contains(&next) {
                        next += 1;
                    }
                    taken.insert(next);
                    subnet.host(next).expect("room was checked")
                }
            };
            if let Some(source) = host.address {
                by_source.insert(source, lab);
            }
            mapped.push((host.name.clone(), lab));
        }
        let source_prefixes = hosts
            .iter()
            .filter_map(|host| host.address)
            .map(|address| {
                let [a, b, c, _] = address.octets();
                [a, b, c]
            })
            .collect();
        Ok(AddressMap { hosts: mapped, by_source, source_prefixes, subnet })
    }

    /// `count` anonymous hosts lab-h01.. with addresses from .11 up.
    pub fn anonymous(count: u32, subnet: LabSubnet) -> Result<Self, LabError> {
        let needed = count as usize;
        if needed == 0 || needed + (FIRST_ANONYMOUS as usize - 2) > subnet.room() {
            return Err(LabError::SubnetTooSmall {
                subnet: subnet.to_string(),
                room: subnet.room().saturating_sub(FIRST_ANONYMOUS as usize - 2),
                needed,
            });
        }
        let width = count.to_string().len().max(2);
        let hosts = (0..count)
            .map(|i| {
                let name = format!("lab-h{:0width$}", i + 1);
                (name, subnet.host(FIRST_ANONYMOUS + i).expect("room was checked"))
            })
            .collect();
        Ok(AddressMap { hosts, by_source: BTreeMap::new(), source_prefixes: HashSet::new(), subnet })
    }

    /// Hosts placed already (a running lab whose inventory is written again from `source`): each keeps its
    /// running address, and the source's addresses and /24s map as in [`AddressMap::new`], so address-valued
    /// variables (a VIP) map too.
    pub fn running(hosts: Vec<(String, Ipv4Addr)>, source: &[SourceHost], subnet: LabSubnet) -> Self {
        let mut by_source = BTreeMap::new();
        let mut source_prefixes = HashSet::new();
        for host in source {
            let Some(address) = host.address else { continue };
            let [a, b, c, _] = address.octets();
            source_prefixes.insert([a, b, c]);
            if let Some((_, lab)) = hosts.iter().find(|(name, _)| *name == host.name) {
                by_source.insert(address, *lab);
            }
        }
        AddressMap { hosts, by_source, source_prefixes, subnet }
    }

    /// Hosts placed already (a lab booted again as it was): nothing else maps.
    pub fn from_hosts(hosts: Vec<(String, Ipv4Addr)>, subnet: LabSubnet) -> Self {
        AddressMap { hosts, by_source: BTreeMap::new(), source_prefixes: HashSet::new(), subnet }
    }

    pub fn address_of(&self, host: &str) -> Option<Ipv4Addr> {
        self.hosts.iter().find(|(name, _)| name == host).map(|(_, address)| *address)
    }

    /// The lab address for `address` if it lies in one of the source hosts' /24s.
    pub fn map(&self, address: Ipv4Addr) -> Option<Ipv4Addr> {
        if let Some(lab) = self.by_source.get(&address) {
            return Some(*lab);
        }
        let [a, b, c, d] = address.octets();
        if !self.source_prefixes.contains(&[a, b, c]) {
            return None;
        }
        self.subnet.host(u32::from(d))
    }

    /// Every IPv4 literal in `text` that [`AddressMap::map`] knows, replaced.
    pub fn map_text(&self, text: &str) -> String {
        static DOTTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[0-9]+(?:\.[0-9]+)+").expect("regex"));
        DOTTED
            .replace_all(text, |found: &regex::Captures<'_>| {
                let literal = &found[0];
                let lab = literal.parse::<Ipv4Addr>().ok().and_then(|address| self.map(address));
                lab.map_or_else(|| literal.to_string(), |lab| lab.to_string())
            })
            .into_owned()
    }

    fn map_value(&self, value: &mut Value) {
        match value {
            Value::String(text) => *text = self.map_text(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.map_value(item)),
            Value::Object(map) => map.values_mut().for_each(|item| self.map_value(item)),
            _ => {}
        }
    }
}

fn host_number(subnet: LabSubnet, address: Ipv4Addr) -> u32 {
    u32::from(address) - u32::from(subnet.network())
}

/// How the lab's hosts are reached: written into `all: vars:` of the lab inventory.
#[derive(Debug, Clone)]
pub struct LabConnection {
    pub key: String,
    pub known_hosts: String,
}

/// The lab inventory for a source inventory: the same hosts, groups and variables, addresses on the lab subnet.
///
/// Each host carries its variables as the loader merged them (group vars, `group_vars/` and `host_vars/` files
/// included, since the lab inventory lives elsewhere and those folders are not beside it); `all`'s own vars stay
/// under `all: vars:` where a playbook reads them as global vars. Groups keep their members and children.
pub fn lab_inventory(source: &SourceInventory, map: &AddressMap, connection: &LabConnection) -> Value {
    let inventory = &source.inventory;
    let closed = |value: &Value| value.as_str() == Some(crate::inventory::VAULT_NOT_OPENED);
    let mut global: Map<String, Value> = inventory.global_vars().into_iter().filter(|(_, v)| !closed(v)).collect();
    for var in CONNECTION_VARS.iter().chain(ADDRESS_VARS) {
        global.shift_remove(*var);
    }
    let mut hosts = Map::new();
    for host in inventory.hosts() {
        let mut vars: Map<String, Value> =
            host.vars.iter().filter(|(_, v)| !closed(v)).map(|(name, value)| (name.clone(), value.clone())).collect();
        let named: Vec<&str> = ADDRESS_VARS.iter().copied().filter(|var| vars.contains_key(*var)).collect();
        for var in CONNECTION_VARS.iter().chain(ADDRESS_VARS) {
            vars.shift_remove(*var);
        }
        if let Some(address) = map.address_of(&host.name) {
            let names = if named.is_empty() { vec!["address"] } else { named };
            for var in names {
                vars.insert(var.to_string(), Value::String(address.to_string()));
            }
        }
        hosts.insert(host.name.clone(), Value::Object(vars));
    }
    let listed = inventory.list_json(None);
    let mut groups = Map::new();
    for name in inventory.group_names() {
        if name == "all" || name == "ungrouped" {
            continue;
        }
        let mut group = Map::new();
        for part in ["hosts", "children"] {
            if let Some(Value::Array(members)) = listed.get(name).and_then(|entry| entry.get(part)) {
                let members = members.iter().filter_map(Value::as_str).map(|member| (member.to_string(), Value::Null));
                group.insert(part.to_string(), Value::Object(members.collect()));
            }
        }
        groups.insert(name.to_string(), if group.is_empty() { Value::Null } else { Value::Object(group) });
    }
    let mut all = Map::new();
    all.insert("vars".into(), Value::Object(global));
    all.insert("hosts".into(), Value::Object(hosts));
    if !groups.is_empty() {
        all.insert("children".into(), Value::Object(groups));
    }
    let mut document = serde_json::json!({ "all": Value::Object(all) });
    map.map_value(&mut document);
    add_connection_vars(&mut document, connection);
    document
}

/// The lab inventory for anonymous hosts: all of them in group `lab`.
pub fn anonymous_inventory(map: &AddressMap, connection: &LabConnection) -> Value {
    let hosts: Map<String, Value> = map
        .hosts
        .iter()
        .map(|(name, address)| (name.clone(), serde_json::json!({ "address": address.to_string() })))
        .collect();
    let mut document = serde_json::json!({ "all": { "children": { "lab": { "hosts": hosts } } } });
    add_connection_vars(&mut document, connection);
    document
}

fn add_connection_vars(document: &mut Value, connection: &LabConnection) {
    let Value::Object(root) = document else {
        return;
    };
    let all = root.entry("all").or_insert_with(|| Value::Object(Map::new()));
    if !all.is_object() {
        *all = Value::Object(Map::new());
    }
    let vars = all.as_object_mut().expect("object").entry("vars").or_insert_with(|| Value::Object(Map::new()));
    if !vars.is_object() {
        *vars = Value::Object(Map::new());
    }
    let vars = vars.as_object_mut().expect("object");
    vars.insert("user".into(), "root".into());
    vars.insert("key".into(), connection.key.clone().into());
    vars.insert("known_hosts".into(), connection.known_hosts.clone().into());
}

/// The inventory as YAML, with a header saying where it came from.
pub fn to_yaml(document: &Value, header: &str) -> Result<String, LabError> {
    let body = serde_saphyr::to_string(document).map_err(|error| LabError::Command {
        command: "writing the lab inventory".into(),
        message: error.to_string(),
    })?;
    Ok(format!("{header}{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVENTORY: &str = r#"
all:
  vars:
    vip: 172.31.3.188
    ntp: "server 172.31.3.101 iburst"
    user: ops
  children:
    masters:
      hosts:
        m1: {ansible_host: 172.31.3.101}
        m2: {address: 172.31.3.102}
      vars:
        peers: ["172.31.3.101", "172.31.3.102"]
        listen: "172.31.3.104 172.31.3.105"
    nodes:
      hosts:
        n1:
          address: 10.9.9.102
        n2:
        m1:
"#;

    fn parse(text: &str) -> SourceInventory {
        SourceInventory::from_inventory(Inventory::parse(text, Path::new("inventory.yaml")).unwrap()).unwrap()
    }

    fn subnet() -> LabSubnet {
        LabSubnet::parse("10.250.0.0/24").unwrap()
    }

    #[test]
    fn a_running_lab_maps_the_source_addresses_and_subnets() {
        let source = parse(
            "all:\n  hosts:\n    a: {ansible_host: 172.31.3.101}\n    b: {ansible_host: 172.31.3.102}\n  vars:\n    vip: 172.31.3.188\n",
        );
        let running =
            vec![("a".to_string(), Ipv4Addr::new(10, 250, 0, 101)), ("b".into(), Ipv4Addr::new(10, 250, 0, 12))];
        let map = AddressMap::running(running, &source.hosts, subnet());
        assert_eq!(map.map_text("vip 172.31.3.188, b 172.31.3.102"), "vip 10.250.0.188, b 10.250.0.12");
        assert_eq!(map.map_text("elsewhere 172.31.4.1"), "elsewhere 172.31.4.1");
    }

    #[test]
    fn collects_hosts_in_order_with_addresses() {
        let inventory = parse(INVENTORY);
        let names: Vec<_> = inventory.hosts.iter().map(|host| host.name.as_str()).collect();
        assert_eq!(names, ["m1", "m2", "n1", "n2"]);
        assert_eq!(inventory.hosts[0].address, Some(Ipv4Addr::new(172, 31, 3, 101)));
        assert_eq!(inventory.hosts[3].address, None);
    }

    #[test]
    fn keeps_host_part_and_allocates_on_clash_or_absence() {
        let inventory = parse(INVENTORY);
        let map = AddressMap::new(&inventory.hosts, subnet()).unwrap();
        assert_eq!(map.address_of("m1"), Some(Ipv4Addr::new(10, 250, 0, 101)));
        assert_eq!(map.address_of("m2"), Some(Ipv4Addr::new(10, 250, 0, 102)));
        // n1's .102 clashes with m2, n2 has none: both allocated from .10 up.
        assert_eq!(map.address_of("n1"), Some(Ipv4Addr::new(10, 250, 0, 10)));
        assert_eq!(map.address_of("n2"), Some(Ipv4Addr::new(10, 250, 0, 11)));
    }

    #[test]
    fn host_part_one_is_the_bridge() {
        let hosts = [SourceHost { name: "a".into(), address: Some(Ipv4Addr::new(192, 168, 1, 1)) }];
        let map = AddressMap::new(&hosts, subnet()).unwrap();
        assert_eq!(map.address_of("a"), Some(Ipv4Addr::new(10, 250, 0, 10)));
    }

    #[test]
    fn maps_literals_inside_strings_only_in_source_prefixes() {
        let inventory = parse(INVENTORY);
        let map = AddressMap::new(&inventory.hosts, subnet()).unwrap();
        assert_eq!(map.map_text("vip 172.31.3.188/24"), "vip 10.250.0.188/24");
        assert_eq!(map.map_text("172.31.3.104 172.31.3.105"), "10.250.0.104 10.250.0.105");
        assert_eq!(map.map_text("8.8.8.8 and 1.2.3.4.5"), "8.8.8.8 and 1.2.3.4.5");
        // n1's own source address maps to where n1 went, not to its host part.
        assert_eq!(map.map_text("10.9.9.102"), "10.250.0.10");
        assert_eq!(map.map_text("10.9.9.7"), "10.250.0.7");
    }

    #[test]
    fn vaulted_values_are_left_out_of_the_lab_inventory_even_with_a_password_at_hand() {
        let dir = tempfile::tempdir().unwrap();
        let secret = crate::vault::VaultSecret::new("default", "pw");
        let inline: String =
            secret.encrypt(b"inline-plain").unwrap().lines().map(|line| format!("      {line}\n")).collect();
        let path = dir.path().join("hosts.yaml");
        std::fs::write(&path, format!("all:\n  vars:\n    keep: 1\n    pw: !vault |\n{inline}  hosts:\n    h: {{}}\n"))
            .unwrap();
        std::fs::create_dir_all(dir.path().join("group_vars")).unwrap();
        std::fs::write(dir.path().join("group_vars/all.yml"), secret.encrypt(b"file_pw: file-plain\n").unwrap())
            .unwrap();
        let keyring = crate::vault::Keyring::new(vec![secret]);
        let (source, _) = crate::vault::with_keyring(keyring, || SourceInventory::load(&path).unwrap());
        let map = AddressMap::new(&source.hosts, subnet()).unwrap();
        let lab = lab_inventory(&source, &map, &LabConnection { key: "/k".into(), known_hosts: "/kh".into() });
        let text = lab.to_string();
        assert!(!text.contains("plain") && !text.contains("vaulted"), "{text}");
        assert_eq!(lab["all"]["vars"]["keep"], 1);
        assert!(lab["all"]["vars"].get("pw").is_none() && lab["all"]["hosts"]["h"].get("file_pw").is_none(), "{text}");
    }

    #[test]
    fn writes_the_lab_inventory() {
        let inventory = parse(INVENTORY);
        let map = AddressMap::new(&inventory.hosts, subnet()).unwrap();
        let connection = LabConnection { key: "/k".into(), known_hosts: "/kh".into() };
        let lab = lab_inventory(&inventory, &map, &connection);
        let text = to_yaml(&lab, "# lab\n").unwrap();
        let again: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(again, lab);
        assert_eq!(lab["all"]["vars"]["vip"], "10.250.0.188");
        assert_eq!(lab["all"]["vars"]["ntp"], "server 10.250.0.101 iburst");
        assert_eq!(lab["all"]["vars"]["user"], "root");
        assert_eq!(lab["all"]["vars"]["key"], "/k");
        let hosts = &lab["all"]["hosts"];
        assert_eq!(hosts["m1"]["ansible_host"], "10.250.0.101");
        assert_eq!(hosts["m2"]["address"], "10.250.0.102");
        assert_eq!(hosts["m1"]["peers"][1], "10.250.0.102");
        assert_eq!(hosts["m2"]["listen"], "10.250.0.104 10.250.0.105");
        assert_eq!(hosts["n1"]["address"], "10.250.0.10");
        assert_eq!(hosts["n2"]["address"], "10.250.0.11");
        assert!(hosts["m1"].get("user").is_none(), "the source's user must not reach the lab host");

        // Loaded back as `runbook run` loads it: same hosts, groups and lab addresses, reached as root.
        let loaded = Inventory::parse(&text, Path::new("lab.yaml")).unwrap();
        let names: Vec<_> = loaded.hosts().map(|host| host.name.as_str()).collect();
        assert_eq!(names, ["m1", "m2", "n1", "n2"]);
        let m1 = loaded.host("m1").unwrap();
        assert_eq!(m1.groups, ["masters", "nodes"]);
        assert_eq!(m1.connection.address, "10.250.0.101");
        assert_eq!(m1.connection.user.as_deref(), Some("root"));
        assert_eq!(loaded.host("n2").unwrap().connection.address, "10.250.0.11");
        assert_eq!(loaded.host("n2").unwrap().groups, ["nodes"]);
    }

    #[test]
    fn host_ranges_and_address_precedence_are_the_loaders() {
        // `address` wins over `ansible_host` in `runbook run`, so the lab keeps that host's `address` octet.
        let inventory = parse(
            "all:\n  children:\n    web:\n      hosts:\n        web[01:03]:\n          ansible_host: 192.168.7.20\n\
             \x20   db:\n      hosts:\n        db1: {ansible_host: 192.168.7.30, address: 192.168.7.31}\n\
             \x20     vars:\n        vip: 192.168.7.200\n",
        );
        let names: Vec<_> = inventory.hosts.iter().map(|host| host.name.as_str()).collect();
        assert_eq!(names, ["web01", "web02", "web03", "db1"]);
        assert_eq!(inventory.hosts[3].address, Some(Ipv4Addr::new(192, 168, 7, 31)));
        let map = AddressMap::new(&inventory.hosts, subnet()).unwrap();
        assert_eq!(map.address_of("web01"), Some(Ipv4Addr::new(10, 250, 0, 20)));
        assert_eq!(map.address_of("web02"), Some(Ipv4Addr::new(10, 250, 0, 10)));
        assert_eq!(map.address_of("db1"), Some(Ipv4Addr::new(10, 250, 0, 31)));
        let connection = LabConnection { key: "/k".into(), known_hosts: "/kh".into() };
        let lab = lab_inventory(&inventory, &map, &connection);
        assert_eq!(lab["all"]["hosts"]["web03"]["ansible_host"], "10.250.0.11");
        assert_eq!(lab["all"]["hosts"]["db1"]["address"], "10.250.0.31");
        assert_eq!(lab["all"]["hosts"]["db1"]["ansible_host"], "10.250.0.31");
        assert_eq!(lab["all"]["hosts"]["db1"]["vip"], "10.250.0.200");
        let loaded = Inventory::parse(&to_yaml(&lab, "").unwrap(), Path::new("lab.yaml")).unwrap();
        assert_eq!(loaded.select("web").unwrap(), ["web01", "web02", "web03"]);
    }

    #[test]
    fn ini_inventories_load_too() {
        let ini = "[web]\nw1 ansible_host=172.16.5.21\nw2 ansible_host=172.16.5.22 ansible_port=2222\n\n\
                   [web:vars]\nvip=172.16.5.100\n";
        let inventory =
            SourceInventory::from_inventory(Inventory::parse_ini(ini, Path::new("hosts.ini")).unwrap()).unwrap();
        let map = AddressMap::new(&inventory.hosts, subnet()).unwrap();
        assert_eq!(map.address_of("w2"), Some(Ipv4Addr::new(10, 250, 0, 22)));
        let connection = LabConnection { key: "/k".into(), known_hosts: "/kh".into() };
        let lab = lab_inventory(&inventory, &map, &connection);
        assert_eq!(lab["all"]["hosts"]["w1"]["vip"], "10.250.0.100");
        assert!(lab["all"]["hosts"]["w2"].get("ansible_port").is_none(), "the lab's sshd listens on 22");
        assert_eq!(lab["all"]["children"]["web"]["hosts"], serde_json::json!({"w1": null, "w2": null}));
    }

    #[test]
    fn anonymous_hosts() {
        let map = AddressMap::anonymous(3, subnet()).unwrap();
        assert_eq!(map.hosts[0], ("lab-h01".to_string(), Ipv4Addr::new(10, 250, 0, 11)));
        assert_eq!(map.hosts[2], ("lab-h03".to_string(), Ipv4Addr::new(10, 250, 0, 13)));
        assert!(AddressMap::anonymous(0, subnet()).is_err());
        assert!(AddressMap::anonymous(300, subnet()).is_err());
        let connection = LabConnection { key: "/k".into(), known_hosts: "/kh".into() };
        let lab = anonymous_inventory(&map, &connection);
        assert_eq!(lab["all"]["children"]["lab"]["hosts"]["lab-h02"]["address"], "10.250.0.12");
    }

    #[test]
    fn an_inventory_without_hosts_is_refused() {
        let empty = Inventory::parse("all: {}\n", Path::new("inventory.yaml")).unwrap();
        assert!(SourceInventory::from_inventory(empty).is_err());
    }
}
