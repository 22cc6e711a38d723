//! TEMPORARY minimal inventory so the engine can be built while the real loader is written on its branch.
//! Replaced wholesale by the `inventory` branch.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InventoryError(pub String);

#[derive(Debug, Clone)]
pub struct Connection {
    pub address: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub key: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub become_: bool,
    pub become_user: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub vars: IndexMap<String, Value>,
    pub groups: Vec<String>,
    pub connection: Connection,
}

#[derive(Debug)]
pub struct Inventory {
    path: PathBuf,
    hosts: Vec<Host>,
    groups: IndexMap<String, Vec<String>>,
    all_vars: IndexMap<String, Value>,
    extra: IndexMap<String, Value>,
}

impl Inventory {
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|e| InventoryError(format!("{}: {e}", path.display())))?;
        Self::parse(&text, path)
    }
    pub fn parse(source: &str, path: &Path) -> Result<Inventory, InventoryError> {
        let root: Value = serde_saphyr::from_str(source).map_err(|e| InventoryError(e.to_string()))?;
        let mut inv = Inventory {
            path: path.to_path_buf(),
            hosts: vec![],
            groups: IndexMap::new(),
            all_vars: IndexMap::new(),
            extra: IndexMap::new(),
        };
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        fn walk(inv: &mut Inventory, name: &str, g: &Value, parents: &[String], vars: &IndexMap<String, Value>, dir: &Path) {
            let mut vars = vars.clone();
            if let Some(Value::Object(v)) = g.get("vars") {
                for (k, x) in v { vars.insert(k.clone(), x.clone()); }
            }
            let mut chain = parents.to_vec();
            if name != "all" { chain.push(name.to_string()); }
            inv.groups.entry(name.to_string()).or_default();
            if let Some(Value::Object(hosts)) = g.get("hosts") {
                for (h, hv) in hosts {
                    for c in &chain { let e = inv.groups.entry(c.clone()).or_default(); if !e.contains(h) { e.push(h.clone()); } }
                    let mut merged = vars.clone();
                    if let Value::Object(o) = hv { for (k, x) in o { merged.insert(k.clone(), x.clone()); } }
                    let existing = inv.hosts.iter_mut().find(|x| &x.name == h);
                    match existing {
                        Some(host) => { for (k, x) in merged { host.vars.insert(k, x); } for c in &chain { if !host.groups.contains(c) { host.groups.push(c.clone()); } } }
                        None => inv.hosts.push(Host { name: h.clone(), vars: merged, groups: chain.clone(), connection: Connection { address: String::new(), user: None, port: None, key: None, known_hosts: None, become_: false, become_user: None } }),
                    }
                }
            }
            if let Some(Value::Object(children)) = g.get("children") {
                for (c, cv) in children { walk(inv, c, cv, &chain, &vars, dir); }
            }
        }
        let all = root.get("all").cloned().unwrap_or(Value::Null);
        if let Some(Value::Object(v)) = all.get("vars") { inv.all_vars = v.clone().into_iter().collect(); }
        walk(&mut inv, "all", &all, &[], &IndexMap::new(), &dir);
        for h in &mut inv.hosts { h.connection = connection(&h.name, &h.vars, &dir); }
        Ok(inv)
    }
    pub fn apply_extra_vars(&mut self, extra: &IndexMap<String, Value>) {
        for h in &mut self.hosts { for (k, v) in extra { h.vars.insert(k.clone(), v.clone()); } }
        self.extra.extend(extra.clone());
    }
    pub fn hosts(&self) -> impl Iterator<Item = &Host> { self.hosts.iter() }
    pub fn host(&self, name: &str) -> Option<&Host> { self.hosts.iter().find(|h| h.name == name) }
    pub fn group_names(&self) -> Vec<&str> { self.groups.keys().map(|s| s.as_str()).collect() }
    pub fn group_hosts(&self, group: &str) -> Option<Vec<&Host>> {
        if group == "all" { return Some(self.hosts.iter().collect()); }
        let names = self.groups.get(group)?;
        Some(self.hosts.iter().filter(|h| names.contains(&h.name)).collect())
    }
    pub fn global_vars(&self) -> IndexMap<String, Value> { let mut v = self.all_vars.clone(); v.extend(self.extra.clone()); v }
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, InventoryError> {
        let mut out = vec![];
        for item in pattern.split(',') {
            if let Some(hs) = self.group_hosts(item) { for h in hs { if !out.contains(&h.name) { out.push(h.name.clone()); } } }
            else if self.host(item).is_some() { out.push(item.to_string()); }
            else { return Err(InventoryError(format!("no host or group matches {item}"))); }
        }
        Ok(out)
    }
    pub fn path(&self) -> &Path { &self.path }
}

fn connection(name: &str, vars: &IndexMap<String, Value>, dir: &Path) -> Connection {
    let s = |keys: &[&str]| keys.iter().find_map(|k| vars.get(*k)).and_then(|v| match v { Value::String(s) => Some(s.clone()), Value::Number(n) => Some(n.to_string()), Value::Bool(b) => Some(b.to_string()), _ => None });
    let p = |x: String| { let p = PathBuf::from(x); if p.is_absolute() { p } else { dir.join(p) } };
    Connection {
        address: s(&["address", "ansible_host"]).unwrap_or_else(|| name.to_string()),
        user: s(&["user", "ansible_user"]),
        port: s(&["port", "ansible_port"]).and_then(|p| p.parse().ok()),
        key: s(&["key", "ansible_ssh_private_key_file"]).map(p),
        known_hosts: s(&["known_hosts"]).map(p),
        become_: s(&["become", "ansible_become"]).map(|b| b == "true" || b == "yes").unwrap_or(false),
        become_user: None,
    }
}

pub fn parse_extra_vars(arg: &str, _cwd: &Path) -> Result<IndexMap<String, Value>, InventoryError> {
    let mut out = IndexMap::new();
    for pair in arg.split_whitespace() {
        let (k, v) = pair.split_once('=').ok_or_else(|| InventoryError(format!("bad extra var {pair}")))?;
        out.insert(k.to_string(), Value::String(v.to_string()));
    }
    Ok(out)
}
