//! The lab's view of an inventory: which hosts to boot, where each lands on the lab subnet, and the inventory
//! file a playbook run against the lab uses.
//!
//! Parsing stays minimal on purpose (host names, groups, the address var): the full inventory semantics live in
//! `crate::inventory`; the lab only needs to mirror the file's shape with its addresses moved onto the bridge.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::lab_error::LabError;
use super::lab_subnet::LabSubnet;

/// Connection variables the lab sets itself; a source inventory's own values would point at the real fleet.
const CONNECTION_VARS: &[&str] = &[
    "user",
    "ansible_user",
    "port",
    "ansible_port",
    "key",
    "ansible_ssh_private_key_file",
    "known_hosts",
    "ansible_password",
    "ansible_ssh_pass",
];

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

/// A source inventory: the YAML document, and its hosts in order of first appearance.
#[derive(Debug, Clone)]
pub struct SourceInventory {
    pub document: Value,
    pub hosts: Vec<SourceHost>,
}

impl SourceInventory {
    pub fn load(path: &Path) -> Result<Self, LabError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| LabError::io(format!("reading inventory {}", path.display()), source))?;
        Self::parse(&text).map_err(|message| LabError::Inventory { path: path.to_path_buf(), message })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let document: Value = serde_saphyr::from_str(text).map_err(|error| error.to_string())?;
        let Value::Object(root) = &document else {
            return Err("expected a mapping of groups at the top (Ansible YAML inventory: `all: {hosts: ...}`)".into());
        };
        let mut hosts = Vec::new();
        let mut seen = HashSet::new();
        for (name, group) in root {
            collect_group(name, group, &mut hosts, &mut seen)?;
        }
        if hosts.is_empty() {
            return Err("the inventory has no hosts".into());
        }
        Ok(SourceInventory { document, hosts })
    }
}

fn collect_group(
    group_name: &str,
    group: &Value,
    hosts: &mut Vec<SourceHost>,
    seen: &mut HashSet<String>,
) -> Result<(), String> {
    let group = match group {
        Value::Null => return Ok(()),
        Value::Object(group) => group,
        _ => {
            return Err(format!("group `{group_name}`: expected a mapping with hosts/children/vars"));
        }
    };
    match group.get("hosts") {
        None | Some(Value::Null) => {}
        Some(Value::Object(members)) => {
            for (name, vars) in members {
                let address = host_address(vars)
                    .map_err(|message| format!("host `{name}` in group `{group_name}`: {message}"))?;
                if seen.insert(name.clone()) {
                    hosts.push(SourceHost { name: name.clone(), address });
                } else if let Some(address) = address {
                    let known = hosts.iter_mut().find(|host| &host.name == name).expect("seen host");
                    known.address.get_or_insert(address);
                }
            }
        }
        Some(_) => {
            return Err(format!("group `{group_name}`: `hosts` must be a mapping of host names"));
        }
    }
    match group.get("children") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(children)) => {
            children.iter().try_for_each(|(name, child)| collect_group(name, child, hosts, seen))
        }
        Some(_) => Err(format!("group `{group_name}`: `children` must be a mapping of group names")),
    }
}

fn host_address(vars: &Value) -> Result<Option<Ipv4Addr>, String> {
    let Value::Object(vars) = vars else {
        return Ok(None);
    };
    let Some(value) = vars.get("ansible_host").or_else(|| vars.get("address")) else {
        return Ok(None);
    };
    match value {
        // A DNS name cannot be kept in the lab: the host gets an allocated address instead.
        Value::String(text) => Ok(text.parse().ok()),
        _ => Err(format!("address `{value}` is not a string")),
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

/// The lab inventory for a source inventory: same groups and vars, addresses on the lab subnet.
pub fn lab_inventory(source: &SourceInventory, map: &AddressMap, connection: &LabConnection) -> Value {
    let mut document = source.document.clone();
    map.map_value(&mut document);
    if let Value::Object(root) = &mut document {
        for group in root.values_mut() {
            set_host_addresses(group, map);
        }
    }
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

fn set_host_addresses(group: &mut Value, map: &AddressMap) {
    let Value::Object(group) = group else { return };
    if let Some(Value::Object(vars)) = group.get_mut("vars") {
        CONNECTION_VARS.iter().for_each(|var| {
            vars.shift_remove(*var);
        });
    }
    if let Some(Value::Object(hosts)) = group.get_mut("hosts") {
        for (name, vars) in hosts.iter_mut() {
            let Some(address) = map.address_of(name) else {
                continue;
            };
            if !vars.is_object() {
                *vars = Value::Object(Map::new());
            }
            let vars = vars.as_object_mut().expect("made an object");
            CONNECTION_VARS.iter().for_each(|var| {
                vars.shift_remove(*var);
            });
            let key = if vars.contains_key("ansible_host") { "ansible_host" } else { "address" };
            vars.insert(key.to_string(), Value::String(address.to_string()));
        }
    }
    if let Some(Value::Object(children)) = group.get_mut("children") {
        children.values_mut().for_each(|child| set_host_addresses(child, map));
    }
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

    fn subnet() -> LabSubnet {
        LabSubnet::parse("10.250.0.0/24").unwrap()
    }

    #[test]
    fn a_running_lab_maps_the_source_addresses_and_subnets() {
        let source = SourceInventory::parse(
            "all:\n  hosts:\n    a: {ansible_host: 172.31.3.101}\n    b: {ansible_host: 172.31.3.102}\n  vars:\n    vip: 172.31.3.188\n",
        )
        .unwrap();
        let running =
            vec![("a".to_string(), Ipv4Addr::new(10, 250, 0, 101)), ("b".into(), Ipv4Addr::new(10, 250, 0, 12))];
        let map = AddressMap::running(running, &source.hosts, subnet());
        assert_eq!(map.map_text("vip 172.31.3.188, b 172.31.3.102"), "vip 10.250.0.188, b 10.250.0.12");
        assert_eq!(map.map_text("elsewhere 172.31.4.1"), "elsewhere 172.31.4.1");
    }

    #[test]
    fn collects_hosts_in_order_with_addresses() {
        let inventory = SourceInventory::parse(INVENTORY).unwrap();
        let names: Vec<_> = inventory.hosts.iter().map(|host| host.name.as_str()).collect();
        assert_eq!(names, ["m1", "m2", "n1", "n2"]);
        assert_eq!(inventory.hosts[0].address, Some(Ipv4Addr::new(172, 31, 3, 101)));
        assert_eq!(inventory.hosts[3].address, None);
    }

    #[test]
    fn keeps_host_part_and_allocates_on_clash_or_absence() {
        let inventory = SourceInventory::parse(INVENTORY).unwrap();
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
        let inventory = SourceInventory::parse(INVENTORY).unwrap();
        let map = AddressMap::new(&inventory.hosts, subnet()).unwrap();
        assert_eq!(map.map_text("vip 172.31.3.188/24"), "vip 10.250.0.188/24");
        assert_eq!(map.map_text("172.31.3.104 172.31.3.105"), "10.250.0.104 10.250.0.105");
        assert_eq!(map.map_text("8.8.8.8 and 1.2.3.4.5"), "8.8.8.8 and 1.2.3.4.5");
        // n1's own source address maps to where n1 went, not to its host part.
        assert_eq!(map.map_text("10.9.9.102"), "10.250.0.10");
        assert_eq!(map.map_text("10.9.9.7"), "10.250.0.7");
    }

    #[test]
    fn writes_the_lab_inventory() {
        let inventory = SourceInventory::parse(INVENTORY).unwrap();
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
        let masters = &lab["all"]["children"]["masters"];
        assert_eq!(masters["hosts"]["m1"]["ansible_host"], "10.250.0.101");
        assert_eq!(masters["hosts"]["m2"]["address"], "10.250.0.102");
        assert_eq!(masters["vars"]["peers"][1], "10.250.0.102");
        assert_eq!(masters["vars"]["listen"], "10.250.0.104 10.250.0.105");
        let nodes = &lab["all"]["children"]["nodes"];
        assert_eq!(nodes["hosts"]["n1"]["address"], "10.250.0.10");
        assert_eq!(nodes["hosts"]["n2"]["address"], "10.250.0.11");
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
    fn rejects_bad_shapes() {
        assert!(SourceInventory::parse("- a\n- b\n").is_err());
        assert!(SourceInventory::parse("all:\n  hosts: [a, b]\n").is_err());
        assert!(SourceInventory::parse("all: {}\n").is_err());
    }
}
